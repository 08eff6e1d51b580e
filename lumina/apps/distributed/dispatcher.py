"""Hands jobs to a pool of Ray actors and survives losing some of them.

Every job is in exactly one place at a time: the queue, or in flight on one
worker. A worker gets at most ``in_flight`` jobs ahead (so it never waits for
the driver between files). When a worker dies, each job it held goes back to
the front of the queue, a new worker is started in its place, and the others
carry on; a job whose workers died ``max_attempts`` times is reported failed
(a file that crashes whisper.cpp must not take the whole cluster down with
it). Only the completion of a job writes its output, once, on the driver.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import time
from collections.abc import Callable

from lumina.apps.outputs import write_atomic
from lumina.errors import LuminaError, ModelIntegrityError

from lumina.apps.distributed.records import FileResult, FileJob, Outcome, WorkerInfo

__all__ = ["Dispatcher", "START_GRACE"]

_BURY_WAIT = 60.0  # seconds for a dead worker's other calls to report; Ray ends them at once

#: Seconds the first workers get to be ready after the first one is, before work starts without them.
START_GRACE = 60.0


@dataclasses.dataclass
class _Task:
    job: FileJob
    attempts: int = 0  # workers that died while on this file, plus the one working on it
    seq: int = 0  # when it was last handed out: a worker runs its files in this order


class _Worker:
    """One actor, its start-up call and the jobs it holds."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.ready_ref = handle.ready.remote()
        self.info: WorkerInfo | None = None
        self.inflight: dict = {}  # ObjectRef -> _Task
        self.alive = True


