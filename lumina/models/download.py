"""Robust HTTP download of one file: resume, retries, hashing, a file lock.

Only the standard library talks to the network (``urllib.request``), so
lumina needs no HTTP dependency.  The caller owns the policy (which URL,
which hashes to expect, where the file finally goes); this module only
moves bytes into a partial file and reports what it got.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lumina.errors import ArgumentError

__all__ = ["TransferError", "FetchResult", "RetryPolicy", "fetch", "file_lock", "get_json"]

_CHUNK = 1 << 16
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_USER_AGENT = "lumina-model-store"


class TransferError(Exception):
    """The transfer failed for good (after retries); ``reason`` says why.

    Private to the models layer: :class:`~lumina.models.ModelStore` turns it
    into the public :class:`lumina.errors.DownloadError` with instructions.
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try.

    Attributes
    ----------
    attempts : int
        Total tries of one transfer (first try included).
    backoff : float
        Seconds before the second try; doubles after every failure.
    max_backoff : float
        Upper bound of one pause.
    timeout : float
        Socket timeout in seconds, applied to the connect and to every read,
        so a stalled server is detected without bounding the whole transfer.
    """

    attempts: int = 4
    backoff: float = 1.0
    max_backoff: float = 30.0
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise ArgumentError(f"RetryPolicy: attempts must be an int >= 1, got {self.attempts!r}")
        for name in ("backoff", "max_backoff", "timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
                    or (name == "timeout" and value == 0):
                raise ArgumentError(f"RetryPolicy: {name} must be a number of seconds "
                                    f"{'> 0' if name == 'timeout' else '>= 0'}, got {value!r}")

    def pause(self, failures: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** (failures - 1))


@dataclass(frozen=True)
class FetchResult:
    """What landed in the partial file: its size and hex digests of all of it.

    ``reused`` counts the bytes that were already in the partial file and kept
    (0 when the transfer started from zero).
    """

    size: int
    sha1: str
    sha256: str
    attempts: int
    reused: int


class _Hashes:
    """SHA-1 and SHA-256 of the partial file, kept in step with its bytes."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.reused = 0  # bytes from before this fetch() still in the file
        self.sha1 = hashlib.sha1(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self.sha1.update(chunk)
        self.sha256.update(chunk)
        self.size += len(chunk)

    @classmethod
    def of_file(cls, path: Path) -> _Hashes:
        h = cls()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        h.reused = h.size
        return h


def _request(url: str, offset: int) -> urllib.request.Request:
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.Request(url, headers=headers)


def fetch(url: str, partial: Path, *, policy: RetryPolicy, progress: bool = True,
          desc: str | None = None) -> FetchResult:
    """Download *url* into *partial*, resuming from what *partial* already holds.

    Parameters
    ----------
    url : str
        HTTP(S) URL of the file.
    partial : Path
        The partial file; bytes already in it are kept when the server
        honours ``Range`` (answers 206) and discarded when it answers 200.
    policy : RetryPolicy
        Attempts, backoff and socket timeout.
    progress : bool
        Show a tqdm bar on stderr when stderr is a terminal.
    desc : str, optional
        Label of the progress bar.

    Returns
    -------
    FetchResult
        Size and digests of the whole partial file.

    Raises
    ------
    TransferError
        After the last attempt failed, or at once on a permanent HTTP error (4xx).
    """
    hashes = _Hashes.of_file(partial) if partial.exists() else _Hashes()
    failures = 0
    while True:
        try:
            _transfer(url, partial, hashes, policy.timeout, progress, desc)
            return FetchResult(hashes.size, hashes.sha1.hexdigest(),
                               hashes.sha256.hexdigest(), failures + 1, hashes.reused)
        except TransferError as exc:
            failures += 1
            if exc.permanent or failures >= policy.attempts:
                raise
            time.sleep(policy.pause(failures))
        except _RangeRejected:
            # The server cannot serve from our offset (416, or a partial
            # file larger than the remote one): start again from zero.
            partial.unlink(missing_ok=True)
            hashes = _Hashes()
            failures += 1
            if failures >= policy.attempts:
                raise TransferError("the server rejected every resume request") from None


class _RangeRejected(Exception):
    pass


def _transfer(url: str, partial: Path, hashes: _Hashes, timeout: float, progress: bool,
              desc: str | None) -> None:
    offset = hashes.size
    try:
        resp = urllib.request.urlopen(_request(url, offset), timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416:
            raise _RangeRejected() from None
        raise TransferError(f"HTTP {exc.code} {exc.reason}",
                            permanent=400 <= exc.code < 500 and exc.code not in (408, 429)) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise TransferError(_describe(exc)) from None
    with resp:
        total = _plan(resp, partial, hashes, offset)
        _copy_body(resp, partial, hashes, total, progress, desc)


def _plan(resp: http.client.HTTPResponse, partial: Path, hashes: _Hashes, offset: int) -> int | None:
    """Decide between append (206) and restart (200); return the expected total size."""
    length = resp.headers.get("Content-Length")
    if resp.status == 206:
        m = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", "").strip())
        if m is None or int(m.group(1)) != offset:
            raise _RangeRejected()
        return None if m.group(3) == "*" else int(m.group(3))
    # 200: the server ignored Range (or we asked for none): the body is the whole file.
    if offset:
        with open(partial, "wb"):
            pass
        hashes.reset()
    return int(length) if length is not None else None


def _copy_body(resp: http.client.HTTPResponse, partial: Path, hashes: _Hashes,
               total: int | None, progress: bool, desc: str | None) -> None:
    from tqdm import tqdm

    bar = tqdm(total=total, initial=hashes.size, unit="B", unit_scale=True,
               unit_divisor=1024, desc=desc, file=sys.stderr, leave=False,
               disable=None if progress else True)
    try:
        with open(partial, "ab") as out:
            while True:
                try:
                    chunk = resp.read(_CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise TransferError(_describe(exc)) from None
                if not chunk:
                    break
                out.write(chunk)
                hashes.update(chunk)
                bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
    finally:
        bar.close()
    if total is not None and hashes.size < total:
        raise TransferError(f"connection closed after {hashes.size} of {total} bytes")


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc) or type(exc).__name__


def get_json(url: str, *, timeout: float) -> object:
    """GET *url* and parse JSON; raise TransferError on any failure."""
    import json

    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT,
                                               "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        exc.close()
        raise TransferError(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        raise TransferError(_describe(exc)) from None


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive cross-process lock on *path* (created if missing).

    ``flock`` locks are released by the kernel when the process dies, so a
    crashed download never leaves the store locked.  The lock file itself
    is never deleted: deleting it could let two processes lock two
    different files of the same name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _lock(fd)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


if sys.platform == "win32":  # pragma: no cover - lumina is tested on Linux
    import msvcrt

    def _lock(fd: int) -> None:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:  # LK_LOCK gives up after 10 s; keep waiting
                continue

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
