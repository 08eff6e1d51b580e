"""``stream=true``: ``transcript.text.delta`` events sent while whisper.cpp still decodes.

The job's engine reports each finished segment through
``Engine.transcribe(on_segment=...)`` on its worker thread;
:class:`LiveSegments` hands them to the event loop, and :func:`live_response`
streams one delta per segment as it arrives, then ``transcript.text.done``.

The answer's status is decided before the first byte: the response starts
once the first segment is known (or the job ended), so a full queue, a model
that cannot load or a time limit reached before any text are still plain
HTTP errors. A failure after text was sent ends the stream with an error
event. Segments an engine did not report live are sent from the transcript
at the end, so the deltas always add up to the done event's text.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi.responses import StreamingResponse

from lumina.errors import LuminaError
from lumina.apps.server.errors import ApiError, from_lumina_error
from lumina.apps.server.responses import sse_delta, sse_done, sse_error, sse_events
from lumina.apps.server.state import ClientGone

__all__ = ["LiveSegments", "live_response"]


class LiveSegments:
    """Segments reported on a worker thread, read in order on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.queue: asyncio.Queue = asyncio.Queue()
        self.first = asyncio.Event()

    def put(self, segment) -> None:
        """A job's ``on_segment`` (any thread)."""
        self._loop.call_soon_threadsafe(self._arrived, segment)

    def _arrived(self, segment) -> None:
        self.queue.put_nowait(segment)
        self.first.set()


async def live_response(work: asyncio.Future, live: LiveSegments, *, duration: float,
                        want_logprobs: bool,
                        on_error: Callable[[ApiError], None]) -> StreamingResponse:
    """The event stream of a running job (``work`` resolves to its JobResult).

    Raises
    ------
    ApiError, LuminaError, ClientGone
        What the job raised, when it ended before its first segment.
    """
    opened = asyncio.ensure_future(live.first.wait())
    try:
        await asyncio.wait({work, opened}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        work.cancel()
        raise
    finally:
        opened.cancel()
    if work.done():
        result = work.result()  # raises what the job raised: an ordinary HTTP error
        events = sse_events(result.transcript, duration=duration, want_logprobs=want_logprobs)
        return StreamingResponse(_iterate(list(events)), media_type="text/event-stream")
    return StreamingResponse(_events(work, live, want_logprobs, on_error),
                             media_type="text/event-stream")


async def _iterate(events: list[str]) -> AsyncIterator[str]:
    for event in events:
        yield event


async def _events(work: asyncio.Future, live: LiveSegments, want_logprobs: bool,
                  on_error: Callable[[ApiError], None]) -> AsyncIterator[str]:
    sent, count = "", 0
    try:
        async for segment in _segments(work, live):
            event, sent = sse_delta(segment, sent)
            count += 1
            if event:
                yield event
        try:
            transcript = work.result().transcript
        except ClientGone:
            return
        except (ApiError, LuminaError) as exc:
            error = exc if isinstance(exc, ApiError) else from_lumina_error(exc)
            on_error(error)
            yield sse_error(error.body)
            return
        for segment in transcript.segments[count:]:  # not reported live by this engine
            event, sent = sse_delta(segment, sent)
            if event:
                yield event
        yield sse_done(transcript, want_logprobs=want_logprobs)
    finally:
        if not work.done():
            work.cancel()  # the client went away mid-stream: the pool stops the decode


async def _segments(work: Awaitable, live: LiveSegments) -> AsyncIterator:
    """The live segments until the job ends, then the ones still queued."""
    while True:
        getter = asyncio.ensure_future(live.queue.get())
        try:
            done, _ = await asyncio.wait({getter, work}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
        if getter not in done:
            break
        yield getter.result()
    while not live.queue.empty():
        yield live.queue.get_nowait()
