"""``lumina bench``: how fast a model runs on this machine, read from ``Transcript.timings``."""

from __future__ import annotations

import dataclasses
import statistics
import time

import numpy as np

from lumina.asr.engine import Engine
from lumina.audio.convert import SAMPLE_RATE

__all__ = ["BenchRow", "StartupTimes", "measure_startup", "measure_latency"]


@dataclasses.dataclass(frozen=True)
class StartupTimes:
    """Seconds from ``Engine(...)`` to the constructor's return and to ready (load + warm-up)."""

    constructor: float
    ready: float


@dataclasses.dataclass(frozen=True)
class BenchRow:
    """Median timings (seconds) of one audio length and speed."""

    seconds: float
    speed: str
    encode: float
    decode: float
    total: float

    @property
    def real_time_factor(self) -> float:
        """Processing time per second of audio."""
        return self.total / self.seconds


def measure_startup(model, *, device: str = "auto", threads: int | None = None) -> tuple[Engine, StartupTimes]:
    """Start an engine and time it; the caller owns (and closes) the engine."""
    start = time.perf_counter()
    engine = Engine(model, device=device, threads=threads)
    constructed = time.perf_counter() - start
    engine.wait_ready()
    return engine, StartupTimes(constructed, time.perf_counter() - start)


def measure_latency(engine: Engine, audio: np.ndarray, seconds: float, speed: str,
                    repeat: int) -> BenchRow:
    """Median stage timings of ``repeat`` transcriptions of the first ``seconds`` of ``audio``."""
    clip = audio[: int(seconds * SAMPLE_RATE)]
    runs = [engine.transcribe(clip, speed=speed).timings for _ in range(repeat)]
    return BenchRow(len(clip) / SAMPLE_RATE, speed, statistics.median(t.encode for t in runs),
                    statistics.median(t.decode for t in runs), statistics.median(t.total for t in runs))
