"""Fast decodes on a busy machine: OpenMP wait policies and thread counts, in one run.

Run: python benchmarks threads [--arch tiny.en] [--repeat 9]
         [--seconds 1.5] [--conditions idle,loaded,pinned]
         [--real tiny.en-q8_0 [--cache DIR]]   (a real model on a real sentence)

ggml runs every graph on an OpenMP team that meets at a barrier after each
operation. GNU OpenMP reads how a waiting worker waits once, when the library
loads, so every contender is its own worker process with its own environment:

  spin      GOMP_SPINCOUNT=300000: libgomp's default when nothing is set (spin
            about 3 ms at a barrier, then sleep); what lumina did before
  passive   OMP_WAIT_POLICY=passive: sleep at once; lumina's default before
  spin1k    GOMP_SPINCOUNT=1000: a short spin, then sleep
  spin500   OMP_WAIT_POLICY=passive, GOMP_SPINCOUNT=500 (about 5 us, libgomp's
            100000 spins per ms): lumina's default now. A decoder step of a
            small model is a few hundred operations of microseconds each, with a
            barrier after each; sleeping at every one of them cost a real
            tiny.en decode a third of its decoder time

each with 1 and 2 threads, plus

  adaptive  passive, with the thread count chosen before each call from the
            CPU time other processes used on this process's CPUs during the
            last 100 ms (/proc/stat minus this process): one thread fewer per
            busy core. The 100 ms sample is taken outside the timed part.

Conditions: ``idle`` adds nothing (other processes on the machine are what
they are: the load average is printed); ``loaded`` runs a Python busy loop in
another process; ``pinned`` pins that loop to the last allowed CPU. Within a
condition the contenders take turns, call by call, and medians are reported:
wall time and CPU time of the worker per decode (CPU time counts spinning).
Every call decodes the same clip with lumina's fast path (one greedy pass): a
speech-like random signal, or with ``--real`` one sentence of real speech
(hibari-tts) read by a real model from the store in ``--cache``, so that the
decoder runs for as many tokens as real speech takes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._helpers import child_command, model_path

POLICIES = {"spin": {"GOMP_SPINCOUNT": "300000"}, "passive": {"OMP_WAIT_POLICY": "passive"},
            "spin1k": {"GOMP_SPINCOUNT": "1000"},
            "spin500": {"OMP_WAIT_POLICY": "passive", "GOMP_SPINCOUNT": "500"}}
SAMPLE_S = 0.1


# --------------------------------------------------------------------------- worker side

def _cpu_jiffies(cpus: set[int]) -> int:
    """Busy jiffies (everything but idle and iowait) of these CPUs since boot."""
    busy = 0
    with open("/proc/stat") as stat:
        for line in stat:
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                values = [int(v) for v in fields[:8]]
                busy += sum(values) - values[3] - values[4]
    return busy


def others_busy_cores(window: float = SAMPLE_S) -> float:
    """Cores' worth of CPU that other processes used on our CPUs during ``window`` seconds."""
    cpus = os.sched_getaffinity(0)
    hz = os.sysconf("SC_CLK_TCK")
    wall0, own0, busy0 = time.perf_counter(), time.process_time(), _cpu_jiffies(cpus)
    time.sleep(window)
    wall, own, busy = time.perf_counter() - wall0, time.process_time() - own0, _cpu_jiffies(cpus) - busy0
    return max(0.0, (busy / hz - own) / wall)


def adaptive_threads(max_threads: int) -> int:
    free = len(os.sched_getaffinity(0)) - round(others_busy_cores())
    return max(1, min(max_threads, free))


def clip(seconds: float, cache: str | None):
    """The decoded clip: speech-like noise of ``seconds``, or (``cache`` given) a real sentence."""
    import numpy as np

    if cache is None:
        from lumina.testing import speechlike
        return np.ascontiguousarray(speechlike(seconds))
    from lumina.evaluation import HIBARI_VOICES, SENTENCES, SpeechRenderer, clips
    return np.ascontiguousarray(clips(SpeechRenderer(cache), SENTENCES[:1], HIBARI_VOICES[:1])[0].audio)


