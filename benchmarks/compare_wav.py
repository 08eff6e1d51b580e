"""Print median timings of WAV decoding: lumina vs soundfile vs stdlib wave + numpy.

Run: python benchmarks wav [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

import numpy as np
import soundfile

from benchmarks._helpers import median_time
from benchmarks.bench_wav import DURATIONS, make_wav, wave_numpy

import lumina
from lumina._core import pcm


def median_seconds(func, repeat: int) -> float:
    func()  # warm the page cache and the allocator
    return median_time(func, repeat)


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:10.3f} ms"


def main(argv: list[str] | None = None) -> int | None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="lumina-compare-")
    try:
        print("decode 16 kHz mono 16-bit WAV -> float32 mono 16 kHz (median of "
              f"{args.repeat})")
        print(f"{'file':>6} {'lumina':>13} {'soundfile':>13} {'wave+numpy':>13} "
              f"{'vs soundfile':>13} {'vs wave':>9}")
        for name, seconds in DURATIONS.items():
            path = make_wav(folder, seconds)
            repeat = args.repeat if seconds < 3600 else max(3, args.repeat // 2)
            ours = median_seconds(lambda: lumina.load_audio(path, 16000), repeat)
            sf_time = median_seconds(lambda: soundfile.read(path, dtype="float32"), repeat)
            wave_time = median_seconds(lambda: wave_numpy(path), repeat)
            print(f"{name:>6} {fmt(ours)} {fmt(sf_time)} {fmt(wave_time)} "
                  f"{sf_time / ours:12.2f}x {wave_time / ours:8.2f}x")
            os.unlink(path)
        print()
        print("int16 -> float32 conversion (preallocated output)")
        print(f"{'samples':>10} {'lumina core':>13} {'numpy':>13} {'speed-up':>9}")
        for samples in (16000, 16000 * 60, 16000 * 3600):
            ints = np.random.default_rng(0).integers(-32768, 32767, samples, dtype=np.int16)
            out = np.empty(samples, np.float32)
            ours = median_seconds(lambda: pcm.s16_to_f32(ints, out), args.repeat)
            theirs = median_seconds(
                lambda: np.multiply(ints, np.float32(1 / 32768), out=out, dtype=np.float32),
                args.repeat)
            print(f"{samples:>10} {fmt(ours)} {fmt(theirs)} {theirs / ours:8.2f}x")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0

