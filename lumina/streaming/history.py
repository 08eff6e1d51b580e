"""The recent samples of a stream that an utterance may still need, in one buffer allocated once.

:class:`History` keeps samples by *stream position* (samples since the stream
started). It never grows: when a new piece does not fit, the caller names the
oldest position still needed and everything before it is dropped, so the cost
of compaction is amortised O(1) per sample when the buffer is twice what an
open utterance can need.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["History"]


class History:
    """Samples from stream position :attr:`base` to :attr:`end`, in a fixed buffer.

    Parameters
    ----------
    capacity : int
        Samples the buffer holds.
    oldest_needed : callable
        Returns the oldest stream position that must be kept; called when the
        buffer is full.
    """

    def __init__(self, capacity: int, oldest_needed: Callable[[], int]) -> None:
        self._buf = np.empty(capacity, dtype=np.float32)
        self._capacity = capacity
        self._oldest_needed = oldest_needed
        self.clear()

    def clear(self) -> None:
        """Forget every sample; stream positions restart at 0."""
        self.base = 0        # stream position of _buf[0]
        self._len = 0        # valid samples in _buf

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def end(self) -> int:
        """Stream position one past the last sample appended (the samples fed so far)."""
        return self.base + self._len

    def append(self, piece: np.ndarray) -> None:
        """Append float32 samples, dropping what is no longer needed when the buffer is full."""
        # Every int here is a new object past 256: compute each position once.
        end = self._len + len(piece)
        if end > self._capacity:
            self._compact()
            end = self._len + len(piece)
        self._buf[self._len:end] = piece
        self._len = end

    def view(self, start: int, stop: int) -> np.ndarray:
        """The samples from stream position ``start`` to ``stop`` (a view: copy it to keep it)."""
        return self._buf[start - self.base:stop - self.base]

    def copy_into(self, out: np.ndarray, start: int, stop: int) -> int:
        """Copy positions ``start`` to ``stop`` into ``out``; return the samples copied."""
        n = stop - start
        out[:n] = self._buf[start - self.base:stop - self.base]
        return n

    def _compact(self) -> None:
        drop = max(self._oldest_needed(), self.base) - self.base
        self._buf[:self._len - drop] = self._buf[drop:self._len]
        self._len -= drop
        self.base += drop