class Dispatcher:
    """Runs ``jobs`` on ``actors`` workers made by ``spawn()``.

    Parameters
    ----------
    ray : module
        The ``ray`` module (imported by the caller, who checked it is installed).
    spawn : callable
        Returns a new actor handle (a :class:`~lumina.apps.distributed.worker.Transcriber`).
    jobs : sequence of FileJob
        What to do, in order.
    actors : int
        Workers to keep running.
    in_flight : int
        Jobs handed to a worker before it returns one.
    max_attempts : int
        Workers a job may be given before it is reported failed.
    on_result : callable
        Called with each :class:`FileResult`, after its output was written.
    """

    def __init__(self, ray, spawn: Callable[[], object], jobs, *, actors: int, in_flight: int,
                 max_attempts: int, on_result: Callable[[FileResult], None]) -> None:
        self._ray = ray
        self._spawn = spawn
        self._queue = collections.deque(_Task(job) for job in jobs)
        self._actors = actors
        self._in_flight = in_flight
        self._max_attempts = max_attempts
        self._on_result = on_result
        self._workers: list[_Worker] = []
        self._owner: dict = {}  # ObjectRef -> (worker, task or None for a start-up call)
        self._seq = itertools.count()
        self._start_failures = 0
        self._start_error = "no worker could be started"
        self.retries = 0
        self.workers_lost = 0
        self.worker_infos: list[WorkerInfo] = []

    # ------------------------------------------------------------------ the loop

    def run(self) -> None:
        """Run until every job is written or failed; always stops the workers."""
        try:
            for _ in range(self._actors):
                self._start_worker()
            self._await_first_workers()
            while self._queue or any(w.inflight for w in self._workers):
                self._dispatch()
                if not self._owner:  # every worker died and none could be started again
                    raise LuminaError(f"{self._start_error}; {len(self._queue)} files were not "
                                      "transcribed (a re-run picks them up)")
                ready, _ = self._ray.wait(list(self._owner), num_returns=1)
                self._settle(ready[0])
        finally:
            for worker in self._workers:
                self._ray.kill(worker.handle)

    def _await_first_workers(self) -> None:
        """Wait until the first workers have loaded and checked their models (or failed to start).

        So every node's model is verified before anything is written, and the
        work is spread from the first file on instead of going to whichever
        worker happened to load first. Workers not ready ``START_GRACE``
        seconds after the first one (say, waiting for a node an autoscaler
        has yet to add) join the run when they are.
        """
        deadline = None
        while starting := [ref for ref, (_, task) in self._owner.items() if task is None]:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _ = self._ray.wait(starting, num_returns=1, timeout=timeout)
            if not ready:
                return
            self._settle(ready[0])
            if deadline is None and self.worker_infos:
                deadline = time.monotonic() + START_GRACE

    def _dispatch(self) -> None:
        for worker in self._workers:
            while worker.alive and worker.info is not None and self._queue \
                    and len(worker.inflight) < self._in_flight:
                task = self._queue.popleft()
                task.attempts += 1
                task.seq = next(self._seq)
                ref = worker.handle.transcribe.remote(task.job.source)
                worker.inflight[ref] = task
                self._owner[ref] = (worker, task)

    def _settle(self, ref) -> None:
        worker, task = self._owner.pop(ref)
        if task is None:
            self._settle_start(worker, ref)
            return
        del worker.inflight[ref]
        lost = self._take(worker, task, ref)
        if lost is not None:
            self._bury(worker, [(task, lost)])

    def _take(self, worker: _Worker, task: _Task, ref) -> Exception | None:
        """Settle one finished call; return the error if the worker was lost instead."""
        errors = self._ray.exceptions
        try:
            outcome = self._ray.get(ref)
        except errors.RayTaskError as exc:  # the worker raised: the file's fault, not the worker's
            self._fail(task, f"{task.job.source}: {exc.cause}", type(exc.cause).__name__, worker)
        except errors.RayError as exc:  # the worker or its node is gone
            return exc
        else:
            self._complete(task, outcome)
        return None

    # ------------------------------------------------------------------ workers

    def _start_worker(self) -> None:
        worker = _Worker(self._spawn())
        self._workers.append(worker)
        self._owner[worker.ready_ref] = (worker, None)

    def _settle_start(self, worker: _Worker, ref) -> None:
        errors = self._ray.exceptions
        try:
            worker.info = self._ray.get(ref)
        except errors.RayError as exc:
            if isinstance(exc, errors.RayTaskError) and isinstance(exc.cause, LuminaError):
                raise exc.cause from None  # model missing or wrong on that node: fix it first
            worker.alive = False
            self._start_failures += 1
            self._start_error = f"no worker could be started ({_last_line(exc)})"
            if self._start_failures <= self._actors:
                self._start_worker()
            return
        self._check_same_model(worker.info)
        self.worker_infos.append(worker.info)

    def _check_same_model(self, info: WorkerInfo) -> None:
        """Every node must have loaded the same model file (each worker hashed its own)."""
        for other in self.worker_infos:
            if other.model_sha256 != info.model_sha256:
                raise ModelIntegrityError(
                    f"the model files differ between nodes: sha256 {other.model_sha256} on node "
                    f"{other.node_id}, {info.model_sha256} on node {info.node_id}; copy the same "
                    "file to every node (or put it on shared storage)")

    def _bury(self, worker: _Worker, lost: list[tuple[_Task, Exception]]) -> None:
        """A worker died: settle all it held, charge the file it was on, queue the rest again.

        A worker runs its files in the order it got them, so the first one
        lost was the one it was working on; the files queued behind it are
        innocent and go back without counting an attempt (or a poison file
        would take its neighbours down with it).
        """
        worker.alive = False
        self.workers_lost += 1
        self._start_worker()
        held = list(worker.inflight.items())
        ended = set()
        if held:  # a dead actor's calls all end at once
            ended, _ = self._ray.wait([ref for ref, _ in held], num_returns=len(held),
                                      timeout=_BURY_WAIT)
        for ref, task in held:
            del worker.inflight[ref]
            del self._owner[ref]
            exc = self._take(worker, task, ref) if ref in ended else TimeoutError()
            if exc is not None:
                lost.append((task, exc))
        lost.sort(key=lambda item: item[0].seq)
        for i, (task, exc) in enumerate(lost):
            if i > 0:
                task.attempts -= 1  # never started on the dead worker
            self._retry_or_fail(task, exc)

    def _retry_or_fail(self, task: _Task, exc: Exception) -> None:
        if task.attempts >= self._max_attempts:
            self._fail(task, f"{task.job.source}: the worker died {task.attempts} times while "
                             f"transcribing it (last: {type(exc).__name__})", type(exc).__name__)
        else:
            self.retries += 1
            self._queue.appendleft(task)

    # ------------------------------------------------------------------ results

    def _complete(self, task: _Task, outcome: Outcome) -> None:
        if outcome.error is not None:
            self._report(task, outcome, outcome.error, outcome.error_type)
            return
        try:
            write_atomic(task.job.target, outcome.text)
        except OSError as exc:
            self._report(task, outcome, f"{task.job.target}: cannot write: {exc}", type(exc).__name__)
            return
        self._report(task, outcome, None, None)

    def _report(self, task: _Task, outcome: Outcome, error: str | None, error_type: str | None) -> None:
        self._on_result(FileResult(task.job.source, task.job.target, error, error_type,
                                   outcome.audio_seconds, outcome.node_id, outcome.pid, task.attempts))

    def _fail(self, task: _Task, error: str, error_type: str, worker: _Worker | None = None) -> None:
        node, pid = (worker.info.node_id, worker.info.pid) if worker and worker.info else (None, None)
        self._on_result(FileResult(task.job.source, task.job.target, error, error_type,
                                   0.0, node, pid, task.attempts))


def _last_line(exc: Exception) -> str:
    """The last line of a Ray error (its message is a whole remote traceback)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
