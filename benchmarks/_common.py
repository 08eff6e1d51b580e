"""Shared by the engine benchmarks: random-weight models, test audio, the event-loop probe."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from lumina.testing import make_model

CACHE = Path(os.environ.get("LUMINA_BENCH_MODELS", Path(tempfile.gettempdir()) / "lumina-bench-models"))


def model_path(arch: str, ftype: str = "f16") -> Path:
    """Path of a random-weight model of this shape, written on first use."""
    path = CACHE / f"{arch}-{ftype}.bin"
    if not path.exists():
        make_model(path, arch, ftype)
    return path


def speechlike(seconds: float) -> np.ndarray:
    """Voiced-sounding float32 16 kHz audio: harmonics of a gliding pitch, syllable envelope."""
    t = np.arange(int(seconds * 16000)) / 16000
    phase = 2 * np.pi * np.cumsum(120 + 20 * np.sin(2 * np.pi * 0.5 * t)) / 16000
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    return (0.2 * voice * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2)).astype(np.float32)


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
