"""The model store: where whisper.cpp models live, how they arrive.

:data:`REGISTRY` lists the whisper.cpp models published on the Hugging Face
hub (``ggerganov/whisper.cpp``).  :class:`ModelStore` keeps them in one
directory, downloads them with resume, retries and a cross-process lock,
and checks every file (size, hash, structure) before it is used.

Environment
-----------
``LUMINA_HOME``
    Models go to ``$LUMINA_HOME/models`` (default: the user cache
    directory of ``platformdirs``, e.g. ``~/.cache/lumina/models``).
``LUMINA_OFFLINE=1``
    Never touch the network; a missing model raises
    :class:`~lumina.errors.ModelNotFoundError` saying which file to put where.
``LUMINA_MODEL_URL_BASE``
    Base URL of the model files (a mirror, or a local server in tests); a
    model's URL is ``{base}/{filename}``.  Default
    ``https://huggingface.co/ggerganov/whisper.cpp/resolve/main``.
``LUMINA_MODEL_API_URL``
    URL of the hub's file listing (JSON list of ``{"path", "size",
    "lfs": {"oid", "size"}}``) that gives the exact size and SHA-256 of
    every file.  Defaults to the hub's listing when the URL base is the hub,
    and to none for a mirror; set it to an empty string to disable it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lumina.errors import ArgumentError, DownloadError, ModelIntegrityError, ModelNotFoundError
from lumina.models.download import (FetchResult, RetryPolicy, TransferError, fetch, file_lock,
                                    get_json)
from lumina.models.modelfile import HParams, ModelInfo, validate_model_file
from lumina.models.registry import DEFAULT_API_URL, DEFAULT_URL_BASE, REGISTRY, RegistryEntry

__all__ = [
    "DEFAULT_API_URL", "DEFAULT_URL_BASE", "HParams", "ModelInfo", "ModelStatus",
    "ModelStore", "REGISTRY", "RegistryEntry", "RetryPolicy", "validate_model_file",
]

@dataclass(frozen=True)
class ModelStatus:
    """A registry entry and its state in one store (see :meth:`ModelStore.list`)."""

    name: str
    entry: RegistryEntry
    path: Path
    installed: bool
    size_on_disk: int | None


@dataclass(frozen=True)
class _Remote:
    size: int | None
    sha256: str | None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _default_root() -> Path:
    home = os.environ.get("LUMINA_HOME")
    if home:
        return Path(home).expanduser() / "models"
    import platformdirs

    return Path(platformdirs.user_cache_dir("lumina")) / "models"


class ModelStore:
    """A directory of whisper.cpp models with checked downloads.

    Parameters
    ----------
    root : path-like, optional
        Directory of the model files.  Default ``$LUMINA_HOME/models``, else
        the user cache directory (``platformdirs.user_cache_dir('lumina')/models``).
    offline : bool, optional
        Never use the network.  Default: true when ``LUMINA_OFFLINE=1``.
    url_base : str, optional
        Base URL of the files.  Default ``$LUMINA_MODEL_URL_BASE`` or the hub.
    api_url : str, optional
        Hub file listing giving exact sizes and SHA-256 digests; ``''``
        disables it.  Default ``$LUMINA_MODEL_API_URL``, else the hub's listing
        when *url_base* is the hub, else none.
    retry : RetryPolicy, optional
        Attempts, exponential backoff and socket timeout of downloads.
    registry : mapping of str to RegistryEntry, optional
        The known models (default :data:`REGISTRY`).

    Notes
    -----
    One download of a file holds an exclusive lock on ``<file>.lock``; a
    second process asking for the same model waits, then finds the finished
    file.  Bytes arrive in ``<file>.partial`` (a later download resumes from
    it with an HTTP Range request) and are moved into place with an atomic
    rename only after size, hashes and structure were checked, so the model
    path never holds a half-written or unverified file.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, *,
                 offline: bool | None = None, url_base: str | None = None,
                 api_url: str | None = None, retry: RetryPolicy | None = None,
                 registry: Mapping[str, RegistryEntry] | None = None) -> None:
        self.root = _as_path(root, "root", "a path") if root is not None else _default_root()
        self.offline = _env_flag("LUMINA_OFFLINE") if offline is None else bool(offline)
        base = url_base or os.environ.get("LUMINA_MODEL_URL_BASE") or DEFAULT_URL_BASE
        self.url_base = base.rstrip("/")
        if api_url is None:
            api_url = os.environ.get("LUMINA_MODEL_API_URL")
        if api_url is None:
            api_url = DEFAULT_API_URL if self.url_base == DEFAULT_URL_BASE else ""
        self.api_url = api_url or None
        self.retry = retry if retry is not None else RetryPolicy()
        self.registry = registry if registry is not None else REGISTRY

    def __repr__(self) -> str:
        return f"ModelStore(root={str(self.root)!r}, offline={self.offline})"

    # -- names and places -------------------------------------------------

    def entry(self, name: str) -> RegistryEntry:
        """Return the registry entry of *name* or raise ModelNotFoundError (ArgumentError for a non-str)."""
        if not isinstance(name, str):
            raise ArgumentError(f"a model name must be a str, not {type(name).__name__}")
        try:
            return self.registry[name]
        except KeyError:
            raise ModelNotFoundError(
                f"unknown model {name!r}; known models: {', '.join(self.registry)} "
                "(or pass the path of a ggml-*.bin file)") from None

    def url(self, name: str) -> str:
        """Return the URL this store downloads *name* from."""
        return f"{self.url_base}/{self.entry(name).filename}"

    def path(self, name: str) -> Path:
        """Return where model *name* lives in this store (whether or not it is there)."""
        return self.root / self.entry(name).filename

    # -- lookup -----------------------------------------------------------

    def find(self, name_or_path: str | os.PathLike[str]) -> Path:
        """Return the path of an installed, valid model; never downloads.

        Parameters
        ----------
        name_or_path : str or path-like
            A registry name (``'tiny.en'``) or the path of a model file.

        Raises
        ------
        ModelNotFoundError
            If the file is not there; the message names the exact file, the
            directory to put it in and the URL to get it from.
        ModelIntegrityError
            If the file is there but broken or does not match its published hash.
        """
        if isinstance(name_or_path, str) and name_or_path in self.registry:
            entry, dest = self.registry[name_or_path], self.path(name_or_path)
            if not dest.is_file():
                raise ModelNotFoundError(self._instructions(entry, "is not installed"))
            self._check_installed(entry, dest)
            return dest
        p = _as_path(name_or_path)
        if not p.is_file():
            if isinstance(name_or_path, str) and os.sep not in name_or_path \
                    and not name_or_path.endswith(".bin"):
                self.entry(name_or_path)  # raises: unknown name
            raise ModelNotFoundError(f"no model file at {p}")
        validate_model_file(p)
        return p

    def verify(self, name_or_path: str | os.PathLike[str]) -> ModelInfo:
        """Check a model fully, hashing it, and return what was learned.

        A registry model is compared with its published SHA-1, else with the
        SHA-256 the hub listed when it was downloaded.  A path is checked for
        structure only (there is nothing to compare its hash with).

        Raises
        ------
        ModelNotFoundError, ModelIntegrityError
            As :meth:`find`.
        """
        if isinstance(name_or_path, str) and name_or_path in self.registry:
            entry, dest = self.registry[name_or_path], self.path(name_or_path)
            if not dest.is_file():
                raise ModelNotFoundError(self._instructions(entry, "is not installed"))
            stamp = _read_stamp(dest)
            info = validate_model_file(
                dest, expected_sha1=entry.sha1,
                expected_sha256=None if entry.sha1 else stamp.get("sha256"))
            if info.sha1 or info.sha256:  # something was compared: record it
                _write_stamp(dest, info.sha1, info.sha256)
            return info
        return validate_model_file(self.find(name_or_path))

    def list(self) -> list[ModelStatus]:
        """Return every registry model with whether (and how big) it is installed here."""
        out = []
        for name, entry in self.registry.items():
            p = self.root / entry.filename
            size = p.stat().st_size if p.is_file() else None
            out.append(ModelStatus(name, entry, p, size is not None, size))
        return out

    def remove(self, name: str) -> bool:
        """Delete model *name* (and any partial download); return whether it was there."""
        dest = self.path(name)
        if not self.root.is_dir():
            return False
        with file_lock(_sibling(dest, ".lock")):
            existed = dest.is_file()
            for p in (dest, _sibling(dest, ".partial"), _sibling(dest, ".verified")):
                p.unlink(missing_ok=True)
        return existed

    # -- download ---------------------------------------------------------

    def download(self, name: str, *, progress: bool = True) -> Path:
        """Return the path of model *name*, downloading it first if needed.

        Parameters
        ----------
        name : str
            A registry name.
        progress : bool
            Show a progress bar on stderr (only when stderr is a terminal).

        Raises
        ------
        ModelNotFoundError
            An unknown name, or offline mode; the message says which file to
            put in which directory.
        DownloadError
            The file could not be fetched after all retries (network, server
            or disk); the message says why, and which file to put where.
        ModelIntegrityError
            If the downloaded bytes have the wrong size, hash or structure
            (the partial file is deleted; nothing is installed).
        """
        entry, dest = self.entry(name), self.path(name)
        if self.offline:
            if dest.is_file():
                return self.find(name)
            raise ModelNotFoundError(self._instructions(
                entry, "is not installed and offline mode (LUMINA_OFFLINE) forbids downloads"))
        self.root.mkdir(parents=True, exist_ok=True)
        with file_lock(_sibling(dest, ".lock")):
            if dest.is_file():
                try:
                    return self.find(name)  # installed, maybe by a process we waited for
                except ModelIntegrityError:
                    pass  # broken file: download a good one over it
            self._fetch_checked(entry, dest, progress)
        return dest

    def _fetch_checked(self, entry: RegistryEntry, dest: Path, progress: bool) -> None:
        remote = self._remote(entry)
        partial = _sibling(dest, ".partial")
        got = self._fetch(entry, partial, progress)
        try:
            _check_fetched(entry, self.url(entry.name), partial, got, remote)
        except ModelIntegrityError:
            partial.unlink(missing_ok=True)
            if not got.reused:
                raise
            # Bytes kept from an earlier attempt may be junk or a stale version
            # of the file: one more try from zero before giving up.
            got = self._fetch(entry, partial, progress)
            try:
                _check_fetched(entry, self.url(entry.name), partial, got, remote)
            except ModelIntegrityError:
                partial.unlink(missing_ok=True)
                raise
        os.replace(partial, dest)
        _fsync_dir(dest.parent)
        _write_stamp(dest, got.sha1, got.sha256)

    def _fetch(self, entry: RegistryEntry, partial: Path, progress: bool) -> FetchResult:
        url = self.url(entry.name)
        try:
            return fetch(url, partial, policy=self.retry, progress=progress, desc=entry.filename)
        except TransferError as exc:
            raise DownloadError(self._instructions(
                entry, f"could not be downloaded from {url} ({exc.reason})"),
                url=url, reason=exc.reason) from None

    def _remote(self, entry: RegistryEntry) -> _Remote:
        """Exact size and SHA-256 from the hub listing; unknown when unavailable."""
        if self.api_url is None:
            return _Remote(None, None)
        try:
            listing = get_json(self.api_url, timeout=self.retry.timeout)
        except TransferError:
            return _Remote(None, None)  # the download itself will report the network
        for item in listing if isinstance(listing, list) else ():
            if isinstance(item, dict) and item.get("path") == entry.filename:
                lfs = item.get("lfs") if isinstance(item.get("lfs"), dict) else {}
                size = lfs.get("size", item.get("size"))
                sha256 = lfs.get("oid") or lfs.get("sha256")
                return _Remote(size if isinstance(size, int) else None,
                               sha256.lower() if isinstance(sha256, str) else None)
        return _Remote(None, None)

    def _check_installed(self, entry: RegistryEntry, dest: Path) -> None:
        """Structure always; the hash only when the file changed since it was verified."""
        stamp = _read_stamp(dest)
        st = dest.stat()
        fresh = stamp.get("size") == st.st_size and stamp.get("mtime_ns") == st.st_mtime_ns
        if entry.sha1 is None or (fresh and stamp.get("sha1") == entry.sha1):
            validate_model_file(dest)
            return
        info = validate_model_file(dest, expected_sha1=entry.sha1)
        _write_stamp(dest, info.sha1, stamp.get("sha256") if fresh else None)

    def _instructions(self, entry: RegistryEntry, what: str) -> str:
        return (f"model {entry.name!r} {what}. Download {self.url(entry.name)} and save it "
                f"as the file {entry.filename} in the directory {self.root} "
                f"(full path {self.root / entry.filename}), or run "
                f"`lumina models download {entry.name}` when online.")


