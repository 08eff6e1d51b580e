"""Phrase-cache speed without asv: fingerprinting x real time and lookup time vs cache size.

Run: PYTHONPATH=. python benchmarks/compare_cache.py
Baseline for fingerprinting: the same log-mel frames computed with numpy.fft (vectorised).
Baseline for lookup: a linear scan calling Fingerprint.similarity on every entry (no prefilter).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from lumina import PhraseCache, fingerprint


def speechlike(seed: int, seconds: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    env = np.abs(np.sin(2 * np.pi * rng.uniform(2, 5) * t)) ** 2
    f0 = rng.uniform(90, 220)
    x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 12))
    return (0.1 * env * x + 0.003 * rng.standard_normal(n)).astype(np.float32)


def numpy_logmel(x: np.ndarray) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(x, 400)[::160] * np.hanning(400)
    power = np.abs(np.fft.rfft(frames, 512)) ** 2
    fb = np.random.default_rng(0).random((257, 24))  # the cost, not the values, matters here
    return np.log(power @ fb + 1e-12)


def median_time(fn, repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    x = speechlike(0, 3.0)
    t_fp = median_time(lambda: fingerprint(x))
    t_np = median_time(lambda: numpy_logmel(x))
    print(f"fingerprint 3 s audio: lumina {t_fp * 1e3:.3f} ms ({3.0 / t_fp:.0f}x real time); "
          f"numpy log-mel only {t_np * 1e3:.3f} ms ({3.0 / t_np:.0f}x)")
    print(f"{'entries':>8} {'miss p50 ms':>12} {'miss p99 ms':>12} {'hit p50 ms':>11} {'scan p50 ms':>12}")
    for size in (10, 100, 1000, 10000):
        cache = PhraseCache(max_entries=size, max_bytes=2**31)
        clips = [speechlike(s, 0.6 + (s % 25) * 0.1) for s in range(size)]
        for s, clip in enumerate(clips):
            cache.put(clip, "k", f"phrase {s}")
        queries = [speechlike(10**6 + s, 0.6 + (s % 25) * 0.1) for s in range(40)]
        miss = []
        for q in queries:
            t0 = time.perf_counter()
            cache.get(q, "k")
            miss.append(time.perf_counter() - t0)
        hit = [median_time(lambda: cache.get(clips[0], "k"), 5)]
        fps = [fingerprint(c) for c in clips[:min(size, 1000)]]
        qf = fingerprint(queries[0])
        scan = median_time(lambda: [qf.similarity(f) for f in fps], 3) * (size / len(fps))
        print(f"{size:>8} {np.median(miss) * 1e3:>12.3f} {np.percentile(miss, 99) * 1e3:>12.3f} "
              f"{np.median(hit) * 1e3:>11.3f} {scan * 1e3:>12.3f}")


if __name__ == "__main__":
    main()
