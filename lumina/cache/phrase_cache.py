"""Phrase cache: answer a phrase lumina has already transcribed without running the model.

Lookups first try the exact 64-bit key of the canonical samples (identical audio), then a
fuzzy match: candidates made under the same ``key`` are prefiltered by speech duration and
a coarse spectral summary, and the survivors are aligned with banded dynamic time warping in
the compiled core (:meth:`Fingerprint.similarity`).  A false hit is worse than a miss, so the
default threshold sits above every confusable the tests produce.

The alignment score (:meth:`Fingerprint.similarity`) is ``exp(-sqrt(D) / 1.4427)`` with
``D = max(mean frame cost over the path, 0.3 * worst mean cost over any 80 ms stretch of it)``;
both path ends are anchored after trimming, and a high/low band tilt column (compared only
when both takes are wideband) makes a final "s" or "z" cost what it should.

Calibration (tests/test_cache_eval.py, espeak-ng speech, 44 cached phrases in 4 voices,
15 takes each: tempo and pitch +-10%, gain +-6 dB, white noise at 20 dB SNR, 0-500 ms padding,
8/22.05/44.1/48 kHz sources, stereo, and all of these combined; 173 confusables: 26 phrases
one word away from a cached one, every cached phrase in the 3 other voices, silence, noise and
tones):

* zero false hits: the highest confusable scores 0.409 ("full stop" spoken by en+m3 against
  its cached en-gb rendering, i.e. another voice); threshold 0.44; the lowest re-take that
  hits scores 0.441; margin 0.031 in similarity (15 % in the squared-cost D: the threshold sits at 0.85 x
  the lowest confusable D);
* re-take hit rate 0.912 (602 of 660); the misses are tempo/pitch takes, 20 dB SNR takes and
  the "combined" takes (lowest re-take score 0.085);
* a re-take scores higher against its own phrase than any other cached phrase does for every
  single perturbation kind; only 5 of the 44 "combined" takes (all perturbations at once) fall
  below some other phrase.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import pathlib
import threading
import time
from collections.abc import Hashable

import numpy as np
import numpy.typing as npt

from lumina._core.fingerprint import Fingerprint, best_match
from lumina._deprecation import renamed_keywords
from lumina.audio.convert import SAMPLE_RATE
from lumina.cache.fingerprints import fingerprint
from lumina.cache.keys import canonical_key
from lumina.cache.store import CacheFile, CacheWarning, open_cache_file
from lumina.errors import ArgumentError

__all__ = ["CacheStats", "CacheWarning", "PhraseCache", "DEFAULT_THRESHOLD"]

#: Similarity a fuzzy hit needs by default (see the module docstring for the calibration).
DEFAULT_THRESHOLD = 0.44
#: Default bound on the memory the entries use.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# Prefilter bounds, calibrated on the test re-takes with a margin: speech-duration ratios
# after trimming fall in 1/1.23..1.23 (tempo +-10% plus trimming jitter; two noisy takes
# of a short phrase reach 1.75 and 1.88 and are accepted misses), summary distances reach 0.98.
_MAX_DURATION_RATIO = 1.3
_MAX_SUMMARY_DISTANCE = 1.2
_ENTRY_OVERHEAD = 256  # bytes of Python objects around each entry's arrays and text
_TIMINGS_KEPT = 10000


@dataclasses.dataclass(frozen=True)
class CacheStats:
    """Counters of a :class:`PhraseCache` since it was made (or last cleared).

    Attributes
    ----------
    entries, bytes : int
        Entries held and the memory they account for.
    lookups, exact_hits, fuzzy_hits, misses : int
        ``lookups == exact_hits + fuzzy_hits + misses``.
    mean_lookup_s, p99_lookup_s : float
        Lookup time in seconds, fingerprinting included (0.0 before the first lookup).
    """

    entries: int
    bytes: int
    lookups: int
    exact_hits: int
    fuzzy_hits: int
    misses: int
    mean_lookup_s: float
    p99_lookup_s: float


@dataclasses.dataclass
class _Entry:
    key: str | tuple
    fp: Fingerprint
    text: str
    nbytes: int


class PhraseCache:
    """An LRU cache from spoken phrases to their transcripts.

    Parameters
    ----------
    max_entries : int, default 1000
        Most entries kept; the least recently used go first.
    threshold : float, optional
        Similarity in (0, 1] a fuzzy hit needs; default :data:`DEFAULT_THRESHOLD`.
    path : str or os.PathLike, optional
        SQLite file to persist entries in (fingerprints and text only, never audio). Made
        0600 in a 0700 directory. A file that cannot be read gives an empty cache and a
        :class:`CacheWarning`, never an error.
    max_bytes : int, default 64 MiB
        Bound on the memory the entries account for.

    Raises
    ------
    ArgumentError
        A bad ``max_entries``, ``threshold`` or ``max_bytes`` (also a ValueError).

    Notes
    -----
    ``key`` must carry everything that changes a transcript (model and its hash, language,
    prompt, decoding options): entries made under another key never match. All methods are
    thread-safe.
    """

    def __init__(self, max_entries: int = 1000, *, threshold: float | None = None,
                 path: str | os.PathLike | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        for name, value in (("max_entries", max_entries), ("max_bytes", max_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ArgumentError(f"{name} must be an int >= 1, got {value!r}")
        thr = DEFAULT_THRESHOLD if threshold is None else _threshold(threshold)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.threshold = thr
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[tuple, _Entry] = collections.OrderedDict()
        self._groups: dict[str | tuple, dict[int, _Entry]] = {}
        self._index: dict[str | tuple, tuple] = {}  # per key: (entries, durations, summaries)
        self._bytes = 0
        self._reset_counters()
        self._db: CacheFile | None = None
        self._tick = 0
        if path is not None:
            self._db, rows = open_cache_file(pathlib.Path(path), stacklevel=2)
            for key, fp, text, used in rows:
                self._insert(key, fp, text, persist=False, tick=used)

    # ---- public API -------------------------------------------------------------------

    @renamed_keywords(sr="sample_rate")
    def get(self, audio: npt.ArrayLike, key: Hashable, *,
            sample_rate: int = SAMPLE_RATE) -> str | None:
        """The cached text of this phrase under ``key``, or None.

        ``audio`` is any array the audio gateway takes (:func:`fingerprint`),
        at ``sample_rate`` Hz.  ``sr=`` is a deprecated spelling of
        ``sample_rate=`` (removed in the next release).

        Raises
        ------
        AudioFormatError
            When ``audio`` or ``sample_rate`` is not usable.
        ArgumentError
            When ``key`` is not hashable (or, for a persistent cache, not storable);
            also a TypeError.
        """
        start = time.perf_counter()
        k = self._key(key)
        return self._lookup(fingerprint(audio, sample_rate), k, start)

    def lookup(self, fp: Fingerprint, key: Hashable) -> str | None:
        """The cached text of an already fingerprinted phrase under ``key``, or None.

        :meth:`get` is ``lookup(fingerprint(audio, sample_rate), key)``; this form lets a caller
        that fingerprints once (for ``get`` then ``put``) skip the second analysis.

        Raises
        ------
        ArgumentError
            When ``fp`` is not a :class:`Fingerprint` or ``key`` is not usable (also a TypeError).
        """
        start = time.perf_counter()
        if not isinstance(fp, Fingerprint):
            raise ArgumentError(f"fp must be a lumina.Fingerprint, got {type(fp).__name__}")
        return self._lookup(fp, self._key(key), start)

    def _lookup(self, fp: Fingerprint, k: str | tuple, start: float) -> str | None:
        with self._lock:
            entry = self._entries.get((k, fp.exact_key))
            kind = "exact" if entry is not None else None
            if entry is None:
                entry = self._fuzzy(k, fp)
                kind = "fuzzy" if entry is not None else None
            if entry is not None:
                self._touch(entry)
            self._count(kind, time.perf_counter() - start)
            return None if entry is None else entry.text

    @renamed_keywords(sr="sample_rate")
    def put(self, audio: npt.ArrayLike, key: Hashable, text: str, *,
            sample_rate: int = SAMPLE_RATE) -> None:
        """Remember that this phrase under ``key`` reads ``text``.

        ``sr=`` is a deprecated spelling of ``sample_rate=`` (removed in the next release).

        Raises
        ------
        AudioFormatError
            When ``audio`` or ``sample_rate`` is not usable.
        ArgumentError
            When ``text`` is not a str or ``key`` is not usable (also a TypeError).
        """
        if not isinstance(text, str):
            raise ArgumentError(f"text must be a str, got {type(text).__name__}")
        k = self._key(key)
        fp = fingerprint(audio, sample_rate)
        self._insert(k, fp, text, persist=True)

    def forget(self, text: str) -> int:
        """Drop every entry whose text is ``text``; returns how many were dropped."""
        with self._lock:
            doomed = [e for e in self._entries.values() if e.text == text]
            for entry in doomed:
                self._remove(entry)
            if self._db is not None:
                self._db.forget(text)
            return len(doomed)

    def clear(self) -> None:
        """Drop every entry and reset the counters (the file too, for a persistent cache)."""
        with self._lock:
            self._entries.clear()
            self._groups.clear()
            self._index.clear()
            self._bytes = 0
            self._reset_counters()
            if self._db is not None:
                self._db.clear()

    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        with self._lock:
            times = np.fromiter(self._times, dtype=np.float64)
            return CacheStats(
                entries=len(self._entries), bytes=self._bytes, lookups=self._lookups,
                exact_hits=self._exact, fuzzy_hits=self._fuzzy_hits, misses=self._misses,
                mean_lookup_s=self._total_s / self._lookups if self._lookups else 0.0,
                p99_lookup_s=float(np.percentile(times, 99)) if times.size else 0.0)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    # ---- lookups ----------------------------------------------------------------------

    def _fuzzy(self, k: str | tuple, fp: Fingerprint) -> _Entry | None:
        group = self._groups.get(k)
        if not group or fp.n_frames == 0:
            return None
        if k not in self._index:
            entries = sorted(group.values(), key=lambda e: e.fp.duration)
            self._index[k] = (entries,
                              np.array([e.fp.duration for e in entries], dtype=np.float64),
                              np.stack([e.fp.summary for e in entries]))
        entries, durations, summaries = self._index[k]
        # Entries are sorted by duration, so the ratio gate is one slice, not a scan.
        lo, hi = np.searchsorted(durations, [fp.duration / _MAX_DURATION_RATIO,
                                             fp.duration * _MAX_DURATION_RATIO], side="left")
        if hi <= lo:
            return None
        diff = summaries[lo:hi] - fp.summary
        dist = np.einsum("ij,ij->i", diff, diff)
        near = np.flatnonzero(dist <= _MAX_SUMMARY_DISTANCE ** 2)
        if not near.size:
            return None
        # Nearest summaries first: a true match is usually among them, and once found its
        # cost lets every later alignment be abandoned early.
        idx = lo + near[np.argsort(dist[near], kind="stable")]
        best, _ = best_match(fp, [entries[i].fp for i in idx], self.threshold)
        return None if best < 0 else entries[idx[best]]

    def _count(self, kind: str | None, seconds: float) -> None:
        self._lookups += 1
        self._total_s += seconds
        self._times.append(seconds)
        if kind == "exact":
            self._exact += 1
        elif kind == "fuzzy":
            self._fuzzy_hits += 1
        else:
            self._misses += 1

    def _reset_counters(self) -> None:
        self._lookups = self._exact = self._fuzzy_hits = self._misses = 0
        self._total_s = 0.0
        self._times: collections.deque[float] = collections.deque(maxlen=_TIMINGS_KEPT)

    # ---- entries ----------------------------------------------------------------------

    def _key(self, key: Hashable) -> str | tuple:
        try:
            return canonical_key(key)
        except ArgumentError:
            if self._db is not None and self._db.usable:
                raise ArgumentError(
                    f"key {key!r} cannot be stored in a persistent cache: use a str, or a tuple "
                    "of str, int, float, bool and None") from None
            try:
                hash(key)
            except TypeError as exc:
                raise ArgumentError(f"key must be hashable: {exc}") from None
            return ("\x1fobj", key)

    def _insert(self, k, fp: Fingerprint, text: str, *, persist: bool, tick: int | None = None) -> None:
        nbytes = fp.nbytes + len(text.encode()) + _ENTRY_OVERHEAD
        if nbytes > self.max_bytes:
            return  # could never be kept; storing it would only evict everything else
        with self._lock:
            old = self._entries.get((k, fp.exact_key))
            if old is not None:
                self._remove(old)
            entry = _Entry(k, fp, text, nbytes)
            self._entries[(k, fp.exact_key)] = entry
            self._groups.setdefault(k, {})[fp.exact_key] = entry
            self._index.pop(k, None)
            self._bytes += nbytes
            evicted = self._evict()
            self._tick = max(self._tick + 1, tick or 0)
            if persist and isinstance(k, str) and self._db is not None:
                self._db.put(k, fp, text, self._tick, [(e.key, e.fp) for e in evicted])

    def _evict(self) -> list[_Entry]:
        evicted = []
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, entry = next(iter(self._entries.items()))
            self._remove(entry)
            evicted.append(entry)
        return evicted

    def _remove(self, entry: _Entry) -> None:
        del self._entries[(entry.key, entry.fp.exact_key)]
        group = self._groups[entry.key]
        del group[entry.fp.exact_key]
        if not group:
            del self._groups[entry.key]
        self._index.pop(entry.key, None)
        self._bytes -= entry.nbytes

    def _touch(self, entry: _Entry) -> None:
        self._entries.move_to_end((entry.key, entry.fp.exact_key))
        self._tick += 1
        if self._db is not None:
            self._db.touch(entry.key, entry.fp, self._tick)

    # ---- persistence ------------------------------------------------------------------

    def close(self) -> None:
        """Close the cache file (entries stay usable in memory)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> PhraseCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _threshold(value) -> float:
    try:
        thr = float(value)
    except (TypeError, ValueError):
        thr = float("nan")
    if not 0.0 < thr <= 1.0:  # NaN fails too
        raise ArgumentError(f"threshold must be a number in (0, 1], got {value!r}")
    return thr
