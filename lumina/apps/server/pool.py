"""Workers behind a bounded queue: many clients, one model in memory.

A :class:`WorkerPool` owns the workers of one model. A worker is a slot on
an engine (anything that implements :class:`lumina.SpeechEngine`, the engine
protocol). All N slots share the one engine the factory makes for the model,
by default a :class:`~lumina.Engine` made with ``concurrency=N``: one copy
of the weights and one whisper.cpp state per slot, so N decodes run at once
(:mod:`lumina.asr.shared_model`). Each slot runs one job at a time on a
thread of its own; jobs wait in a FIFO queue of bounded length, and one more
is refused with :class:`PoolFull` (the routes answer 503 with ``Retry-After``).

A job whose awaiting task is cancelled (client gone, time limit) is told to
abort; its worker returns to the pool only when the worker's call has really
ended, so a worker is never handed out while whisper.cpp still runs on it.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lumina.asr.protocol import SpeechEngine, TranscribeOptions
from lumina.asr.transcript import Transcript
from lumina.errors import LuminaError, StateError, TranscriptionAborted

__all__ = ["EngineFactory", "JobResult", "PoolFull", "PoolJob", "WorkerPools", "PoolStats",
           "WorkAborted", "WorkerPool"]


@dataclasses.dataclass(frozen=True)
class PoolJob:
    """One transcription for a worker: 16 kHz float32 mono samples and the options of the call.

    ``on_segment`` and ``on_candidate`` are passed to the engine
    (:meth:`lumina.SpeechEngine.transcribe_samples`), which calls them on the
    worker thread.
    """

    audio: np.ndarray
    options: TranscribeOptions = TranscribeOptions()
    on_segment: Callable | None = None
    on_candidate: Callable | None = None


#: ``factory(path, *, threads, cache, device, concurrency)``: the one engine that serves the
#: ``concurrency`` workers of a model (it must run that many calls at once).
EngineFactory = Callable[..., SpeechEngine]


@dataclasses.dataclass(frozen=True)
class JobResult:
    """A job's transcript, the seconds it waited for a worker and the seconds it ran."""

    transcript: Transcript
    wait_s: float
    run_s: float


@dataclasses.dataclass(frozen=True)
class PoolStats:
    """A snapshot of one pool: workers, busy ones, queued jobs and counters."""

    workers: int
    busy: int
    waiting: int
    completed: int
    aborted: int
    rejected: int
    failed: int


