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
import json
import os
import pathlib
import sqlite3
import threading
import time
import warnings
from collections.abc import Hashable

import numpy as np
import numpy.typing as npt

from lumina._core.fingerprint import FEATURE_VERSION, Fingerprint, best_match
from lumina.cache.fingerprints import SAMPLE_RATE, fingerprint

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
_NONSTR_PREFIX = "\x1fkey:"


class CacheWarning(UserWarning):
    """The cache file could not be used; the cache carries on empty or in memory."""


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


def _tag(value: object) -> list:
    # bool before int: True must not collide with 1.
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, int):
        return ["i", str(value)]
    if isinstance(value, float):
        return ["f", value.hex()]
    if value is None:
        return ["n"]
    if isinstance(value, tuple):
        return ["t", [_tag(v) for v in value]]
    raise TypeError(f"cache key part {value!r} of type {type(value).__name__} cannot be stored")


def canonical_key(key: Hashable) -> str:
    """The stable string a cache key is stored under.

    ``str`` keys are used as they are; other keys must be built from str, int, float, bool,
    None and tuples, and become a tagged JSON text, so ``1``, ``1.0`` and ``True`` differ.

    Raises
    ------
    TypeError
        For keys holding other types.
    """
    if isinstance(key, str):
        return key
    return _NONSTR_PREFIX + json.dumps(_tag(key), separators=(",", ":"))


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

    Notes
    -----
    ``key`` must carry everything that changes a transcript (model and its hash, language,
    prompt, decoding options): entries made under another key never match. All methods are
    thread-safe.
    """

    def __init__(self, max_entries: int = 1000, *, threshold: float | None = None,
                 path: str | os.PathLike | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be an int >= 1, got {max_entries!r}")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"max_bytes must be an int >= 1, got {max_bytes!r}")
        thr = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        if not 0.0 < thr <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.threshold = thr
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[tuple, _Entry] = collections.OrderedDict()
        self._groups: dict[str | tuple, dict[int, _Entry]] = {}
        self._index: dict[str | tuple, tuple] = {}  # per key: (entries, durations, summaries)
        self._bytes = 0
        self._reset_counters()
        self._db: sqlite3.Connection | None = None
        self._tick = 0
        if path is not None:
            self._open(pathlib.Path(path))

    # ---- public API -------------------------------------------------------------------

    def get(self, audio: npt.ArrayLike, key: Hashable, *, sr: int = SAMPLE_RATE) -> str | None:
        """The cached text of this phrase under ``key``, or None.

        Raises
        ------
        AudioFormatError
            When ``audio`` is not usable.
        TypeError
            When ``key`` is not hashable (or, for a persistent cache, not storable).
        """
        start = time.perf_counter()
        k = self._key(key)
        return self._lookup(fingerprint(audio, sr), k, start)

    def lookup(self, fp: Fingerprint, key: Hashable) -> str | None:
        """The cached text of an already fingerprinted phrase under ``key``, or None.

        :meth:`get` is ``lookup(fingerprint(audio, sr), key)``; this form lets a caller that
        fingerprints once (for ``get`` then ``put``) skip the second analysis.

        Raises
        ------
        TypeError
            When ``fp`` is not a :class:`Fingerprint` or ``key`` is not usable.
        """
        start = time.perf_counter()
        if not isinstance(fp, Fingerprint):
            raise TypeError(f"fp must be a lumina.Fingerprint, got {type(fp).__name__}")
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

    def put(self, audio: npt.ArrayLike, key: Hashable, text: str, *, sr: int = SAMPLE_RATE) -> None:
        """Remember that this phrase under ``key`` reads ``text``.

        Raises
        ------
        AudioFormatError
            When ``audio`` is not usable.
        TypeError
            When ``text`` is not a str or ``key`` is not usable.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        k = self._key(key)
        fp = fingerprint(audio, sr)
        self._insert(k, fp, text, persist=True)

    def forget(self, text: str) -> int:
        """Drop every entry whose text is ``text``; returns how many were dropped."""
        with self._lock:
            doomed = [e for e in self._entries.values() if e.text == text]
            for entry in doomed:
                self._remove(entry)
            self._db_run("DELETE FROM entries WHERE text = ?", [(text,)])
            return len(doomed)

    def clear(self) -> None:
        """Drop every entry and reset the counters (the file too, for a persistent cache)."""
        with self._lock:
            self._entries.clear()
            self._groups.clear()
            self._index.clear()
            self._bytes = 0
            self._reset_counters()
            self._db_run("DELETE FROM entries", [()])

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
        except TypeError:
            if self._db is not None:
                raise TypeError(
                    f"key {key!r} cannot be stored in a persistent cache: use a str, or a tuple "
                    "of str, int, float, bool and None") from None
            hash(key)  # raises TypeError for unhashable keys
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
            if persist and isinstance(k, str):
                self._db_put(entry, evicted)

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
        self._db_run("UPDATE entries SET used = ? WHERE key = ? AND exact = ?",
                     [(self._tick, entry.key, f"{entry.fp.exact_key:016x}")])

    # ---- persistence ------------------------------------------------------------------

    def _open(self, path: pathlib.Path) -> None:
        try:
            if not path.parent.exists():
                path.parent.mkdir(parents=True, mode=0o700)
                os.chmod(path.parent, 0o700)  # mkdir's mode is filtered by the umask
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            os.chmod(path, 0o600)
            self._db = self._connect(path)
            self._load()
        except (sqlite3.Error, OSError, ValueError, TypeError) as exc:
            self._recover(path, exc)

    @staticmethod
    def _connect(path: pathlib.Path) -> sqlite3.Connection:
        db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        with db:
            db.execute("BEGIN")
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
            row = db.execute("SELECT value FROM meta WHERE name = 'feature_version'").fetchone()
            if row is not None and row[0] != str(FEATURE_VERSION):
                # Fingerprints of another feature version would never match (and the table
                # may lack columns): start over.
                db.execute("DROP TABLE IF EXISTS entries")
            db.execute(
                "CREATE TABLE IF NOT EXISTS entries (key TEXT NOT NULL, exact TEXT NOT NULL, "
                "text TEXT NOT NULL, features BLOB NOT NULL, n_frames INTEGER NOT NULL, "
                "n_feat INTEGER NOT NULL, summary BLOB NOT NULL, duration REAL NOT NULL, "
                "wideband INTEGER NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (key, exact))")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('feature_version', ?)",
                       (str(FEATURE_VERSION),))
            db.execute("COMMIT")
        return db

    def _load(self) -> None:
        rows = self._db.execute(
            "SELECT key, exact, text, features, n_frames, n_feat, summary, duration, wideband, "
            "used FROM entries ORDER BY used").fetchall()
        for key, exact, text, feats, n_frames, n_feat, summ, duration, wide, used in rows:
            features = np.frombuffer(feats, dtype="<f4").reshape(n_frames, n_feat)
            fp = Fingerprint(features, np.frombuffer(summ, dtype="<f4"), int(exact, 16), duration,
                             bool(wide))
            self._insert(key, fp, text, persist=False, tick=used)

    def _recover(self, path: pathlib.Path, exc: BaseException) -> None:
        warnings.warn(f"phrase cache file {path} is unreadable ({exc}); starting with an empty "
                      "cache and a fresh file", CacheWarning, stacklevel=3)
        self._close_db()
        self._entries.clear()
        self._groups.clear()
        self._index.clear()
        self._bytes = 0
        try:
            path.unlink(missing_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            os.chmod(path, 0o600)
            self._db = self._connect(path)
        except (sqlite3.Error, OSError) as again:
            self._close_db()
            warnings.warn(f"phrase cache file {path} cannot be recreated ({again}); "
                          "the cache works in memory only", CacheWarning, stacklevel=3)

    def _db_put(self, entry: _Entry, evicted: list[_Entry]) -> None:
        fp = entry.fp
        row = (entry.key, f"{fp.exact_key:016x}", entry.text,
               fp.features.astype("<f4").tobytes(), fp.n_frames, fp.features.shape[1],
               fp.summary.astype("<f4").tobytes(), fp.duration, int(fp.wideband), self._tick)
        self._db_many([
            ("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [row]),
            ("DELETE FROM entries WHERE key = ? AND exact = ?",
             [(e.key, f"{e.fp.exact_key:016x}") for e in evicted if isinstance(e.key, str)]),
        ])

    def _db_run(self, sql: str, params: list[tuple]) -> None:
        self._db_many([(sql, params)])

    def _db_many(self, statements: list[tuple[str, list[tuple]]]) -> None:
        """Run statements in one transaction; on failure warn and carry on in memory."""
        if self._db is None:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for sql, params in statements:
                self._db.executemany(sql, params)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            warnings.warn(f"phrase cache file could not be updated ({exc}); the cache goes on "
                          "in memory only", CacheWarning, stacklevel=4)
            self._close_db()

    def _close_db(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None

    def close(self) -> None:
        """Close the cache file (entries stay usable in memory)."""
        with self._lock:
            self._close_db()

    def __enter__(self) -> PhraseCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
