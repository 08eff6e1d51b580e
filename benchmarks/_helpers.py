"""What the benchmarks share: models, timing, the asv profile, and running a comparison's child.

The one helpers module of ``benchmarks/``. Test audio and corpora come from the
installed package (:mod:`lumina.testing`, :mod:`lumina.evaluation`), never from
``tests/``.

Which parameters the asv suite runs: ``LUMINA_ASV_PROFILE=full`` (the default)
gives every benchmark the parameters of a real benchmark run;
``LUMINA_ASV_PROFILE=ci`` gives each one a smaller set (the smallest real model
shape, shorter audio, fewer sizes) so that `.ci/run` can run the whole suite in
asv's quick mode within minutes: every benchmark still runs (an error fails CI)
and CI's committed results track the same cells from run to run. Numbers from
the two profiles are not comparable with each other, and asv cannot tell them
apart by name: keep each results folder to one profile (CI's is
``benchmarks/results/lumina-ci``). In a benchmark:
``params = by_profile(full=[...], ci=[...])``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lumina.testing import make_model, speechlike

__all__ = ["BENCHMARKS", "MODELS", "PROFILE", "SPEECH_DIR", "by_profile", "child_command",
           "max_loop_stall", "median_time", "model_path"]

#: This folder: the runner (``python benchmarks NAME``) and the asv suite.
BENCHMARKS = Path(__file__).resolve().parent
#: Random-weight models of the real shapes, written once and reused by every benchmark.
MODELS = Path(os.environ.get("LUMINA_BENCH_MODELS", Path(tempfile.gettempdir()) / "lumina-bench-models"))
#: espeak-ng renderings (lumina.evaluation), kept between runs.
SPEECH_DIR = Path(tempfile.gettempdir()) / "lumina-bench-speech"

PROFILES = ("full", "ci")
PROFILE = os.environ.get("LUMINA_ASV_PROFILE", "full")
if PROFILE not in PROFILES:
    raise ValueError(f"LUMINA_ASV_PROFILE must be one of {', '.join(PROFILES)}; got {PROFILE!r}")


def by_profile(full, ci):
    """``ci`` under ``LUMINA_ASV_PROFILE=ci``, else ``full``."""
    return ci if PROFILE == "ci" else full


def model_path(arch: str, ftype: str = "f16") -> Path:
    """Path of a random-weight model of this shape, written on first use."""
    path = MODELS / f"{arch}-{ftype}.bin"
    if not path.exists():
        make_model(path, arch, ftype)
    return path


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time (s) of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def child_command(name: str, *args: str) -> list[str]:
    """The command that runs comparison ``name`` with ``args`` in a fresh interpreter.

    It runs this folder as the runner (``python benchmarks NAME ...``), so the child
    imports the installed lumina whatever its working directory.
    """
    return [sys.executable, str(BENCHMARKS), name, *args]


def max_loop_stall(path: Path, seconds: tuple[float, ...] = (1, 5), threads: int = 2) -> float:
    """Largest gap (s) an asyncio loop saw while an Engine loaded and transcribed ``seconds`` clips."""
    import lumina

    async def main() -> float:
        worst, done = 0.0, False

        async def watch() -> None:
            nonlocal worst
            last = time.perf_counter()
            while not done:
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                worst = max(worst, now - last - 0.001)
                last = now

        watcher = asyncio.create_task(watch())
        engine = lumina.Engine(path, threads=threads)
        await engine.ready()
        for s in seconds:
            await engine.transcribe_async(speechlike(s))
        done = True
        await watcher
        engine.close()
        return worst

    return asyncio.run(main())
