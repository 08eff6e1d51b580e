"""How a stream's events reach the user: callbacks, ``for event in stream`` or ``async for``.

One :class:`Delivery` per stream. The decoder thread is its only producer
(:meth:`Delivery.emit`), so callbacks are never called concurrently and events
keep stream order. Iterators read a queue; async iterators wait on a future
resolved from the producer through the event loop (never blocking the loop).
The end of the stream is a marker every iterator sees; what made the stream
fail, if anything, is raised to each consumer after the last event.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator

from lumina.errors import StateError
from lumina.streaming.events import Final, Partial, StreamEvent

__all__ = ["Delivery"]

_END = object()            # marks the end of the event queue


class Delivery:
    """Hands events to callbacks or to iterators, and the stream's error after them.

    Parameters
    ----------
    on_partial, on_final, on_event : callable or None
        Callbacks (``on_event`` gets every event, the others their kind). With
        any callback set, the stream cannot be iterated.
    """

    def __init__(self, on_partial: Callable[[Partial], object] | None = None,
                 on_final: Callable[[Final], object] | None = None,
                 on_event: Callable[[StreamEvent], object] | None = None) -> None:
        self._on_partial, self._on_final, self._on_event = on_partial, on_final, on_event
        self._callbacks = any(cb is not None for cb in (on_partial, on_final, on_event))
        self._events: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []
        self.ended = threading.Event()
        self.error: BaseException | None = None

    def check_iterable(self) -> None:
        """Raise :class:`~lumina.errors.StateError` when events go to callbacks."""
        if self._callbacks:
            raise StateError("this stream delivers its events to callbacks; iterate a Stream made "
                             "without on_partial/on_final/on_event")

    def fail(self, exc: BaseException) -> None:
        """Keep the first error; consumers get it after the last event."""
        with self._lock:
            if self.error is None:
                self.error = exc

    def emit(self, event: StreamEvent) -> None:
        """Deliver one event (from one thread only, so callbacks never overlap)."""
        if self._callbacks:
            if self._on_event is not None:
                self._on_event(event)
            if self._on_partial is not None and isinstance(event, Partial):
                self._on_partial(event)
            if self._on_final is not None and isinstance(event, Final):
                self._on_final(event)
            return
        self._put(event)

    def finish(self) -> None:
        """End the events (idempotent): iterators stop after what was emitted."""
        if not self.ended.is_set():
            self.ended.set()
            self._put(_END)

    def _put(self, item) -> None:
        self._events.put(item)
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # that event loop is closed; nobody waits there any more
                pass

    # ------------------------------------------------------------------ consumers

    def iterate(self) -> Iterator[StreamEvent]:
        """Events as they come until the end; then the stream's error, if any, is raised."""
        while True:
            event = self._events.get()
            if event is _END:
                self._events.put(_END)  # other iterators end too
                self._raise_error()
                return
            yield event

    async def next_event(self) -> StreamEvent:
        """The next event for ``async for``; raises StopAsyncIteration at the end."""
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                await self._wait_for_event()
                continue
            if event is _END:
                self._events.put(_END)
                self._raise_error()
                raise StopAsyncIteration
            return event

    async def _wait_for_event(self) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            self._waiters.append((loop, future))
        if self._events.empty():  # registered first, so a put after this check wakes us
            await future

    def _raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
