"""Engine against plain pywhispercpp, in one run (random-weight models of the real shapes).

Run: python benchmarks engine [--archs tiny.en,base.en] [--repeat 5]

Prints, per model shape:
  - Engine() constructor return time and time until ready (load + warm-up);
  - the first transcription after ready vs the steady state;
  - steady-state latency of lumina accurate, lumina fast and pywhispercpp Model.transcribe
    on 1/2/5/10 s of audio (medians), with the ratios;
  - the largest asyncio event-loop stall while a model loads and transcribes;
  - peak RSS of a process that loads the model and transcribes (per quantization).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


import numpy as np
from pywhispercpp.model import Model

import lumina
from benchmarks._helpers import max_loop_stall, median_time, model_path
from lumina.testing import speechlike

THREADS = 2
DURATIONS = (1, 2, 5, 10)


def startup(path: Path) -> tuple[float, float, float, float]:
    start = time.perf_counter()
    engine = lumina.Engine(path, threads=THREADS)
    constructed = time.perf_counter() - start
    engine.wait_ready()
    ready = time.perf_counter() - start
    audio = speechlike(2)
    first = median_time(lambda: engine.transcribe(audio), 1)
    steady = median_time(lambda: engine.transcribe(audio), 3)
    engine.close()
    return constructed, ready, first, steady


def latency_table(path: Path, repeat: int) -> list[tuple[int, float, float, float]]:
    """Median latency of plain pywhispercpp, lumina accurate and lumina fast per audio length.

    The three are run in turn within each repetition, so drift in the
    machine's speed affects all of them alike.
    """
    engine = lumina.Engine(path, threads=THREADS)
    engine.wait_ready()
    plain = Model(str(path), n_threads=THREADS, print_progress=False)
    rows = []
    for seconds in DURATIONS:
        audio = speechlike(seconds)
        plain.transcribe(audio)  # warm
        contenders = (lambda: plain.transcribe(audio), lambda: engine.transcribe(audio),
                      lambda: engine.transcribe(audio, speed="fast"))
        times: list[list[float]] = [[], [], []]
        for _ in range(repeat):
            for i, run in enumerate(contenders):
                start = time.perf_counter()
                run()
                times[i].append(time.perf_counter() - start)
        rows.append((seconds, *(statistics.median(t) for t in times)))
    engine.close()
    return rows


def cache_savings(path: Path, repeat: int) -> tuple[float, float, float]:
    """Median seconds of a model run, an exact cache hit and a verified fuzzy hit (same clip, +3 dB)."""
    cache = lumina.PhraseCache()
    engine = lumina.Engine(path, threads=THREADS, cache=cache)
    engine.wait_ready()
    audio = speechlike(2)
    louder = audio * np.float32(10 ** (3 / 20))
    runs = []
    for _ in range(repeat):  # a miss each time: the model runs and fills the cache
        cache.clear()
        start = time.perf_counter()
        engine.transcribe(audio)
        runs.append(time.perf_counter() - start)
    model_s = statistics.median(runs)
    exact = [engine.transcribe(audio) for _ in range(repeat)]
    # A fuzzy match costs a verification decode; on random weights it may also be rejected
    # (then the model runs): only verified hits are timed (nan if none; compare_cache.py has more).
    fuzzy = [t for t in (engine.transcribe(louder) for _ in range(repeat)) if t.origin == "cache-verified"]
    assert all(t.origin == "cache-exact" for t in exact), "expected exact cache hits"
    engine.close()
    return (model_s, statistics.median(t.timings.total for t in exact),
            statistics.median(t.timings.total for t in fuzzy) if fuzzy else float("nan"))


# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child
# started by this (large) process would report the parent's peak.
PEAK_RSS_CHILD = """
import sys, numpy as np, lumina
e = lumina.Engine(sys.argv[1], threads=2); e.wait_ready()
e.transcribe(np.zeros(16000 * 5, np.float32) + 0.01)
hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]
print(int(hwm.split()[1]) * 1024)
"""

PLAIN_RSS_CHILD = """
import sys, numpy as np
from pywhispercpp.model import Model
m = Model(sys.argv[1], n_threads=2, print_progress=False)
m.transcribe(np.zeros(16000 * 5, np.float32) + 0.01)
hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]
print(int(hwm.split()[1]) * 1024)
"""


def peak_rss(path: Path, child: str = PEAK_RSS_CHILD) -> int:
    # From a neutral folder: the child imports the installed lumina, never a checkout's tree.
    out = subprocess.run([sys.executable, "-c", child, str(path)], check=True,
                         capture_output=True, text=True, cwd=tempfile.gettempdir()).stdout
    return int(out.split()[-1])


def main(argv: list[str] | None = None) -> int | None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--archs", default="tiny.en,base.en")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the numbers here")
    parser.add_argument("--rss-only", action="store_true", help="only the peak RSS table")
    args = parser.parse_args(argv)
    report = {}
    for arch in ([] if args.rss_only else args.archs.split(",")):
        path = model_path(arch)
        constructed, ready, first, steady = startup(path)
        print(f"\n== {arch} (f16, {THREADS} threads)")
        print(f"Engine() returns in {constructed * 1000:.2f} ms; ready (load + warm-up) after {ready * 1000:.0f} ms")
        print(f"first transcription after ready {first * 1000:.0f} ms vs steady state {steady * 1000:.0f} ms "
              f"(ratio {first / steady:.2f})")
        rows = latency_table(path, args.repeat)
        print(f"{'audio':>6} {'pywhispercpp':>13} {'accurate':>9} {'acc/plain':>10} {'fast':>8} {'plain/fast':>11}")
        for seconds, t_plain, t_acc, t_fast in rows:
            print(f"{seconds:>5}s {t_plain * 1000:>11.0f}ms {t_acc * 1000:>7.0f}ms {t_acc / t_plain:>10.3f} "
                  f"{t_fast * 1000:>6.0f}ms {t_plain / t_fast:>10.2f}x")
        stall = max_loop_stall(path)
        print(f"largest event-loop stall while loading and transcribing: {stall * 1000:.1f} ms")
        model_s, exact_s, fuzzy_s = cache_savings(path, args.repeat)
        print(f"phrase cache, 2 s clip: model run {model_s * 1000:.0f} ms, exact hit {exact_s * 1000:.2f} ms, "
              f"verified fuzzy hit (+3 dB) {fuzzy_s * 1000:.2f} ms: {model_s - fuzzy_s:.3f} s saved per hit")
        report[arch] = dict(constructor_s=constructed, ready_s=ready, first_s=first, steady_s=steady,
                            latency=rows, loop_stall_s=stall, cache=(model_s, exact_s, fuzzy_s))
    print("\npeak RSS (VmHWM after load + one 5 s transcription, fresh process each)")
    print(f"  {'model':<8} {'ftype':<5} {'lumina':>8} {'pywhispercpp':>13}")
    for arch, ftype in (("tiny.en", "f16"), ("tiny.en", "q8_0"), ("base.en", "f16"), ("base.en", "q8_0")):
        rss = peak_rss(model_path(arch, ftype))
        plain = peak_rss(model_path(arch, ftype), PLAIN_RSS_CHILD)
        print(f"  {arch:<8} {ftype:<5} {rss / 1e6:6.0f} MB {plain / 1e6:10.0f} MB")
        report.setdefault("peak_rss", {})[f"{arch}-{ftype}"] = (rss, plain)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))

