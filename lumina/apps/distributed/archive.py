"""``transcribe_archive``: many audio files through a Ray cluster, outputs as the local command writes them."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable

from lumina.asr.formats import FORMATS
from lumina.errors import LuminaError, MissingDependencyError

from lumina.apps.distributed.connection import connected
from lumina.apps.distributed.planner import plan_jobs
from lumina.apps.distributed.progress import Progress
from lumina.apps.distributed.records import ArchiveReport, FileResult
from lumina.apps.distributed.dispatcher import Dispatcher
from lumina.apps.distributed.worker import Transcriber, sha256_of

__all__ = ["transcribe_archive"]


def transcribe_archive(inputs: Iterable[str | os.PathLike[str]], output: str | os.PathLike[str], *,
                       model: str | os.PathLike[str] = "base.en", fmt: str = "txt",
                       speed: str = "accurate", language: str | None = None,
                       device: str = "auto", threads: int | None = None,
                       address: str | None = None, actors: int | None = None,
                       cpus_per_actor: float = 1, gpus_per_actor: float = 0,
                       overwrite: bool = False, max_attempts: int = 3,
                       model_sha256: str | None = None, progress: bool | None = None,
                       on_result: Callable[[FileResult], None] | None = None) -> ArchiveReport:
    """Transcribe audio files and directories on a Ray cluster into ``output``.

    Each worker is a Ray actor holding one :class:`lumina.Engine`; workers are
    spread over the cluster's nodes. The files written are those of
    ``lumina transcribe --output DIR --format FMT`` (folders found under an
    input directory are mirrored under ``output``). A worker that dies has its
    files given to another; a file that cannot be decoded is reported in
    :attr:`ArchiveReport.failed`; an output that exists is complete (writes
    are atomic) and its file is skipped unless ``overwrite``.

    Parameters
    ----------
    inputs : iterable of path-like
        Audio files and directories. Every node must read them at the same
        path (shared storage).
    output : path-like
        Directory of the transcripts, on the machine that calls this.
    model : str or path-like, default "base.en"
        A registry name (each node's own model store) or a model file path
        (the same path on every node).
    fmt : {"txt", "json", "srt", "vtt"}, default "txt"
    speed, language
        As for :meth:`lumina.Engine.transcribe`.
    device : str, default "auto"
        Device of each worker's engine.
    threads : int, optional
        CPU threads per worker; default the CPUs each worker reserves.
    address : str, optional
        Ray cluster to connect to (``"auto"``, ``"host:port"``, ``"ray://host:port"``);
        default Ray's own choice (``RAY_ADDRESS``, a cluster started on this
        machine, else a new local one). Ignored when Ray is already initialised.
    actors : int, optional
        Workers; default as many as the cluster's CPUs (and GPUs) fit.
    cpus_per_actor, gpus_per_actor : float, default 1 and 0
        Resources each worker reserves.
    overwrite : bool, default False
        Transcribe files again even when their output exists.
    max_attempts : int, default 3
        Workers a file may be given before it is reported failed (its
        workers died, for example a node was lost or the file crashed the backend).
    model_sha256 : str, optional
        Digest every node's model file must have. Default: the digest of
        ``model`` when it is a file this machine can read; registry models are
        checked against their published hash on each node either way.
    progress : bool, optional
        Show a progress bar (files and audio hours); default when stderr is a terminal.
    on_result : callable, optional
        Called with each file's :class:`FileResult` as it finishes (after its output is written).

    Returns
    -------
    ArchiveReport

    Raises
    ------
    MissingDependencyError
        Ray is not installed (``pip install 'lumina[ray]'``).
    OutputConflictError
        Two inputs would write the same output file.
    ModelNotFoundError, ModelIntegrityError
        A node lacks the model or has a different file.
    LuminaError
        The cluster cannot be reached or cannot fit one worker, or no worker
        can be started (the files written until then stay; a re-run goes on).
    """
    _check_options(fmt, speed, max_attempts, cpus_per_actor, gpus_per_actor)
    started = time.perf_counter()
    plan = plan_jobs(inputs, output, fmt, overwrite=overwrite)
    skipped = tuple(job.source for job in plan.done)
    if not plan.todo:
        return ArchiveReport((), (), skipped, 0, 0, 0.0, time.perf_counter() - started)
    model = _model_for_workers(model)
    if model_sha256 is None and os.path.isfile(model):
        model_sha256 = sha256_of(model)
    ray = _import_ray()
    written: list[FileResult] = []
    failed: list[FileResult] = []

    def finished(result: FileResult) -> None:
        (written if result.ok else failed).append(result)
        bar.update(result)
        if on_result is not None:
            on_result(result)

    with connected(ray, address), contextlib.closing(Progress(len(plan.todo), progress)) as bar:
        n = actors or _workers_that_fit(ray, cpus_per_actor, gpus_per_actor)
        worker = ray.remote(Transcriber).options(
            num_cpus=cpus_per_actor, num_gpus=gpus_per_actor, scheduling_strategy="SPREAD",
            max_restarts=0, max_task_retries=0)  # the dispatcher, not Ray, retries: it counts attempts
        options = dict(fmt=fmt, speed=speed, language=language, device=device,
                       threads=threads or max(1, int(cpus_per_actor)),
                       model_sha256=model_sha256)
        dispatcher = Dispatcher(ray, lambda: worker.remote(model, **options), plan.todo,
                              actors=min(n, len(plan.todo)), in_flight=2,
                              max_attempts=max_attempts, on_result=finished)
        dispatcher.run()
    audio = sum((r.audio_seconds for r in written), 0.0)
    return ArchiveReport(tuple(written), tuple(failed), skipped, dispatcher.retries,
                         dispatcher.workers_lost, audio, time.perf_counter() - started)


def _check_options(fmt: str, speed: str, max_attempts: int, cpus: float, gpus: float) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if speed not in ("accurate", "fast"):
        raise ValueError(f"speed must be 'accurate' or 'fast', not {speed!r}")
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    if cpus < 0 or gpus < 0 or cpus + gpus == 0:
        raise ValueError(f"a worker needs some CPUs or GPUs (got cpus={cpus}, gpus={gpus})")


def _model_for_workers(model: str | os.PathLike[str]) -> str:
    """A model path this machine can see becomes absolute (workers run elsewhere)."""
    model = os.fspath(model)
    return os.path.abspath(model) if os.path.isfile(model) else model


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError(
            "transcribing on a Ray cluster needs Ray: pip install 'lumina[ray]'") from exc
    return ray


def _workers_that_fit(ray, cpus_per_actor: float, gpus_per_actor: float) -> int:
    have = ray.cluster_resources()
    fits = [int(have.get(kind, 0) // need) for kind, need in
            (("CPU", cpus_per_actor), ("GPU", gpus_per_actor)) if need > 0]
    n = min(fits)
    if n < 1:
        raise LuminaError(
            f"the cluster has {have.get('CPU', 0):g} CPUs and {have.get('GPU', 0):g} GPUs; a worker "
            f"needs {cpus_per_actor:g} CPUs and {gpus_per_actor:g} GPUs (pass actors=N on an "
            "autoscaling cluster)")
    return n