class PoolFull(LuminaError):
    """The queue is full; ``retry_after`` is a suggested wait in whole seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WorkAborted(LuminaError):
    """A job was stopped before it finished (its client left or its time ran out)."""


class WorkerPool:
    """N workers of one model behind a FIFO queue of at most ``max_queue`` waiting jobs.

    Parameters
    ----------
    workers : list of SpeechEngine
        One engine per slot; one engine may fill several slots when it runs
        that many calls at once (each distinct engine is closed once).
    max_queue : int
        Jobs that may wait for a worker; one more raises :class:`PoolFull`.
    name : str
        The model's served name (for messages).
    """

    def __init__(self, workers: list, max_queue: int, name: str) -> None:
        if not workers:
            raise ValueError("a pool needs at least one worker")
        self.name = name
        self.max_queue = max_queue
        self._workers = list(workers)
        self._idle: collections.deque = collections.deque(self._workers)
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=len(self._workers), thread_name_prefix=f"lumina-serve-{name}")
        self._running: set[threading.Event] = set()
        self._counts = collections.Counter()
        self._mean_run_s = 1.0  # a first guess for Retry-After until jobs have run
        self._closed = False

    # ------------------------------------------------------------------ jobs

    async def run(self, job: PoolJob, *, bounded: bool = True) -> JobResult:
        """Run ``job`` on the next free worker.

        Parameters
        ----------
        bounded : bool, default True
            Refuse with :class:`PoolFull` when ``max_queue`` jobs already wait
            (False: wait however long the queue is; for realtime sessions,
            whose number is limited elsewhere).

        Raises
        ------
        PoolFull
            The queue is full.
        WorkAborted
            Never for the caller's own cancellation (that raises
            :class:`asyncio.CancelledError`); only if the worker stopped the job itself.
        StateError
            The pool is closed.
        """
        queued = time.perf_counter()
        worker = await self._acquire(bounded)
        wait_s = time.perf_counter() - queued
        abort = threading.Event()
        self._running.add(abort)
        future = asyncio.get_running_loop().run_in_executor(self._executor, _call, worker, job, abort)
        future.add_done_callback(lambda f: self._finished(worker, abort, f))
        try:
            transcript, run_s = await asyncio.shield(future)
        except asyncio.CancelledError:
            abort.set()  # the worker stops at its next decoding step, then returns to the pool
            raise
        return JobResult(transcript, wait_s, run_s)

    async def _acquire(self, bounded: bool):
        if self._closed:
            raise StateError(f"the workers of model {self.name!r} are shut down")
        if self._idle and not self._waiters:
            return self._idle.popleft()
        if bounded and len(self._waiters) >= self.max_queue:
            self._counts["rejected"] += 1
            raise PoolFull(f"all {len(self._workers)} workers of model {self.name!r} are busy and "
                           f"{len(self._waiters)} requests wait; try again later", self.retry_after())
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._hand_over(waiter.result())  # it was given a worker as it was cancelled
            else:
                self._waiters.remove(waiter)
            raise

    def _finished(self, worker, abort: threading.Event, future: asyncio.Future) -> None:
        """On the event loop, once the worker's call has really returned."""
        self._running.discard(abort)
        exc = future.exception() if not future.cancelled() else None
        if isinstance(exc, WorkAborted):
            self._counts["aborted"] += 1
        elif exc is not None:
            self._counts["failed"] += 1
        else:
            self._counts["completed"] += 1
            run_s = future.result()[1]
            self._mean_run_s = 0.8 * self._mean_run_s + 0.2 * run_s
        self._hand_over(worker)

    def _hand_over(self, worker) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    def retry_after(self) -> int:
        """Whole seconds until a request sent now would likely find room (at least 1)."""
        ahead = len(self._waiters) + len(self._workers) - len(self._idle)
        return max(1, math.ceil(self._mean_run_s * ahead / len(self._workers)))

    # ------------------------------------------------------------------ state

    @property
    def stats(self) -> PoolStats:
        """Counts of workers, busy workers, waiting jobs and finished jobs by outcome."""
        c = self._counts
        return PoolStats(len(self._workers), len(self._workers) - len(self._idle),
                         len(self._waiters), c["completed"], c["aborted"], c["rejected"], c["failed"])

    @property
    def devices(self) -> list[str]:
        """The device of each worker that has loaded its model."""
        return [d for d in (w.device for w in self._workers) if d]

    @property
    def ready(self) -> bool:
        """Whether every worker has loaded its model."""
        return all(w.is_ready for w in self._workers)

    async def aclose(self) -> None:
        """Abort running jobs, refuse waiting ones, and free the workers."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(StateError(f"the workers of model {self.name!r} are shut down"))
        for abort in list(self._running):
            abort.set()
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._executor.shutdown(wait=True)
        for worker in {id(w): w for w in self._workers}.values():
            worker.close()


def _call(worker: SpeechEngine, job: PoolJob, abort: threading.Event):
    """Run one job on a worker thread; an abort becomes :class:`WorkAborted`."""
    started = time.perf_counter()
    try:
        transcript = worker.transcribe_samples(job.audio, job.options, should_abort=abort.is_set,
                                               on_segment=job.on_segment,
                                               on_candidate=job.on_candidate)
    except TranscriptionAborted as exc:
        raise WorkAborted("the transcription was stopped") from exc
    return transcript, time.perf_counter() - started


def default_engine_factory(path: Path, *, threads: int, cache, device: str, concurrency: int = 1):
    """One :class:`lumina.Engine` for all the workers of a model, loading in the background.

    It decodes ``concurrency`` jobs at once on one copy of the weights (one
    whisper.cpp state each; contexts where the state API cannot be used), and
    its segments carry ``no_speech_prob``.
    """
    from lumina.asr import Engine

    return Engine(path, threads=threads, cache=cache, device=device, concurrency=concurrency,
                  shared_weights=True)


class WorkerPools:
    """One :class:`WorkerPool` per served model, made on first use.

    Parameters
    ----------
    workers, max_queue, threads, device :
        As in :class:`~lumina.apps.server.config.ServerConfig`.
    cache : PhraseCache or None
        Shared by every worker.
    factory : EngineFactory, optional
        ``factory(path, *, threads, cache, device, concurrency)`` makes the one
        engine (a :class:`lumina.SpeechEngine`) that serves all ``workers``
        slots of a model, ``concurrency`` calls at once. Default
        :func:`default_engine_factory`.
    """

    def __init__(self, *, workers: int, max_queue: int, threads: int, device: str, cache=None,
                 factory: EngineFactory | None = None) -> None:
        self._n = workers
        self._max_queue = max_queue
        self._threads = threads
        self._device = device
        self.cache = cache
        self._factory = factory or default_engine_factory
        self._pools: dict[str, WorkerPool] = {}

    def get(self, name: str, path: Path) -> WorkerPool:
        """The pool of model ``name`` (its file at ``path``), made now if it is new."""
        pool = self._pools.get(name)
        if pool is None:
            engine = self._factory(path, threads=self._threads, cache=self.cache,
                                   device=self._device, concurrency=self._n)
            pool = self._pools[name] = WorkerPool([engine] * self._n, self._max_queue, name)
        return pool

    def items(self) -> list[tuple[str, WorkerPool]]:
        """(name, pool) of every model loaded so far."""
        return list(self._pools.items())

    async def aclose(self) -> None:
        """Close every pool."""
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()
