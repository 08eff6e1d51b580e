"""The engine a realtime session's :class:`lumina.Stream` sees: each call is a job in the server's pool.

A Stream calls its engine through the engine protocol
(:class:`lumina.SpeechEngine`) on its own decoder thread. :class:`PoolEngine`
implements it by handing each call to the event loop as a pool job and
waiting for it, so live sessions share the same workers (and the same model
in memory) as the HTTP routes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
from collections.abc import Callable

import numpy as np

from lumina.asr.protocol import TranscribeOptions
from lumina.errors import TranscriptionAborted
from lumina.apps.server.pool import PoolJob, WorkAborted

__all__ = ["PoolEngine", "StreamAborted"]

_POLL_S = 0.02  # how often a waiting call looks at should_abort


class StreamAborted(TranscriptionAborted):
    """A stream's decode was stopped (what lumina's engines raise when ``should_abort`` stops them)."""


class PoolEngine:
    """A :class:`lumina.SpeechEngine` that runs every call as a pool job on the event loop ``loop``.

    Parameters
    ----------
    run : callable
        ``run(job) -> awaitable JobResult`` (the session binds its model and limits).
    loop : asyncio.AbstractEventLoop
        The server's event loop.
    session_options : callable
        Returns ``(language, prompt)`` at call time, so a ``session.update``
        applies to the next decode; a language set there replaces the stream's.
    """

    is_ready = True          # the pool's engines load on their own; a job waits for them
    device = None            # the pool's workers know theirs

    def __init__(self, run: Callable, loop: asyncio.AbstractEventLoop,
                 session_options: Callable[[], tuple[str | None, str | None]]) -> None:
        self._run = run
        self._loop = loop
        self._session_options = session_options

    def transcribe_samples(self, samples: np.ndarray, options: TranscribeOptions, *,
                           should_abort: Callable[[], bool] | None = None,
                           on_segment: Callable | None = None,
                           on_candidate: Callable[[str], object] | None = None):
        """Run the call as a pool job and wait for it (the callbacks run on the worker's thread)."""
        language, prompt = self._session_options()
        options = dataclasses.replace(options, language=language or options.language,
                                      prompt=prompt)
        job = PoolJob(np.asarray(samples, dtype=np.float32), options, on_segment=on_segment,
                      on_candidate=on_candidate)
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

    def close(self) -> None:
        """Nothing to free: the pool owns the engines."""

    @staticmethod
    def _result(future: concurrent.futures.Future):
        try:
            return future.result().transcript
        except (concurrent.futures.CancelledError, WorkAborted):
            raise StreamAborted("the decode was stopped") from None
