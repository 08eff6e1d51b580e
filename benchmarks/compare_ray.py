"""Archive transcription on Ray (one node, two nodes) against the local command, in one run.

Run: python benchmarks ray [--arch tiny.en] [--files 2,10] [--seconds 5]
                                                   [--repeat 3]

Starts its own Ray cluster on 127.0.0.1 (two nodes of one CPU each; Ray's
files in a temporary directory) and stops it at the end. Contenders, run in
turn within each repetition (so drift in the machine's speed hits all alike):

  local 1 thread    ``lumina transcribe FILES --output DIR --threads 1`` (in-process ``lumina.apps.cli.main``)
  local 2 threads   the same with ``--threads 2`` (the local default on this machine)
  ray 1 node        ``transcribe_archive`` with one worker (1 CPU, 1 thread)
  ray 2 nodes       ``transcribe_archive`` with two workers, one per node

Each contender transcribes the two batch sizes of ``--files``; the median
wall time of each gives a line ``time = fixed + n * per_file``. Printed per
contender: the fixed cost (model load, actor start), the per-file time, files
per minute and audio hours per hour in steady state and for the larger batch
as a whole; then the per-file overhead of Ray against the local command with
the same threads, and the two-node speed-up. The driver is connected to the
cluster once, before timing (``lumina transcribe --ray`` pays that once per run).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keep Ray on 127.0.0.1 (see tests/_ray_util.py)

import ray
from lumina.testing import speechlike
from benchmarks._helpers import model_path
from ray.cluster_utils import Cluster

import lumina
from lumina.apps.cli import main as lumina_command
from lumina.apps.distributed import transcribe_archive


@contextlib.contextmanager
def cluster(temp: Path):
    """Two one-CPU nodes on 127.0.0.1; the driver connected; everything stopped afterwards."""
    os.environ["RAY_TMPDIR"] = str(temp)
    # Workers import the same lumina as this script, whatever their directory.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(Path(lumina.__file__).resolve().parent.parent),
         *(os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)])
    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
    c = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        c.add_node(**node)
        c.wait_for_nodes()
        os.chdir(temp)  # Ray puts the driver's directory first on the workers' import path
        ray.init(address=c.address, logging_level="WARNING")
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def make_archive(folder: Path, n: int, seconds: float) -> list[str]:
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        path = folder / f"file{i:04d}.wav"
        lumina.write_wav(path, speechlike(seconds + 0.01 * i), 16000)
        paths.append(str(path))
    return paths


def run_local(files: list[str], out: Path, model: Path, threads: int) -> float:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = lumina_command(["transcribe", *files, "--model", str(model), "--threads", str(threads),
                     "--output", str(out)])
    assert code == 0
    return time.perf_counter() - start


def run_ray(files: list[str], out: Path, model: Path, actors: int) -> float:
    start = time.perf_counter()
    report = transcribe_archive(files, out, model=model, actors=actors, progress=False)
    assert report.ok and len(report.written) == len(files)
    return time.perf_counter() - start


def fit(small: int, big: int, t_small: float, t_big: float) -> tuple[float, float]:
    """(fixed, per_file) of the line through the two batch timings."""
    per_file = (t_big - t_small) / (big - small)
    return t_small - small * per_file, per_file


def main(argv: list[str] | None = None) -> int | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="tiny.en", help="random-weight model shape (micro, tiny.en...)")
    parser.add_argument("--files", default="2,10", help="two batch sizes, small,big")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each file")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    small, big = (int(x) for x in args.files.split(","))
    model = model_path(args.arch)
    temp = Path(tempfile.mkdtemp(prefix="lumina-ray-bench-", dir="/tmp"))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; model "
          f"{args.arch} (random weights), files of {args.seconds:g} s, batches {small} and {big}, "
          f"{args.repeat} repetitions")
    contenders = {
        "local 1 thread": lambda f, o: run_local(f, o, model, 1),
        "local 2 threads": lambda f, o: run_local(f, o, model, 2),
        "ray 1 node": lambda f, o: run_ray(f, o, model, 1),
        "ray 2 nodes": lambda f, o: run_ray(f, o, model, 2),
    }
    try:
        batches = {n: make_archive(temp / f"in{n}", n, args.seconds) for n in (small, big)}
        times = {(name, n): [] for name in contenders for n in (small, big)}
        with cluster(temp):
            for r in range(args.repeat):
                for name, run in contenders.items():
                    for n, files in batches.items():
                        out = temp / f"out-{r}-{name.replace(' ', '_')}-{n}"
                        times[name, n].append(run(files, out))
        report(times, small, big, args.seconds)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


def report(times: dict, small: int, big: int, seconds: float) -> None:
    med = {key: statistics.median(v) for key, v in times.items()}
    print(f"\n{'contender':<16} {'fixed':>7} {'per file':>9} {'files/min':>10} {'audio h/h':>10}"
          f" {'whole ' + str(big):>10} {'files/min':>10} {'audio h/h':>10}")
    lines = {}
    for name in dict.fromkeys(k[0] for k in med):
        fixed, per_file = fit(small, big, med[name, small], med[name, big])
        lines[name] = per_file
        whole = med[name, big]
        print(f"{name:<16} {fixed:>6.2f}s {per_file:>8.3f}s {60 / per_file:>10.1f} "
              f"{seconds / per_file:>10.1f} {whole:>9.2f}s {60 * big / whole:>10.1f} "
              f"{seconds * big / whole:>10.1f}")
    overhead = lines["ray 1 node"] - lines["local 1 thread"]
    print(f"\nper-file overhead of Ray (1 node) against the local command, both 1 thread: "
          f"{overhead * 1000:+.0f} ms ({overhead / lines['local 1 thread'] * 100:+.1f}%)")
    print(f"two nodes against one: {lines['ray 1 node'] / lines['ray 2 nodes']:.2f}x "
          f"files per minute in steady state")
    print(f"two nodes against the local command with 2 threads: "
          f"{lines['local 2 threads'] / lines['ray 2 nodes']:.2f}x")

