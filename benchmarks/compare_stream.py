"""Streaming latency and CPU: lumina.Stream vs the naive pywhispercpp loop, fed at real-time pace.

Run:  PYTHONPATH=. python benchmarks/compare_stream.py [--arch tiny.en] [--threads 2] [--utterances 4]

The signal: 1 s of silence, then utterances of espeak-ng speech (1-3 s each, edges
trimmed by sox, so onsets and ends are known to the sample) separated by 1.5 s
of silence, then 10 s of silence. A feeder thread pushes it in 20 ms chunks at
real-time pace, like a microphone, and notes when each chunk arrived.

Measured per pipeline (all in the same run, on a random-weight model of the
``--arch`` shape, ``--threads`` threads):

- onset -> first partial: from the arrival of the first speech sample;
- 0.5 s -> partial: from the arrival of the 500th ms of speech to the first
  partial covering it (the goal: under 200 ms);
- end -> final: from the arrival of the last speech sample to the final
  (includes the VAD's hangover, 300 ms by default, before the end is known);
- end-hangover -> final: end -> final less the hangover, i.e. from the moment
  the VAD could know the utterance had ended (the final decode and delivery);
- CPU while listening to silence and during speech, as process CPU time over
  wall time (100% = one core);
- RTF: time spent working (decoding + VAD) over audio time at real-time pace,
  and wall time over audio time when the same audio is fed as fast as possible.

The naive loop is what a user writes with pywhispercpp alone: every 250 ms,
``Model.transcribe`` on the growing buffer (the last 30 s at most). Its
"partial" for an utterance is the first result whose input reached into the
utterance; its "final" the first result whose input covered the whole utterance.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))   # _vad_util: espeak-ng speech trimmed by sox

from lumina import Engine, Final, Partial, Segmenter, Stream  # noqa: E402
from lumina.testing import make_model  # noqa: E402

SR = 16000
CHUNK = 320
STEP = 0.25
HANGOVER_MS = 300
PHRASES = ["Open the pod bay doors please", "Turn on the kitchen lights",
           "What is the weather like tomorrow in Paris", "Call mom"]


def build_signal(tmp: pathlib.Path, n: int):
    """(audio, [(onset, end)] in samples, index where the trailing silence starts)."""
    from _vad_util import silence, speak
    parts, spans, pos = [silence(1.0)], [], SR
    for i in range(n):
        speech = speak(PHRASES[i % len(PHRASES)], tmp / f"u{i}.wav")
        spans.append((pos, pos + len(speech)))
        parts += [speech, silence(1.5)]
        pos += len(speech) + round(1.5 * SR)
    parts.append(silence(10.0))
    return np.concatenate(parts).astype(np.float32), spans, pos


class Feeder:
    """Pushes audio in 20 ms chunks at real-time pace; records CPU time at two marks."""

    def __init__(self, audio: np.ndarray, push, quiet_from: int) -> None:
        self.audio, self.push, self.quiet_from = audio, push, quiet_from
        self.t0 = 0.0
        self.cpu = {}

    def arrival(self, sample: int) -> float:
        """When sample ``sample`` was pushed (chunk ends are scheduled on a fixed clock)."""
        return self.t0 + (sample // CHUNK + 1) * CHUNK / SR

    def run(self) -> None:
        self.t0 = time.monotonic()
        self.cpu["start"] = (time.monotonic(), time.process_time())
        for i in range(0, len(self.audio), CHUNK):
            due = self.t0 + (i + CHUNK) / SR
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.push(self.audio[i:i + CHUNK])
            if i <= self.quiet_from + SR < i + CHUNK:  # 1 s into the silence: speech work is done
                self.cpu["quiet"] = (time.monotonic(), time.process_time())
        self.cpu["end"] = (time.monotonic(), time.process_time())

    def cpu_percent(self, a: str, b: str) -> float:
        (w0, c0), (w1, c1) = self.cpu[a], self.cpu[b]
        return 100 * (c1 - c0) / (w1 - w0)


def run_lumina(engine, audio, spans, quiet_from, hangover_ms=HANGOVER_MS, **options):
    events: list[tuple[float, object]] = []
    stream = Stream(engine=engine, on_event=lambda e: events.append((time.monotonic(), e)),
                    segmenter=Segmenter(hangover_ms=hangover_ms), **options)
    feeder = Feeder(audio, stream.feed, quiet_from)
    stream.start()
    feeder.run()
    stream.close_input()
    stream.join()
    stats = stream.stats
    finals = [(t, e) for t, e in events if isinstance(e, Final)]
    partials = [(t, e) for t, e in events if isinstance(e, Partial)]
    first, half, end = [], [], []
    for k, (onset, stop) in enumerate(spans):
        mine = [(t, e) for t, e in partials if e.utterance_id == k]
        first.append(mine[0][0] - feeder.arrival(onset) if mine else float("nan"))
        covering = [t for t, e in mine if e.audio_time * SR >= onset + SR // 2]
        half.append(covering[0] - feeder.arrival(onset + SR // 2) if covering else float("nan"))
        done = [t for t, e in finals if e.utterance_id == k]
        end.append(done[0] - feeder.arrival(stop - 1) if done else float("nan"))
    return {
        "utterances": len(finals), "first": first, "half": half, "end": end,
        "after_vad": [e - hangover_ms / 1000 for e in end],
        "speech_cpu": feeder.cpu_percent("start", "quiet"),
        "silence_cpu": feeder.cpu_percent("quiet", "end"),
        "rtf": (stats.decode_s + stats.segment_s) / stats.audio_s,
        "partials": len(partials), "skipped": stats.skipped_steps,
    }


def run_naive(model, audio, spans, quiet_from):
    """The naive loop: transcribe the growing buffer every 250 ms of new audio."""
    buffer: list[np.ndarray] = []
    lock = threading.Lock()
    results: list[tuple[float, int, str]] = []   # (done at, samples covered, text)
    busy = [0.0]
    finished = threading.Event()

    def push(chunk):
        with lock:
            buffer.append(chunk)

    def loop():
        covered = 0
        while True:
            with lock:
                have = sum(len(c) for c in buffer)
            if have - covered < STEP * SR:
                if finished.is_set():
                    return
                time.sleep(0.005)
                continue
            with lock:
                data = np.concatenate(buffer)[-30 * SR:]
            started = time.perf_counter()
            segments = model.transcribe(data)
            busy[0] += time.perf_counter() - started
            covered = have
            results.append((time.monotonic(), have, " ".join(s.text for s in segments)))

    feeder = Feeder(audio, push, quiet_from)
    worker = threading.Thread(target=loop)
    worker.start()
    feeder.run()
    finished.set()
    worker.join()
    first, half, end = [], [], []
    for onset, stop in spans:
        first.append(next((t for t, n, _ in results if n > onset), float("nan")) - feeder.arrival(onset))
        half.append(next((t for t, n, _ in results if n >= onset + SR // 2), float("nan"))
                    - feeder.arrival(onset + SR // 2))
        end.append(next((t for t, n, _ in results if n >= stop), float("nan")) - feeder.arrival(stop - 1))
    silent_texts = sum(1 for t, n, text in results if n > quiet_from + SR and text.strip())
    return {
        "utterances": len(spans), "first": first, "half": half, "end": end,
        "speech_cpu": feeder.cpu_percent("start", "quiet"),
        "silence_cpu": feeder.cpu_percent("quiet", "end"),
        "rtf": busy[0] / (len(audio) / SR), "partials": len(results), "skipped": 0,
        "silent_texts": silent_texts,
    }


def offline_rtf_lumina(engine, audio, hangover_ms=HANGOVER_MS, **options) -> float:
    chunks = [audio[i:i + CHUNK] for i in range(0, len(audio), CHUNK)]
    t0 = time.perf_counter()
    for _ in Stream(engine=engine, source=chunks, segmenter=Segmenter(hangover_ms=hangover_ms), **options):
        pass
    return (time.perf_counter() - t0) / (len(audio) / SR)


def fmt(values) -> str:
    ok = [v for v in values if v == v]
    if not ok:
        return "n/a"
    return f"{1000 * statistics.median(ok):6.0f} ms (max {1000 * max(ok):.0f})"


def print_table(rows) -> None:
    print(f"{'pipeline':<38} {'onset->1st partial':>22} {'0.5 s->partial':>22} {'end->final':>22} "
          f"{'end-hangover->final':>22} "
          f"{'CPU silence':>12} {'CPU speech':>11} {'RTF busy':>9} {'RTF offline':>12}")
    for name, r in rows:
        print(f"{name:<38} {fmt(r['first']):>22} {fmt(r['half']):>22} {fmt(r['end']):>22} "
              f"{fmt(r.get('after_vad', [])):>22} "
              f"{r['silence_cpu']:>11.1f}% {r['speech_cpu']:>10.1f}% "
              f"{r['rtf']:>9.3f} {r.get('offline', float('nan')):>12.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="tiny.en")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--utterances", type=int, default=4)
    parser.add_argument("--no-naive", action="store_true")
    args = parser.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="lumina-bench-stream-"))
    model_path = make_model(tmp / f"{args.arch}.bin", args.arch)
    audio, spans, quiet_from = build_signal(tmp, args.utterances)
    lengths = ", ".join(f"{(b - a) / SR:.2f}" for a, b in spans)
    print(f"model: random-weight {args.arch} (f16), {args.threads} threads; "
          f"{len(audio) / SR:.1f} s of audio, utterances of {lengths} s; VAD hangover "
          f"{HANGOVER_MS} ms (Segmenter default)")
    rows = []
    with Engine(model_path, threads=args.threads) as engine:
        engine.wait_ready()
        for name, options in (("lumina (fast partials, accurate finals)", {}),
                              ("lumina final_speed='fast'", {"final_speed": "fast"}),
                              ("lumina fast finals, hangover 150 ms",
                               {"final_speed": "fast", "hangover_ms": 150})):
            result = run_lumina(engine, audio, spans, quiet_from, **options)
            result["offline"] = offline_rtf_lumina(engine, audio, **options)
            rows.append((name, result))
            print(f"  {name}: {result['utterances']} finals, {result['partials']} partials, "
                  f"{result['skipped']} steps skipped", flush=True)
    if not args.no_naive:
        from pywhispercpp.model import Model
        model = Model(str(model_path), n_threads=args.threads, print_progress=False,
                      print_realtime=False, redirect_whispercpp_logs_to=None)
        naive = run_naive(model, audio, spans, quiet_from)
        rows.append(("naive pywhispercpp loop", naive))
        print(f"  naive: {naive['partials']} transcribe calls, {naive['silent_texts']} of them "
              "returned text for pure silence", flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