def _check_fetched(entry: RegistryEntry, url: str, partial: Path, got: FetchResult,
                   remote: _Remote) -> None:
    """Compare the downloaded bytes with every expectation, then check structure."""
    where = f"downloaded {entry.filename} from {url}"
    checks = (("size", remote.size, got.size, "bytes"),
              ("SHA-1 (published by whisper.cpp)", entry.sha1, got.sha1, ""),
              ("SHA-256 (listed by the hub)", remote.sha256, got.sha256, ""))
    for label, want, have, unit in checks:
        if want is not None and have != want:
            raise ModelIntegrityError(
                f"{where}, but its {label} is {have}{' ' + unit if unit else ''} where "
                f"{want}{' ' + unit if unit else ''} was expected; the transfer was corrupted "
                "or the server holds a different file. Nothing was installed; try again "
                "or use another mirror (LUMINA_MODEL_URL_BASE).")
    try:
        validate_model_file(partial)
    except ModelIntegrityError as exc:
        raise ModelIntegrityError(f"{where}, but it is not a valid model: {exc}. "
                                  "Nothing was installed.") from None


def _as_path(value, what: str = "a model", expected: str = "a registry name or a path") -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise ArgumentError(f"{what} must be {expected}, not {type(value).__name__}")
    return Path(value).expanduser()


def _sibling(p: Path, suffix: str) -> Path:
    return p.with_name(p.name + suffix)


def _read_stamp(dest: Path) -> dict:
    try:
        data = json.loads(_sibling(dest, ".verified").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_stamp(dest: Path, sha1: str | None, sha256: str | None) -> None:
    """Record the verified digests with the file's size and mtime (a cheap change check)."""
    st = dest.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha1": sha1, "sha256": sha256}
    tmp = _sibling(dest, f".verified.{os.getpid()}")
    tmp.write_text(json.dumps(stamp))
    os.replace(tmp, _sibling(dest, ".verified"))


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
