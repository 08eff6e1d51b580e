"""The SQLite file behind a persistent :class:`~lumina.cache.PhraseCache`.

It holds fingerprints and text, never audio.  The file is made 0600 in a 0700
directory.  Nothing here raises on a bad file: an unreadable file is replaced
by a fresh one, and a file that cannot be written any more is dropped, each
with a :class:`CacheWarning`; the cache then goes on in memory.
"""

from __future__ import annotations

import os
import pathlib
import sqlite3
import warnings
from collections.abc import Iterator

import numpy as np

from lumina._core.fingerprint import FEATURE_VERSION, Fingerprint

__all__ = ["CacheFile", "CacheWarning", "open_cache_file"]


class CacheWarning(UserWarning):
    """The cache file could not be used; the cache carries on empty or in memory."""


_COLUMNS = ("key, exact, text, features, n_frames, n_feat, summary, duration, wideband, used")


def open_cache_file(path: pathlib.Path, stacklevel: int) -> tuple[CacheFile | None, list]:
    """Open (or create) the file; return it and its rows ``(key, fp, text, used)``, oldest first.

    An unreadable file warns and is replaced by an empty one; when even that
    fails, the result is ``(None, [])`` (memory only).  ``stacklevel`` points
    the warnings at the caller's caller.
    """
    try:
        store = CacheFile(path)
        return store, list(store.rows())
    except (sqlite3.Error, OSError, ValueError, TypeError) as exc:
        warnings.warn(f"phrase cache file {path} is unreadable ({exc}); starting with an empty "
                      "cache and a fresh file", CacheWarning, stacklevel=stacklevel + 1)
    try:
        path.unlink(missing_ok=True)
        return CacheFile(path), []
    except (sqlite3.Error, OSError) as again:
        warnings.warn(f"phrase cache file {path} cannot be recreated ({again}); "
                      "the cache works in memory only", CacheWarning, stacklevel=stacklevel + 1)
        return None, []


class CacheFile:
    """One open cache file.  Every write is one transaction.

    Raises
    ------
    sqlite3.Error, OSError
        From the constructor and :meth:`rows` only (see :func:`open_cache_file`).
    """

    def __init__(self, path: pathlib.Path) -> None:
        if not path.parent.exists():
            path.parent.mkdir(parents=True, mode=0o700)
            os.chmod(path.parent, 0o700)  # mkdir's mode is filtered by the umask
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(path, 0o600)
        self._db: sqlite3.Connection | None = _connect(path)

    @property
    def usable(self) -> bool:
        """False once a write failed (the cache then lives in memory only)."""
        return self._db is not None

    def rows(self) -> Iterator[tuple[str, Fingerprint, str, int]]:
        """Every entry as ``(key, fingerprint, text, last use)``, least recently used first."""
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM entries ORDER BY used").fetchall()
        for key, exact, text, feats, n_frames, n_feat, summ, duration, wide, used in rows:
            features = np.frombuffer(feats, dtype="<f4").reshape(n_frames, n_feat)
            fp = Fingerprint(features, np.frombuffer(summ, dtype="<f4"), int(exact, 16), duration,
                             bool(wide))
            yield key, fp, text, used

    def put(self, key: str, fp: Fingerprint, text: str, used: int,
            evicted: list[tuple[object, Fingerprint]]) -> None:
        """Store one entry and delete the evicted ones (str keys only are stored)."""
        row = (key, _hex(fp), text, fp.features.astype("<f4").tobytes(), fp.n_frames,
               fp.features.shape[1], fp.summary.astype("<f4").tobytes(), fp.duration,
               int(fp.wideband), used)
        self._many([
            (f"INSERT OR REPLACE INTO entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
             [row]),
            ("DELETE FROM entries WHERE key = ? AND exact = ?",
             [(k, _hex(f)) for k, f in evicted if isinstance(k, str)]),
        ])

    def touch(self, key: object, fp: Fingerprint, used: int) -> None:
        """Record a use of an entry (the order the LRU keeps across runs)."""
        self._many([("UPDATE entries SET used = ? WHERE key = ? AND exact = ?",
                     [(used, key, _hex(fp))])])

    def forget(self, text: str) -> None:
        """Delete every entry whose text is ``text``."""
        self._many([("DELETE FROM entries WHERE text = ?", [(text,)])])

    def clear(self) -> None:
        """Delete every entry."""
        self._many([("DELETE FROM entries", [()])])

    def _many(self, statements: list[tuple[str, list[tuple]]]) -> None:
        """Run statements in one transaction; on failure warn and stop using the file."""
        if self._db is None:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for sql, params in statements:
                self._db.executemany(sql, params)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            # About the PhraseCache method's caller (the depth varies by a frame or two).
            warnings.warn(f"phrase cache file could not be updated ({exc}); the cache goes on "
                          "in memory only", CacheWarning, stacklevel=4)
            self.close()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None


def _hex(fp: Fingerprint) -> str:
    return f"{fp.exact_key:016x}"


def _connect(path: pathlib.Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    try:
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
    except BaseException:
        db.close()
        raise
    return db
