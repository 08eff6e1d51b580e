"""asv: RingBuffer write+read of one audio block against two pure-Python rings.

Baselines (what a project without a compiled ring writes):
- ``NumpyRollRing``: a float32 array shifted with ``np.roll`` on every write;
- ``DequeRing``: ``collections.deque(maxlen=capacity)`` of Python floats.
"""

from collections import deque

import numpy as np

from lumina._core.ringbuffer import RingBuffer

CAPACITY = 16000  # one second at 16 kHz


class NumpyRollRing:
    """Newest samples at the end of a fixed array; ``unread`` counts back from it."""

    def __init__(self, capacity):
        self.buf = np.zeros(capacity, dtype=np.float32)
        self.unread = 0

    def write(self, samples):
        samples = np.asarray(samples, dtype=np.float32)[-len(self.buf):]
        n = len(samples)
        self.buf = np.roll(self.buf, -n)
        self.buf[len(self.buf) - n:] = samples
        self.unread = min(self.unread + n, len(self.buf))
        return n

    def read(self, n):
        k = min(n, self.unread)
        start = len(self.buf) - self.unread
        self.unread -= k
        return self.buf[start:start + k].copy()


class DequeRing:
    """A deque of Python floats; ``maxlen`` drops the oldest like overwrite=True."""

    def __init__(self, capacity):
        self.samples = deque(maxlen=capacity)

    def write(self, samples):
        self.samples.extend(np.asarray(samples, dtype=np.float32).tolist())
        return len(samples)

    def read(self, n):
        k = min(n, len(self.samples))
        pop = self.samples.popleft
        return np.fromiter((pop() for _ in range(k)), dtype=np.float32, count=k)


IMPLEMENTATIONS = ("lumina", "lumina_read_into", "lumina_nogil", "numpy_roll", "deque")


def make_pair(impl, block):
    """Return a zero-argument callable doing one write of ``block`` samples + one read."""
    samples = np.random.default_rng(0).standard_normal(block).astype(np.float32)
    if impl == "numpy_roll":
        ring = NumpyRollRing(CAPACITY)
    elif impl == "deque":
        ring = DequeRing(CAPACITY)
    else:
        ring = RingBuffer(CAPACITY, release_gil_at=0 if impl == "lumina_nogil" else 16384)
    if impl == "lumina_read_into":
        out = np.empty(block, dtype=np.float32)
        write, read_into = ring.write, ring.read_into

        def pair():
            write(samples)
            read_into(out)
    else:
        write, read = ring.write, ring.read

        def pair():
            write(samples)
            read(block)
    return pair


class WriteRead:
    """One write of ``block`` samples followed by one read of ``block`` samples."""

    params = [[160, 512, 4096], list(IMPLEMENTATIONS)]
    param_names = ["block", "impl"]

    def setup(self, block, impl):
        self.pair = make_pair(impl, block)
        self.pair()  # warm up: first-call costs are not what a stream pays

    def time_write_read(self, block, impl):
        self.pair()


class Latest:
    """Zero-copy ``latest(n)`` view against copying the tail of a numpy array."""

    params = [[512, 16000], ["lumina_latest", "numpy_copy"]]
    param_names = ["window", "impl"]

    def setup(self, window, impl):
        self.ring = RingBuffer(CAPACITY)
        self.ring.write(np.zeros(CAPACITY, dtype=np.float32))
        self.array = np.zeros(CAPACITY, dtype=np.float32)

    def time_latest(self, window, impl):
        if impl == "lumina_latest":
            self.ring.latest(window)
        else:
            self.array[-window:].copy()


class Memory:
    """Peak memory of a one-second ring with a stream of 512-sample blocks."""

    def peakmem_stream_one_second(self):
        ring = RingBuffer(CAPACITY)
        block = np.zeros(512, dtype=np.float32)
        out = np.empty(512, dtype=np.float32)
        for _ in range(1000):
            ring.write(block)
            ring.read_into(out)

