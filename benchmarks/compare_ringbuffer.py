"""Median ns per write+read pair: lumina.RingBuffer vs numpy-roll and deque rings.

Run: python benchmarks ringbuffer
Each figure is the median over ROUNDS batches of BATCH pairs (time.perf_counter_ns
around each batch, divided by BATCH), all timed in this one run.
"""

from __future__ import annotations

import statistics
import time

from benchmarks.bench_ringbuffer import CAPACITY, IMPLEMENTATIONS, make_pair

BLOCKS = (160, 512, 4096)
ROUNDS = 200
BATCH = 50


def median_ns(pair) -> float:
    """Median per-pair time of ``pair`` in nanoseconds."""
    for _ in range(BATCH):
        pair()
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        for _ in range(BATCH):
            pair()
        samples.append((time.perf_counter_ns() - start) / BATCH)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int | None:
    print(f"write+read of one block, ring capacity {CAPACITY}; median ns per pair "
          f"({ROUNDS} rounds x {BATCH} pairs)")
    header = f"{'block':>6} " + " ".join(f"{impl:>17}" for impl in IMPLEMENTATIONS)
    print(header)
    for block in BLOCKS:
        row = [median_ns(make_pair(impl, block)) for impl in IMPLEMENTATIONS]
        print(f"{block:>6} " + " ".join(f"{ns:>17,.0f}" for ns in row))
    print("speed-up of lumina (write+read) over numpy_roll / deque:")
    for block in BLOCKS:
        lumina = median_ns(make_pair("lumina", block))
        into = median_ns(make_pair("lumina_read_into", block))
        roll = median_ns(make_pair("numpy_roll", block))
        dq = median_ns(make_pair("deque", block))
        print(f"{block:>6}  read(): {roll / lumina:6.1f}x / {dq / lumina:6.1f}x   "
              f"read_into(): {roll / into:6.1f}x / {dq / into:6.1f}x")

