"""Settings of ``lumina serve`` and the catalogue of the models it serves.

A model name in a request reaches only :class:`ModelCatalog`, which knows two
kinds of names: the ones the operator configured (a registry name, or a name
given to a model file on the command line) and the registry models installed
in the model store. A request can never name a file path.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from lumina.audio.vad import DEFAULT_VAD, VAD_KINDS
from lumina.errors import ModelNotFoundError
from lumina.models import ModelStore, validate_model_file

__all__ = ["ALIASES", "API_KEY_ENV", "ModelCatalog", "ServedModel", "ServerConfig",
           "parse_model_option"]

#: Environment variable read for the API key when none is given.
API_KEY_ENV = "LUMINA_API_KEY"

#: Model names OpenAI clients send by default; they mean the server's default model.
ALIASES = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")

_MiB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """Everything a server needs to know, with safe defaults.

    Parameters
    ----------
    models : mapping of str to str or path-like
        Served name -> registry name or model file. The first entry is the
        default model (what ``whisper-1`` and a missing ``model`` field mean).
        Default ``{"base.en": "base.en"}``.
    serve_installed : bool, default True
        Also serve every registry model installed in ``store``, loaded on first use.
    store : ModelStore, optional
        Where registry names are looked up (default ``ModelStore()``).
    workers : int, default 1
        Requests decoded at the same time per model, each by one worker; the
        workers share one copy of the weights (one whisper.cpp state each).
    threads : int, optional
        CPU threads per worker; default the CPUs divided among the workers (at least 1).
    max_queue : int, default 16
        Requests that may wait for a worker, per model; one more is answered 503.
    request_timeout_s : float, default 300.0
        Longest time a request may wait and run; then it is stopped and answered 504.
    max_upload_bytes : int, default 25 MiB
        Largest request body (OpenAI's limit); larger ones are answered 413.
    api_key : str, optional
        When set, every route but ``/health`` needs ``Authorization: Bearer <key>``.
        Default: the ``LUMINA_API_KEY`` environment variable, if set.
    cache : bool, default False
        One shared in-memory :class:`~lumina.PhraseCache` for every worker.
    device : str, default "auto"
        Device of the engines (see :class:`~lumina.Engine`).
    max_realtime_sessions : int, default 16
        Open realtime WebSocket sessions; more are refused with an ``error`` event.
    realtime_step_s : float, default 0.25
        Seconds of new audio between partial decodes of a realtime session.
    realtime_lockstep : bool, default False
        Realtime streams decode every partial step (events then depend only on
        the audio; used by tests); False skips steps while a decode runs.
    realtime_vad : str, default "energy+silero"
        The voice activity detector of realtime sessions' turn detection
        (``vad=`` of :class:`lumina.Segmenter`): by default the energy VAD's
        edges, each turn confirmed by Silero, so noise and music open no turn.
    ui : bool, default True
        Serve the browser page at ``/`` (and its files under ``/ui/``), which
        needs no API key to open; False leaves those routes out (``lumina serve --no-ui``).
    engine_factory : callable, optional
        ``factory(path, threads=..., cache=..., device=..., concurrency=N)`` -> one
        engine (a :class:`lumina.SpeechEngine`) serving the N workers of a model,
        N calls at once; default :class:`lumina.Engine` with
        ``concurrency=N, shared_weights=True``.
    """

    models: Mapping[str, str | os.PathLike[str]] = dataclasses.field(
        default_factory=lambda: {"base.en": "base.en"})
    serve_installed: bool = True
    store: ModelStore | None = None
    workers: int = 1
    threads: int | None = None
    max_queue: int = 16
    request_timeout_s: float = 300.0
    max_upload_bytes: int = 25 * _MiB
    api_key: str | None = None
    cache: bool = False
    device: str = "auto"
    max_realtime_sessions: int = 16
    realtime_step_s: float = 0.25
    realtime_lockstep: bool = False
    realtime_vad: str = DEFAULT_VAD
    ui: bool = True
    engine_factory: Callable | None = None

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("models must name at least one model to serve")
        _check_int("workers", self.workers, 1)
        _check_int("max_queue", self.max_queue, 0)
        _check_int("max_upload_bytes", self.max_upload_bytes, 1)
        _check_int("max_realtime_sessions", self.max_realtime_sessions, 0)
        if self.threads is not None:
            _check_int("threads", self.threads, 1)
        if not self.request_timeout_s > 0:
            raise ValueError(f"request_timeout_s must be > 0, got {self.request_timeout_s}")
        if self.realtime_vad not in VAD_KINDS:
            raise ValueError(f"realtime_vad must be one of {', '.join(VAD_KINDS)}, got {self.realtime_vad!r}")
        if not self.realtime_step_s > 0:
            raise ValueError(f"realtime_step_s must be > 0, got {self.realtime_step_s}")
        for name in self.models:
            if not isinstance(name, str) or not name or name in ALIASES:
                raise ValueError(f"served model name {name!r} is empty or an alias of the default")

    @property
    def default_model(self) -> str:
        """The first configured model's served name."""
        return next(iter(self.models))

    def resolved_api_key(self) -> str | None:
        """The API key: ``api_key``, else ``$LUMINA_API_KEY``, else None (no key needed)."""
        key = self.api_key if self.api_key is not None else os.environ.get(API_KEY_ENV)
        return key or None

    def threads_per_worker(self) -> int:
        """CPU threads of one worker: given, or the CPUs shared among the workers."""
        if self.threads is not None:
            return self.threads
        return max(1, (os.cpu_count() or 1) // self.workers)


def parse_model_option(value: str) -> tuple[str, str]:
    """``NAME=MODEL`` -> (NAME, MODEL); a registry name serves as itself; a file as its stem
    without the ``ggml-`` prefix (``models/ggml-tiny.en.bin`` -> ``tiny.en``)."""
    name, sep, model = value.partition("=")
    if sep and name and model:
        return name, model
    if value.endswith(".bin") or "/" in value or "\\" in value:
        stem = Path(value).name.removesuffix(".bin")
        return stem.removeprefix("ggml-"), value
    return value, value


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclasses.dataclass(frozen=True)
class ServedModel:
    """A model the server can serve: its name, its file and what the file says about it."""

    name: str
    path: Path
    english_only: bool
    created: int


class ModelCatalog:
    """Maps request model names to validated model files; nothing else reaches the store.

    Configured models are resolved (and their files validated) when the
    catalogue is built, so a bad configuration fails at start-up.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.default = config.default_model
        self._store = config.store or ModelStore()
        self._serve_installed = config.serve_installed
        self._lock = threading.Lock()
        self._models: dict[str, ServedModel] = {
            name: self._describe(name, self._store.find(source))
            for name, source in config.models.items()}

    def names(self) -> list[ServedModel]:
        """Every model a request may name: configured ones first, then installed registry models."""
        out = list(self._models.values())
        if self._serve_installed:
            out += [ServedModel(s.name, s.path, s.entry.english_only, int(s.path.stat().st_mtime))
                    for s in self._store.list() if s.installed and s.name not in self._models]
        return out

    def resolve(self, name: str | None) -> ServedModel:
        """The served model a request's ``model`` field means.

        Raises
        ------
        ModelNotFoundError
            The name is neither configured, an alias, nor an installed registry model.
        ModelIntegrityError
            An installed registry model's file is broken.
        """
        if not name or name in ALIASES:
            name = self.default
        with self._lock:
            found = self._models.get(name)
        if found is not None:
            return found
        if self._serve_installed and isinstance(name, str) and name in self._store.registry \
                and self._store.path(name).is_file():
            served = self._describe(name, self._store.find(name))
            with self._lock:
                return self._models.setdefault(name, served)
        known = ", ".join(m.name for m in self.names())
        raise ModelNotFoundError(f"The model {name!r} does not exist on this server; "
                                 f"served models: {known}")

    @staticmethod
    def _describe(name: str, path: Path) -> ServedModel:
        info = validate_model_file(path)
        return ServedModel(name, path, bool(info.english_only), int(path.stat().st_mtime))
