"""The phrase cache's search index for one key: entries sorted by speech duration.

A fuzzy lookup first narrows the entries to those whose speech lasts about as long as the
query's (one binary search, since they are sorted), then to those whose spectral summary is
near (one vectorised distance over that slice), and aligns the survivors, nearest summary
first, in the compiled core (``best_match``). The index is kept current by every insert
and removal: both shift the tail of two arrays in place (a ``memmove``), so a ``put`` never
leaves work behind for the next lookup (before, a put dropped the index and the next lookup
rebuilt it, sorting and stacking every entry of the key).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from lumina._core.fingerprint import Fingerprint, best_match

__all__ = ["DurationIndex", "MAX_DURATION_RATIO", "MAX_SUMMARY_DISTANCE"]

# Prefilter bounds, calibrated on the test re-takes with a margin: speech-duration ratios
# after trimming fall in 1/1.23..1.23 (tempo +-10% plus trimming jitter; two noisy takes
# of a short phrase reach 1.75 and 1.88 and are accepted misses), summary distances reach 0.98.
#: Widest ratio of speech durations a fuzzy candidate may have (either way).
MAX_DURATION_RATIO = 1.3
#: Largest Euclidean distance of spectral summaries a fuzzy candidate may have.
MAX_SUMMARY_DISTANCE = 1.2
_START_CAPACITY = 16


class DurationIndex:
    """Entries of one cache key in order of ``entry.fp.duration``, with their summaries stacked.

    ``entries[i]``, ``durations[i]`` and ``summaries[i]`` always describe the same entry.
    Entries of equal duration keep their insertion order. Not thread-safe: the cache holds
    its lock around every call.
    """

    __slots__ = ("entries", "_durations", "_summaries")

    def __init__(self) -> None:
        self.entries: list[Any] = []
        self._durations = np.empty(0, dtype=np.float64)
        self._summaries: npt.NDArray[np.float32] | None = None

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def durations(self) -> npt.NDArray[np.float64]:
        """Speech durations in seconds, ascending (a view; valid until the next change)."""
        return self._durations[:len(self.entries)]

    @property
    def summaries(self) -> npt.NDArray[np.float32]:
        """One summary row per entry, in the same order (a view; valid until the next change)."""
        if self._summaries is None:
            return np.empty((0, 0), dtype=np.float32)
        return self._summaries[:len(self.entries)]

    def add(self, entry) -> None:
        """Insert ``entry`` (an object with ``.fp``, a Fingerprint) at its place by duration."""
        n = len(self.entries)
        self._reserve(n + 1, entry.fp.summary.shape[0])
        i = int(np.searchsorted(self._durations[:n], entry.fp.duration, side="right"))
        # Overlapping slice assignment: numpy copies through a buffer, so this is a safe shift.
        self._durations[i + 1:n + 1] = self._durations[i:n]
        self._summaries[i + 1:n + 1] = self._summaries[i:n]
        self._durations[i] = entry.fp.duration
        self._summaries[i] = entry.fp.summary
        self.entries.insert(i, entry)

    def remove(self, entry) -> None:
        """Remove ``entry`` (the same object that was added).

        Raises
        ------
        KeyError
            When it is not in the index (a bug in the caller: the index and the cache disagree).
        """
        n = len(self.entries)
        durations, d = self._durations[:n], entry.fp.duration
        lo = int(np.searchsorted(durations, d, side="left"))
        hi = int(np.searchsorted(durations, d, side="right"))
        for i in range(lo, hi):
            if self.entries[i] is entry:
                break
        else:
            raise KeyError("entry not in the duration index")
        self._durations[i:n - 1] = self._durations[i + 1:n]
        self._summaries[i:n - 1] = self._summaries[i + 1:n]
        del self.entries[i]

    def window(self, low: float, high: float) -> tuple[int, int]:
        """``(start, stop)`` of the entries with ``low <= duration < high``."""
        lo, hi = np.searchsorted(self.durations, [low, high], side="left")
        return int(lo), int(hi)

    def best(self, fp: Fingerprint, threshold: float) -> tuple[Any, float]:
        """The entry most similar to ``fp`` at ``threshold`` or above, and its similarity.

        ``(None, 0.0)`` when none passes the prefilters and the threshold, or ``fp`` holds no
        speech.
        """
        if fp.n_frames == 0:
            return None, 0.0
        # Entries are sorted by duration, so the ratio gate is one slice, not a scan.
        lo, hi = self.window(fp.duration / MAX_DURATION_RATIO, fp.duration * MAX_DURATION_RATIO)
        if hi <= lo:
            return None, 0.0
        diff = self.summaries[lo:hi] - fp.summary
        dist = np.einsum("ij,ij->i", diff, diff)
        near = np.flatnonzero(dist <= MAX_SUMMARY_DISTANCE ** 2)
        if not near.size:
            return None, 0.0
        # Nearest summaries first: a true match is usually among them, and once found its
        # cost lets every later alignment be abandoned early.
        idx = lo + near[np.argsort(dist[near], kind="stable")]
        found, score = best_match(fp, [self.entries[i].fp for i in idx], threshold)
        return (None, 0.0) if found < 0 else (self.entries[idx[found]], score)

    def _reserve(self, n: int, width: int) -> None:
        if self._summaries is not None and n <= self._durations.shape[0]:
            return
        capacity = max(_START_CAPACITY, 2 * self._durations.shape[0], n)
        durations = np.empty(capacity, dtype=np.float64)
        summaries = np.empty((capacity, width), dtype=np.float32)
        m = len(self.entries)
        durations[:m] = self._durations[:m]
        if self._summaries is not None:
            summaries[:m] = self._summaries[:m]
        self._durations, self._summaries = durations, summaries
