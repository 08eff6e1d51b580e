"""Streaming latency and CPU: lumina.Stream (eager end of utterance) vs its previous schedule, the naive loop and faster-whisper.

Run:  python benchmarks stream [--arch tiny.en] [--threads 2]
      [--utterances 4] [--repeat 1] [--no-naive] [--no-peer] [--no-unsure]

The signal: 1 s of silence, then utterances of espeak-ng speech (edges trimmed by
sox, so onsets and ends are known to the sample) separated by 1.5 s of silence,
then 10 s of silence. A feeder thread pushes it through ``Stream.feed`` in 20 ms
chunks at real-time pace, like a microphone, and notes when each chunk arrived.
Streams run with default settings (``Stream(engine)``), on a random-weight
model of the ``--arch`` shape with ``--threads`` threads.

The models: ``lumina.testing.make_model`` with realistic decode lengths (about three
tokens per second of sound) when it offers them (``lengths="realistic"``), and the
same with ``decoding="unsure"`` (greedy decodes fail whisper.cpp's log-probability
threshold, so its defaults retry them at higher temperatures). Each option is used
only if this checkout's ``make_model`` has it; the script says when it does not.

Rows (the issue's table), per pipeline, medians over utterances and repetitions:

- onset -> 1st partial: from the arrival of the first speech sample to the first
  partial of the utterance (goal <= 250 ms);
- end -> whole: from the arrival of the last speech sample to the first event that
  covers the whole utterance, a complete partial or the final (goal <= 150 ms);
- end -> Final (goals: accurate <= 600 ms, ``final_speed="fast"`` <= 200 ms);
- CPU while listening to silence (process CPU time over wall time, 100% = one core),
  and during speech;
- RTF: time spent decoding and segmenting over audio time, at real-time pace
  (goal <= 0.1 with fast finals);
- splits: Finals beyond one per spoken utterance (0 is right);
- speculations: taken / discarded because speech resumed.

Contenders, interleaved within each repetition:

- lumina, eager (the default now), accurate and fast finals, confident and unsure model;
- lumina, eager, fast finals, with a model that punctuates: the same engine, its
  text ended with a period once the audio reaches the end of a spoken utterance
  (what a trained model does; random weights never emit punctuation, so the
  adaptive hang-over otherwise has no sentence ends to act on);
- before: lumina with ``eager=False``, the schedule of issue 5 (first partial one
  step after the onset, the final decoded after a fixed 300 ms hang-over);
- the naive loop a user writes with pywhispercpp alone: every 250 ms
  ``Model.transcribe`` on the growing buffer (the last 30 s at most);
- faster-whisper, the pipeline RealtimeSTT and WhisperLive use (its own VAD end,
  then the whole utterance): ``benchmarks/peer_stream.py``'s ``run_peer`` on the
  same weights, when that module and faster-whisper are available (the script
  prints why not otherwise).

Last, split errors on sentences with a pause inside (:mod:`lumina.evaluation.paused`'s
corpus: espeak-ng halves with 300-600 ms of silence between them), fixed 300 ms
against the adaptive hang-over, with an oracle engine that ends a mid-sentence
fragment with nothing, a comma, an ellipsis or a stray period: counts, not timings.

Timings move with the machine's load; run it on a quiet machine. ``--stand-in
FAST_MS,ACCURATE_MS`` replaces the model by an engine that sleeps that long per
fast and accurate decode (abortable, using no CPU): the latencies of the
schedule itself, which a busy machine distorts much less.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import statistics
import tempfile
import threading
import time

import numpy as np

from benchmarks import peer_stream
from lumina import Engine, Final, Partial, Stream, StreamOptions, TranscriptionAborted
from lumina.asr.transcript import Segment, Timings, Token, Transcript
from lumina.audio.convert import SAMPLE_RATE as SR
from lumina.evaluation.paused import PAUSES, count_utterances, paused_sentences
from lumina.evaluation.utterances import silence, speak
from lumina.testing import make_model

CHUNK = 320
STEP = 0.25
PHRASES = ["Open the pod bay doors please", "Turn on the kitchen lights",
           "What is the weather like tomorrow in Paris", "Call mom"]
GOALS = "goals: onset->1st partial <= 250 ms; end->whole <= 150 ms; end->Final accurate <= 600 ms, " \
        "fast <= 200 ms; RTF (fast finals) <= 0.1"


CONTENDERS = [   # (name, model, options of run_lumina)
    ("lumina eager, accurate finals", "confident", {"final_speed": "accurate"}),
    ("lumina eager, final_speed='fast' (default)", "confident", {}),
    ("lumina eager, fast, punctuating model", "confident", {"final_speed": "fast", "punctuate": True}),
    ("before: eager=False, accurate finals", "confident", {"eager": False, "final_speed": "accurate"}),
    ("before: eager=False, final_speed='fast'", "confident", {"eager": False, "final_speed": "fast"}),
    ("lumina eager, accurate finals, unsure model", "unsure", {"final_speed": "accurate"}),
    ("lumina eager, final_speed='fast', unsure model", "unsure", {"final_speed": "fast"}),
    ("before: eager=False, fast, unsure model", "unsure", {"eager": False, "final_speed": "fast"}),
]


def build_signal(tmp: pathlib.Path, n: int):
    """(audio, [(onset, end)] in samples, index where the trailing silence starts)."""
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


class Punctuating:
    """An engine whose text ends with a period once the audio reaches the end of a spoken utterance.

    It runs the real engine (so every cost is real) and appends a "." token
    when the window it was given ends at most 60 ms before a true end (sox's):
    a stand-in for a trained model, which punctuates a finished sentence.
    """

    def __init__(self, engine, audio: np.ndarray, spans) -> None:
        self.engine = engine
        self.spans = spans
        self._onsets = {audio[a:a + 16].tobytes(): a for a, _ in spans}
        self._audio = audio

    def _start(self, window: np.ndarray) -> int:
        j = int(np.flatnonzero(window)[0])
        start = self._onsets.get(window[j:j + 16].tobytes())
        if start is None:    # not an utterance's first sound (a split): search the signal
            start = next(i for i in np.flatnonzero(self._audio == window[j])
                         if np.array_equal(self._audio[i:i + 16], window[j:j + 16]))
        return int(start) - j

    is_ready, device = True, "cpu"

    def close(self) -> None:
        pass

    def transcribe_samples(self, audio, options, **hooks):
        t = self.engine.transcribe_samples(audio, options, **hooks)
        end = self._start(audio) + len(audio)
        if not t.segments or not any(a < end and end >= b - round(0.06 * SR) for a, b in self.spans):
            return t
        last = t.segments[-1]
        last = dataclasses.replace(last, text=last.text + ".",
                                   tokens=(*last.tokens, Token(13, ".", 1.0, 0.0, 0.0)))
        return dataclasses.replace(t, text=t.text + ".", segments=(*t.segments[:-1], last))


class StandIn:
    """An engine that sleeps like a model: ``fast`` s per fast decode, ``accurate`` s per accurate one."""

    is_ready, device = True, "cpu"

    def __init__(self, fast: float, accurate: float) -> None:
        self.fast, self.accurate = fast, accurate

    def close(self) -> None:
        pass

    def transcribe_samples(self, audio, options, *, should_abort=None, on_segment=None,
                           on_candidate=None):
        until = time.monotonic() + (self.fast if options.speed == "fast" else self.accurate)
        while time.monotonic() < until:
            if should_abort is not None and should_abort():
                raise TranscriptionAborted("aborted")
            time.sleep(0.002)
        tokens = (Token(50, " w", 1.0, 0.0, 0.0),)
        return Transcript("w", (Segment(0.0, len(audio) / SR, "w", tokens),), "en", "cpu", Timings())


def feed_in_real_time(engine, audio: np.ndarray, quiet_from: int, options: dict):
    """One Stream over ``audio`` pushed at real-time pace by a :class:`Feeder`.

    Returns (every event with its ``time.monotonic()`` arrival, the feeder: push times and CPU
    marks, the stream's stats).
    """
    events: list[tuple[float, object]] = []
    stream = Stream(engine, options=StreamOptions(**options),
                    on_event=lambda e: events.append((time.monotonic(), e)))
    feeder = Feeder(audio, stream.feed, quiet_from)
    stream.start()
    feeder.run()
    stream.close_input()
    stream.join()
    return events, feeder, stream.stats


def run_lumina(engine, audio, spans, quiet_from, punctuate=False, **options):
    if punctuate:
        engine = Punctuating(engine, audio, spans)
    if not options.get("eager", True):   # the previous schedule: its fixed hang-over too
        options.setdefault("hangover", None)
    timed, feeder, stats = feed_in_real_time(engine, audio, quiet_from, options)
    events = [(t, e) for t, e in timed if isinstance(e, (Partial, Final))]   # the text's events
    finals = [(t, e) for t, e in events if isinstance(e, Final)]
    span_of = {e.utterance_id: span_index(spans, e.start, e.end) for _, e in finals}
    first, whole, end = [], [], []
    for k, (onset, stop) in enumerate(spans):
        mine = [(t, e) for t, e in events if span_of.get(e.utterance_id) == k]
        partials = [t for t, e in mine if isinstance(e, Partial)]
        done = [t for t, e in mine if isinstance(e, Final)]
        covering = [t for t, e in mine if isinstance(e, Final) or e.complete]
        first.append(partials[0] - feeder.arrival(onset) if partials else float("nan"))
        end.append(done[-1] - feeder.arrival(stop - 1) if done else float("nan"))
        whole.append(min(covering) - feeder.arrival(stop - 1) if covering else float("nan"))
    return {
        "first": first, "whole": whole, "end": end,
        "speech_cpu": feeder.cpu_percent("start", "quiet"),
        "silence_cpu": feeder.cpu_percent("quiet", "end"),
        "rtf": (stats.decode_s + stats.segment_s) / stats.audio_s,
        "splits": len(finals) - len(spans),
        "spec": (stats.speculations, stats.speculative_discarded),
    }


def span_index(spans, start: float, end: float) -> int:
    """The spoken utterance a stream utterance overlaps most."""
    overlap = [min(end * SR, b) - max(start * SR, a) for a, b in spans]
    return int(np.argmax(overlap))


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
    first, end = [], []
    for onset, stop in spans:
        first.append(next((t for t, n, _ in results if n > onset), float("nan")) - feeder.arrival(onset))
        end.append(next((t for t, n, _ in results if n >= stop), float("nan")) - feeder.arrival(stop - 1))
    silent_texts = sum(1 for t, n, text in results if n > quiet_from + SR and text.strip())
    return {"first": first, "whole": end, "end": end,
            "speech_cpu": feeder.cpu_percent("start", "quiet"),
            "silence_cpu": feeder.cpu_percent("quiet", "end"),
            "rtf": busy[0] / (len(audio) / SR), "calls": len(results), "silent_texts": silent_texts}


def run_peer_pipeline(model_path, audio, spans, threads):
    """faster-whisper's pipeline from benchmarks/peer_stream.py, or the reason it cannot run."""
    try:
        peer = peer_stream.run_peer(audio, spans, model_path, threads=threads)
    except peer_stream.PeerUnavailable as exc:
        return None, str(exc)
    return {"first": [], "whole": peer["end"], "end": peer["end"]}, None


def model_options(kind: str) -> tuple[dict, list[str]]:
    """make_model keywords for a confident or unsure model (and, always empty now, what is lacking)."""
    return {"lengths": "realistic"} | ({"decoding": "unsure"} if kind == "unsure" else {}), []


def fmt(values) -> str:
    ok = [v for v in values if v == v]
    if not ok:
        return "n/a"
    return f"{1000 * statistics.median(ok):5.0f} ms (max {1000 * max(ok):.0f})"


def merge(runs: list[dict]) -> dict:
    """Several repetitions of one contender: lists joined, numbers medianed."""
    out = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        if isinstance(values[0], list):
            out[key] = [v for vs in values for v in vs]
        elif isinstance(values[0], tuple):
            out[key] = tuple(sum(v[i] for v in values) for i in range(len(values[0])))
        else:
            out[key] = statistics.median(values)
    return out


def print_table(rows) -> None:
    print(f"\n{'pipeline':<46} {'onset->1st partial':>20} {'end->whole':>20} {'end->Final':>20} "
          f"{'CPU silence':>11} {'CPU speech':>10} {'RTF':>6} {'splits':>6} {'spec/disc':>9}")
    for name, r in rows:
        spec = "" if "spec" not in r else f"{r['spec'][0]}/{r['spec'][1]}"
        cpu = (f"{r['silence_cpu']:>10.1f}% {r['speech_cpu']:>9.1f}% {r['rtf']:>6.3f}"
               if "rtf" in r else f"{'':>11} {'':>10} {'':>6}")
        print(f"{name:<46} {fmt(r['first']):>20} {fmt(r['whole']):>20} {fmt(r['end']):>20} "
              f"{cpu} {r.get('splits', ''):>6} {spec:>9}")
    print(GOALS)


def print_split_corpus(tmp: pathlib.Path) -> None:
    pauses = (0.2, 0.25, *PAUSES)
    corpus = paused_sentences(tmp / "paused", pauses=pauses)
    print(f"\nsplit errors on {len(corpus) // len(pauses)} sentences per pause "
          "(oracle engine; Finals beyond one per sentence):")
    print(f"{'hang-over':<44}" + "".join(f"{f'{int(p * 1000)} ms':>8}" for p in pauses) + f"{'300-600':>9}")
    rows = [("fixed 300 ms (eager=False), any text", "", False)]
    rows += [(f"adaptive, fragment ends with {m or 'nothing'!r}", m, True) for m in ("", ",", "...", ".")]
    for label, mark, eager in rows:
        errors = [sum(count_utterances(s, mark, eager) - 1 for s in corpus if s.pause == p) for p in pauses]
        print(f"{label:<44}" + "".join(f"{e:>8}" for e in errors) + f"{sum(errors[2:]):>9}")


def main(argv: list[str] | None = None) -> int | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="tiny.en")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--utterances", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1, help="repetitions (contenders interleaved)")
    parser.add_argument("--no-naive", action="store_true")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--no-unsure", action="store_true")
    parser.add_argument("--stand-in", metavar="FAST_MS,ACCURATE_MS",
                        help="a sleeping stand-in engine instead of the model (schedule latency only)")
    args = parser.parse_args(argv)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="lumina-bench-stream-"))
    audio, spans, quiet_from = build_signal(tmp, args.utterances)
    lengths = ", ".join(f"{(b - a) / SR:.2f}" for a, b in spans)
    print(f"{args.arch} shape (random weights), {args.threads} threads; {len(audio) / SR:.1f} s of audio, "
          f"utterances of {lengths} s, fed at real-time pace in 20 ms chunks")

    if args.stand_in:
        fast, accurate = (float(v) / 1000 for v in args.stand_in.split(","))
        print(f"stand-in engine: {fast * 1000:.0f} ms per fast decode, {accurate * 1000:.0f} ms per accurate one")
        rows = []
        for name, _, options in CONTENDERS[:5]:
            runs = [run_lumina(StandIn(fast, accurate), audio, spans, quiet_from, **options)
                    for _ in range(args.repeat)]
            rows.append((name, merge(runs)))
        print_table(rows)
        return
    paths = {}
    for kind in ("confident", "unsure"):
        if kind == "unsure" and args.no_unsure:
            continue
        options, missing = model_options(kind)
        if kind == "unsure" and "decoding='unsure'" in missing:
            print("unsure model: not available (this checkout's lumina.testing.make_model has no "
                  "decoding='unsure'); its rows are left out")
            continue
        if missing:
            print(f"{kind} model: make_model lacks {', '.join(missing)}; using what it has")
        paths[kind] = make_model(tmp / f"{args.arch}-{kind}.bin", args.arch, **options)
        print(f"{kind} model: make_model({args.arch!r}, {', '.join(f'{k}={v!r}' for k, v in options.items())})")

    contenders = [c for c in CONTENDERS if c[1] in paths]
    engines = {kind: Engine(path, threads=args.threads) for kind, path in paths.items()}
    naive_model = None
    if not args.no_naive:
        from pywhispercpp.model import Model
        naive_model = Model(str(paths["confident"]), n_threads=args.threads, print_progress=False,
                            print_realtime=False, redirect_whispercpp_logs_to=None)
    results: dict[str, list[dict]] = {}
    try:
        for engine in engines.values():
            engine.wait_ready()
        for rep in range(args.repeat):
            for name, kind, options in contenders:
                result = run_lumina(engines[kind], audio, spans, quiet_from, **options)
                results.setdefault(name, []).append(result)
                print(f"  [{rep + 1}/{args.repeat}] {name}: splits {result['splits']}, speculations "
                      f"{result['spec'][0]} ({result['spec'][1]} discarded)", flush=True)
            if naive_model is not None:
                naive = run_naive(naive_model, audio, spans, quiet_from)
                results.setdefault("naive pywhispercpp loop", []).append(naive)
                print(f"  [{rep + 1}/{args.repeat}] naive: {naive['calls']} transcribe calls, "
                      f"{naive['silent_texts']} returned text for pure silence", flush=True)
    finally:
        for engine in engines.values():
            engine.close()
    rows = [(name, merge(runs)) for name, runs in results.items()]
    if not args.no_peer:
        peer, why = run_peer_pipeline(paths["confident"], audio, spans, args.threads)
        if peer is None:
            print(f"faster-whisper pipeline: skipped ({why})")
        else:
            rows.append(("faster-whisper pipeline (peer_stream.py)", peer))
    print_table(rows)
    print_split_corpus(tmp)

