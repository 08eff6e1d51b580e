"""The engine a realtime session's :class:`lumina.Stream` sees: each call is a job in the server's pool.

A Stream calls ``engine.transcribe(audio, speed=..., language=..., should_abort=...)``
on its own decoder thread. :class:`PoolEngine` hands the call to the event
loop as a pool job and waits for it, so live sessions share the same workers
(and the same model in memory) as the HTTP routes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable

import numpy as np

from lumina.errors import TranscriptionAborted
from lumina.apps.server.pool import Job, WorkAborted

__all__ = ["PoolEngine", "StreamAborted"]

_POLL_S = 0.02  # how often a waiting call looks at should_abort


class StreamAborted(TranscriptionAborted):
    """A stream's decode was stopped (what lumina's engines raise when ``should_abort`` stops them)."""


class PoolEngine:
    """An engine stand-in that runs every call as a pool job on the event loop ``loop``.

    Parameters
    ----------
    run : callable
        ``run(job) -> awaitable JobResult`` (the session binds its model and limits).
    loop : asyncio.AbstractEventLoop
        The server's event loop.
    options : callable
        Returns ``(language, prompt)`` at call time, so a ``session.update``
        applies to the next decode.
    """

    def __init__(self, run: Callable, loop: asyncio.AbstractEventLoop, options: Callable) -> None:
        self._run = run
        self._loop = loop
        self._options = options

    def transcribe(self, audio, *, speed: str = "accurate", language: str | None = None,
                   should_abort: Callable[[], bool] | None = None, **_ignored):
        session_language, prompt = self._options()
        job = Job(np.asarray(audio, dtype=np.float32), language=session_language or language,
                  prompt=prompt, speed=speed)
        try:
            future = asyncio.run_coroutine_threadsafe(self._run(job), self._loop)
        except RuntimeError:  # the loop is closed: the server is going away
            raise StreamAborted("the server is shutting down") from None
        while True:
            done, _ = concurrent.futures.wait([future], timeout=_POLL_S)
            if done:
                return self._result(future)
            if should_abort is not None and should_abort():
                future.cancel()  # the pool aborts the worker's call, or takes the job off the queue
                raise StreamAborted("the decode was stopped")

    @staticmethod
    def _result(future: concurrent.futures.Future):
        try:
            return future.result().transcript
        except (concurrent.futures.CancelledError, WorkAborted):
            raise StreamAborted("the decode was stopped") from None
