"""whisper.cpp built for this CPU (GGML_NATIVE) against PyPI's pywhispercpp wheel, in one run.

Two Python environments with lumina installed: the baseline holds PyPI's pywhispercpp wheel
(its CPU code stops at AVX2), the contender a build of ``vendor/build-pywhispercpp.sh native``
(``-march=native``: AVX-512, VNNI, BF16 where the CPU has them). One worker process runs in
each, importing that environment's lumina and pywhispercpp; a second worker of the baseline
runs too, so that the table shows what the same build measures against itself (the noise of
a shared machine). In every round each worker transcribes the same clip once, in an order
that rotates from round to round, so drift in the machine's speed touches all of them alike.

Each call is ``Engine.transcribe(clip)`` at the accurate speed: whisper.cpp pads to the
whole 30 s window, so the encoder's cost is that of any utterance. Models are random-weight
models of the real shapes (``lumina models random``); the times come from
``Transcript.timings`` (encode: mel and encoder; total: the whole call).

Prepare the contender (vendor/README.md), then run:

    python3 -m venv /tmp/native && /tmp/native/bin/pip install .
    PYTHON=/tmp/native/bin/python vendor/build-pywhispercpp.sh native
    .venv/bin/python benchmarks native --contender /tmp/native/bin/python

(the same: ``python benchmarks/compare_native.py --baseline .venv/bin/python --contender ...``;
add ``--contender cpu=/tmp/cpu/bin/python`` to time the recipe's portable build as well).

Each worker imports the lumina of its own environment: this script does not put the
checkout on the import path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------- the worker

def worker(model: str, seconds: float, threads: int | None) -> None:
    """Load ``model``, say what was built, then transcribe the clip once per line read."""
    import lumina
    from lumina.asr.backend import binding_path, system_info
    from lumina.testing import speechlike

    clip = speechlike(seconds)
    with lumina.Engine(model, threads=threads) as engine:
        engine.wait_ready()
        engine.transcribe(clip)  # the first call after the warm-up is not timed
        _reply({"binding": binding_path(), "cpu": system_info().split("CPU :", 1)[-1].strip(" |"),
                "threads": engine.threads})
        for _ in sys.stdin:
            t = engine.transcribe(clip)
            _reply({"encode": t.timings.encode, "total": t.timings.total, "text": t.text})


def _reply(message: dict) -> None:
    print(json.dumps(message), flush=True)


# ---------------------------------------------------------------------- the driver

class Worker:
    """A worker process in one environment; ``run()`` asks it for one timed transcription."""

    def __init__(self, label: str, python: str, model: Path, seconds: float,
                 threads: int | None) -> None:
        self.label = label
        # The benchmarks runner (this folder) in that environment's Python: it imports the
        # lumina installed there.
        command = [python, str(HERE), "native", "--worker", str(model), "--seconds", str(seconds)]
        if threads:
            command += ["--threads", str(threads)]
        # A neutral directory: no checkout's lumina/ in the way of the environment's own.
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, cwd=tempfile.gettempdir())
        self.info = self._read()
        self.times: dict[str, list[float]] = {"encode": [], "total": []}
        self.texts: set[str] = set()

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"compare_native: the {self.label} worker stopped "
                             f"(exit status {self.process.wait()})")
        return json.loads(line)

    def run(self) -> None:
        """One timed transcription; its times and text are kept."""
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        got = self._read()
        for key in self.times:
            self.times[key].append(got[key])
        self.texts.add(got["text"])

    def close(self) -> None:
        """End the worker (it stops when its input ends)."""
        self.process.stdin.close()
        self.process.wait()


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def compare(model: Path, environments: list[tuple[str, str]], rounds: int, seconds: float,
            threads: int | None) -> list[Worker]:
    """Every worker transcribes once per round, in an order rotated by one each round."""
    workers = [Worker(label, python, model, seconds, threads) for label, python in environments]
    try:
        for r in range(rounds):
            for w in workers[r % len(workers):] + workers[:r % len(workers)]:
                w.run()
    finally:
        for w in workers:
            w.close()
    return workers


def report(arch: str, workers: list[Worker]) -> None:
    """One line per worker: encode and total medians (quartiles), the fastest call, and the ratio
    to the wheel's call of the same round (median and quartiles of those per-round ratios)."""
    base = workers[0].times
    for w in workers:
        cells = []
        for key in ("encode", "total"):
            q1, median, q3 = (x * 1000 for x in quartiles(w.times[key]))
            r1, ratio, r3 = quartiles([a / b for a, b in zip(w.times[key], base[key])])
            cells.append(f"{median:6.0f} ({q1:4.0f}-{q3:4.0f}) {min(w.times[key]) * 1000:5.0f}"
                         f"  {ratio:5.3f} ({r1:5.3f}-{r3:5.3f})")
        print(f"{arch:<8} {w.label:<14} {cells[0]}   {cells[1]}")
    texts = [w.texts for w in workers]
    if any(len(t) != 1 for t in texts) or len({next(iter(t)) for t in texts}) != 1:
        print(f"{'':<8} note: the texts differ between builds or calls: {texts}")


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the comparison, print one table per model."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--baseline", default=sys.executable,
                        help="Python of the environment with PyPI's wheel (default: this one)")
    parser.add_argument("--contender", action="append", metavar="[LABEL=]PYTHON",
                        help="Python of an environment with another build (the native one); "
                             "repeat to compare several (e.g. cpu=/tmp/cpu/bin/python)")
    parser.add_argument("--archs", default="tiny.en,base.en", help="model shapes (random weights)")
    parser.add_argument("--rounds", type=int, default=7, help="calls per worker and model (median)")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the clip (s)")
    parser.add_argument("--threads", type=int, help="threads per call (default: lumina's own)")
    parser.add_argument("--no-self-check", action="store_true",
                        help="leave out the baseline's second worker (the noise line)")
    parser.add_argument("--worker", metavar="MODEL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.seconds, args.threads)
        return 0
    if not args.contender:
        parser.error("--contender PYTHON is required (an environment with the native build)")
    environments = [("wheel", args.baseline)]
    for i, value in enumerate(args.contender):
        label, sep, python = value.rpartition("=")
        environments.append((label if sep else ("native" if i == 0 else f"contender {i + 1}"),
                             python))
    if not args.no_self_check:
        environments.append(("wheel (again)", args.baseline))
    with tempfile.TemporaryDirectory(prefix="compare-native-") as folder:
        print(f"{args.rounds} rounds, {args.seconds:g} s clip (30 s window). Per build: median ms "
              "(first-third quartile), fastest ms, and the median (quartiles) of its ratio to the "
              "wheel's call of the same round")
        print(f"{'model':<8} {'build':<14} {'encode ms, fastest, ratio':<43}   total ms, fastest, ratio")
        for arch in args.archs.split(","):
            model = Path(folder) / f"ggml-{arch}-random.bin"
            subprocess.run([args.baseline, "-c", "import sys; from lumina.testing import make_model; "
                            "make_model(sys.argv[1], sys.argv[2])", str(model), arch],
                           check=True, cwd=folder)
            workers = compare(model, environments, args.rounds, args.seconds, args.threads)
            report(arch, workers)
            model.unlink()
        for w in workers:
            print(f"{w.label:<14} {w.info['threads']} threads, {w.info['binding']}\n"
                  f"{'':<14} CPU: {w.info['cpu']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
