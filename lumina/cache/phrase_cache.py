"""Phrase cache: answer a phrase lumina has already transcribed without running the model.

Lookups first try the exact 64-bit key of the canonical samples (identical audio), then a
fuzzy match: candidates made under the same ``key`` are prefiltered by speech duration and
a coarse spectral summary (:class:`~lumina.cache.index.DurationIndex`), and the survivors
are aligned with banded dynamic time warping in the compiled core
(:meth:`Fingerprint.similarity`).

Only an exact hit is an answer. A fuzzy match is a *candidate*: similar audio is not proof
of the same words ("turn on the lights" and "turn off the lights" differ in one short
syllable, and a re-take of a phrase can score lower than another phrase in another voice).
:meth:`PhraseCache.match` returns candidates for a caller that checks them (the engine
verifies each with the model, :mod:`lumina.asr.cached`); :meth:`~PhraseCache.get` and
:meth:`~PhraseCache.lookup` answer only exact hits. ``trust_fuzzy_hits_unverified=True``
restores the old unsafe behaviour (fuzzy text returned as if it were the answer).

The alignment score (:meth:`Fingerprint.similarity`) is ``exp(-sqrt(D) / 1.4427)`` with
``D = max(mean frame cost over the path, 0.3 * worst mean cost over any 80 ms stretch of it)``;
both path ends are anchored after trimming, and a high/low band tilt column (compared only
when both takes are wideband) makes a final "s" or "z" cost what it should.

Two thresholds. A candidate the engine verifies needs :data:`DEFAULT_THRESHOLD` (0.30): a
confusable that clears it costs one wasted verification decode, never a wrong answer. A match
trusted unverified (``trust_fuzzy_hits_unverified=True``) needs :data:`UNVERIFIED_THRESHOLD`
(0.44), above every confusable of the espeak-ng calibration set below.

Calibration of the verified threshold (tests/test_real_cache.py, ``python benchmarks
cache_real``; hibari-tts natural speech, the 44 phrases, 15 re-takes each: tempo +-10%, pitch
+-6%, gain +-6 dB, white noise at 20 dB SNR, padding, 8/24/44.1/48 kHz, stereo, all combined):
605 of 660 re-takes find their own phrase as the candidate at 0.30, 459 at 0.44 (tempo, pitch
and noise re-takes score 0.17-0.46 against their original); 4 find another phrase and 5 of the
26 near misses find a candidate ("copy this" -> "copy that"), each refused by the verification.
With the real tiny.en, 563 of 660 re-takes are answered from the cache (85%; 91% of those that
change one thing), against 425 at 0.44.

Calibration of the unverified threshold (tests/test_cache_eval.py, espeak-ng speech, 44 cached
phrases in 4 voices, 15 takes each: tempo and pitch +-10%, gain +-6 dB, white noise at 20 dB
SNR, 0-500 ms padding, 8/22.05/44.1/48 kHz, stereo, all combined; 173 confusables: 26 phrases
one word away, every cached phrase in the 3 other voices, silence, noise and tones):

* no candidate among those 173: the highest scores 0.409 ("full stop" by en+m3 against its
  en-gb entry), threshold 0.44, the lowest re-take that hits 0.441 (a thin margin);
* re-takes find their phrase at a rate of 0.912 (602 of 660); the misses are tempo/pitch,
  20 dB SNR and "combined" takes; a single perturbation never leaves a take closer to another
  phrase than to its own.

Minimal pairs break the margin: "i might call" spoken by the voice that recorded "i might
fall" scores up to 0.54, and 58 + 55 of 840 takes (both directions, 7 pairs, every voice and
take kind) find the other phrase as a candidate: why a candidate is never an answer.
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

from lumina._core.fingerprint import Fingerprint
from lumina.audio.convert import SAMPLE_RATE
from lumina.cache.fingerprints import fingerprint
from lumina.cache.index import DurationIndex
from lumina.cache.keys import canonical_key
from lumina.cache.results import CacheMatch, CacheStats
from lumina.cache.store import CacheFile, CacheWarning, open_cache_file
from lumina.errors import ArgumentError

__all__ = ["CacheMatch", "CacheStats", "CacheWarning", "PhraseCache", "DEFAULT_THRESHOLD",
           "UNVERIFIED_THRESHOLD"]

#: Similarity a fuzzy candidate needs by default: the engine verifies every candidate with the
#: model, so a low bar costs a wasted verification decode on a confusable, never a wrong answer
#: (see the module docstring for the calibration).
DEFAULT_THRESHOLD = 0.30
#: Similarity a fuzzy match needs by default when it is trusted unverified
#: (``trust_fuzzy_hits_unverified=True``): above every confusable of the calibration set.
UNVERIFIED_THRESHOLD = 0.44
#: Default bound on the memory the entries use.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_ENTRY_OVERHEAD = 256  # bytes of Python objects around each entry's arrays and text
_TIMINGS_KEPT = 10000


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
        Similarity in (0, 1] a fuzzy candidate needs; default :data:`DEFAULT_THRESHOLD`
        (0.30: candidates are verified by the model), or :data:`UNVERIFIED_THRESHOLD` (0.44)
        with ``trust_fuzzy_hits_unverified=True``.
    path : str or os.PathLike, optional
        SQLite file to persist entries in (fingerprints and text only, never audio). Made
        0600 in a 0700 directory. A file that cannot be read gives an empty cache and a
        :class:`CacheWarning`, never an error.
    max_bytes : int, default 64 MiB
        Bound on the memory the entries account for.
    trust_fuzzy_hits_unverified : bool, default False
        UNSAFE. Treat a fuzzy match as the answer: :meth:`get` and :meth:`lookup` return its
        text, and an :class:`~lumina.Engine` returns it without asking the model
        (``Transcript.origin == "cache-unverified"``). A re-take of another phrase that
        sounds alike ("turn off the lights" for a cached "turn on the lights") then gets
        the other phrase's text. The default confirms every fuzzy match with the model first.

    Raises
    ------
    ArgumentError
        A bad ``max_entries``, ``threshold``, ``max_bytes`` or ``trust_fuzzy_hits_unverified``
        (also a ValueError or TypeError).

    Notes
    -----
    ``key`` must carry everything that changes a transcript (model and its hash, language,
    prompt, decoding options): entries made under another key never match. All methods are
    thread-safe.
    """

    def __init__(self, max_entries: int = 1000, *, threshold: float | None = None,
                 path: str | os.PathLike | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                 trust_fuzzy_hits_unverified: bool = False) -> None:
        for name, value in (("max_entries", max_entries), ("max_bytes", max_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ArgumentError(f"{name} must be an int >= 1, got {value!r}")
        if not isinstance(trust_fuzzy_hits_unverified, bool):
            raise ArgumentError("trust_fuzzy_hits_unverified must be True or False, "
                                f"got {trust_fuzzy_hits_unverified!r}")
        default = UNVERIFIED_THRESHOLD if trust_fuzzy_hits_unverified else DEFAULT_THRESHOLD
        thr = default if threshold is None else _threshold(threshold)
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.threshold = thr
        self.trust_fuzzy_hits_unverified = trust_fuzzy_hits_unverified
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[tuple, _Entry] = collections.OrderedDict()
        self._index: dict[str | tuple, DurationIndex] = {}  # per key, kept current by every change
        self._bytes = 0
        self._reset_counters()
        self._db: CacheFile | None = None
        self._tick = 0
        if path is not None:
            self._db, rows = open_cache_file(pathlib.Path(path), stacklevel=2)
            for key, fp, text, used in rows:
                self._insert(key, fp, text, persist=False, tick=used)

    # ---- public API -------------------------------------------------------------------

    def match(self, audio: npt.ArrayLike | Fingerprint, key: Hashable, *,
              sample_rate: int = SAMPLE_RATE) -> CacheMatch:
        """What the cache holds for this phrase under ``key``: an exact hit, a fuzzy candidate or a miss.

        The audio is fingerprinted once; the result carries the fingerprint, so a caller
        that transcribes on a miss stores the text with ``put(match.fingerprint, key, text)``.

        Parameters
        ----------
        audio : array_like or Fingerprint
            Anything the audio gateway takes (:func:`fingerprint`), at ``sample_rate`` Hz,
            or a fingerprint already made.
        key : hashable
            What the transcript depends on (see the class notes).
        sample_rate : int, default 16000

        Returns
        -------
        CacheMatch
            A ``"fuzzy"`` match is a candidate: confirm it before using its text.

        Raises
        ------
        AudioFormatError
            When ``audio`` or ``sample_rate`` is not usable.
        ArgumentError
            When ``key`` is not usable (also a TypeError).
        """
        start = time.perf_counter()
        k = self._key(key)
        fp = self._fingerprint(audio, sample_rate)
        with self._lock:
            entry, kind, score = self._exact(k, fp), "exact", 1.0
            if entry is None:
                (entry, score), kind = self._fuzzy(k, fp), "fuzzy"
            return self._found(entry, kind, score, fp, start)

    def get(self, audio: npt.ArrayLike, key: Hashable, *,
            sample_rate: int = SAMPLE_RATE) -> str | None:
        """The cached text of exactly this audio under ``key``, or None.

        Only bit-identical canonical audio (after the audio gateway) is answered: a similar
        re-take is not, because it may hold other words (use :meth:`match` and confirm its
        candidate). With ``trust_fuzzy_hits_unverified=True`` fuzzy matches are answered too.

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
        return self._answer(fingerprint(audio, sample_rate), k, start)

    def lookup(self, fp: Fingerprint, key: Hashable) -> str | None:
        """:meth:`get` for an already fingerprinted phrase: exact hits only (unless trusting fuzzy ones).

        Raises
        ------
        ArgumentError
            When ``fp`` is not a :class:`Fingerprint` or ``key`` is not usable (also a TypeError).
        """
        start = time.perf_counter()
        if not isinstance(fp, Fingerprint):
            raise ArgumentError(f"fp must be a lumina.cache.Fingerprint, got {type(fp).__name__}")
        return self._answer(fp, self._key(key), start)

    def _answer(self, fp: Fingerprint, k: str | tuple, start: float) -> str | None:
        with self._lock:
            entry, kind, score = self._exact(k, fp), "exact", 1.0
            if entry is None and self.trust_fuzzy_hits_unverified:
                (entry, score), kind = self._fuzzy(k, fp), "fuzzy"
            return self._found(entry, kind, score, fp, start).text

    def _found(self, entry: _Entry | None, kind: str, score: float, fp: Fingerprint,
               start: float) -> CacheMatch:
        if entry is None:
            kind, score = "miss", 0.0
        else:
            self._touch(entry)
        self._count(kind, time.perf_counter() - start)
        return CacheMatch(kind, None if entry is None else entry.text, score, fp)

    def put(self, audio: npt.ArrayLike | Fingerprint, key: Hashable, text: str, *,
            sample_rate: int = SAMPLE_RATE) -> None:
        """Remember that this phrase under ``key`` reads ``text``.

        ``audio`` is anything the audio gateway takes, or the :class:`Fingerprint` of it
        (``CacheMatch.fingerprint``: no second analysis).

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
        self._insert(k, self._fingerprint(audio, sample_rate), text, persist=True)

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
                exact_hits=self._exact_hits, fuzzy_hits=self._fuzzy_hits, misses=self._misses,
                mean_lookup_s=self._total_s / self._lookups if self._lookups else 0.0,
                p99_lookup_s=float(np.percentile(times, 99)) if times.size else 0.0)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    # ---- lookups ----------------------------------------------------------------------

    @staticmethod
    def _fingerprint(audio, sample_rate: int) -> Fingerprint:
        return audio if isinstance(audio, Fingerprint) else fingerprint(audio, sample_rate)

    def _exact(self, k: str | tuple, fp: Fingerprint) -> _Entry | None:
        return self._entries.get((k, fp.exact_key))

    def _fuzzy(self, k: str | tuple, fp: Fingerprint) -> tuple[_Entry | None, float]:
        index = self._index.get(k)
        return (None, 0.0) if index is None else index.best(fp, self.threshold)

    def _count(self, kind: str, seconds: float) -> None:
        self._lookups += 1
        self._total_s += seconds
        self._times.append(seconds)
        if kind == "exact":
            self._exact_hits += 1
        elif kind == "fuzzy":
            self._fuzzy_hits += 1
        else:
            self._misses += 1

    def _reset_counters(self) -> None:
        self._lookups = self._exact_hits = self._fuzzy_hits = self._misses = 0
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
            self._index.setdefault(k, DurationIndex()).add(entry)
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
        index = self._index[entry.key]
        index.remove(entry)
        if not index:
            del self._index[entry.key]
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