def worker(model: str, seconds: float, cache: str | None = None) -> None:
    """Read thread counts (or "adaptive:N") on stdin; answer [wall_s, cpu_s, threads] per decode."""
    from lumina.asr.backend import DecodeOptions, WhisperModel
    from lumina.asr.speed import fast_options

    engine = WhisperModel(model)
    audio = clip(seconds, cache)
    for line in sys.stdin:
        ask = line.strip()
        threads = adaptive_threads(int(ask.split(":")[1])) if ask.startswith("adaptive") else int(ask)
        options = fast_options(DecodeOptions(n_threads=threads, language="en"), len(audio),
                               engine.n_audio_ctx)[0]
        wall, cpu = time.perf_counter(), time.process_time()
        engine.run(audio, options)
        print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu, threads]), flush=True)
    engine.close()


# --------------------------------------------------------------------------- driver side

class Worker:
    def __init__(self, model: str, seconds: float, env: dict[str, str], cache: str | None) -> None:
        environ = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
        environ.update(env)
        real = ["--real", "clip", "--cache", cache] if cache else []
        self.proc = subprocess.Popen(child_command("threads", "--worker", model, str(seconds), *real),
                                     env=environ, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)

    def decode(self, ask: str) -> list[float]:
        self.proc.stdin.write(ask + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def start_load(condition: str) -> subprocess.Popen | None:
    if condition == "idle":
        return None
    code = "while True: pass"
    if condition == "pinned":
        last = max(os.sched_getaffinity(0))
        code = f"import os; os.sched_setaffinity(0, {{{last}}})\n" + code
    load = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(0.5)
    return load


def run(model: str, seconds: float, repeat: int, conditions: list[str], cache: str | None = None) -> dict:
    workers = {name: Worker(model, seconds, env, cache) for name, env in POLICIES.items()}
    contenders = [(f"{name} {n}t", workers[name], str(n)) for name in POLICIES for n in (1, 2)]
    contenders.append(("adaptive", workers["passive"], "adaptive:2"))
    for _, w, ask in contenders:  # first calls pay first-use costs
        w.decode(ask)
    results = {}
    try:
        for condition in conditions:
            load = start_load(condition)
            try:
                samples = {label: [] for label, _, _ in contenders}
                for _ in range(repeat):
                    for label, w, ask in contenders:
                        samples[label].append(w.decode(ask))
                results[condition] = {"loadavg": os.getloadavg()[0], "contenders": samples}
            finally:
                if load is not None:
                    load.kill()
                    load.wait()
    finally:
        for w in workers.values():
            w.close()
    return results


def report(results: dict) -> None:
    for condition, data in results.items():
        print(f"\n{condition} (load average {data['loadavg']:.2f} at the end; "
              f"{len(os.sched_getaffinity(0))} CPUs)")
        print(f"  {'contender':<12} {'wall ms':>8} {'cpu ms':>8} {'threads':>8} {'vs 1 thread':>12}")
        walls = {label: statistics.median(s[0] for s in v) for label, v in data["contenders"].items()}
        for label, v in data["contenders"].items():
            cpu = statistics.median(s[1] for s in v)
            threads = statistics.mode(s[2] for s in v)
            one = walls[f"{label.split()[0]} 1t"] if " " in label else walls["passive 1t"]
            print(f"  {label:<12} {walls[label] * 1000:8.0f} {cpu * 1000:8.0f} {threads:8d} "
                  f"{walls[label] / one:11.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--arch", default="tiny.en")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=1.5, help="clip length (default 1.5 s)")
    parser.add_argument("--conditions", default="idle,loaded,pinned")
    parser.add_argument("--real", metavar="NAME",
                        help="a real model of the store in --cache (tiny.en, tiny.en-q8_0) on a real "
                             "sentence, instead of --arch's random weights on --seconds of noise")
    parser.add_argument("--cache", default=os.environ.get("LUMINA_TEST_CACHE", "/tmp/lumina-eval"),
                        help="--real's model store and speech cache (as `benchmarks accuracy`)")
    parser.add_argument("--json", help="also write the raw samples here")
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], float(args.worker[1]), args.cache if args.real else None)
        return 0
    cache = None
    if args.real:
        from lumina.models import ModelStore
        model = str(ModelStore(Path(args.cache) / "models", offline=True).find(args.real))
        cache = args.cache
        print(f"{args.real} (real), one hibari-tts sentence, fast path; {args.repeat} rounds per condition")
    else:
        model = str(model_path(args.arch))
        print(f"{args.arch}, {args.seconds} s clip, fast path; {args.repeat} rounds per condition")
    results = run(model, args.seconds, args.repeat, args.conditions.split(","), cache)
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0

