"""A fixed set of resources, each lent to one thread at a time (whisper.cpp states or contexts)."""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator

from lumina.errors import BackendError

__all__ = ["Slots"]


class Slots:
    """Lends ``items`` out one per thread; a thread that finds none free waits for one.

    Free items are handed out first-in first-out, so N calls one after
    another use each of N items once (the engine's warm-up relies on it).
    """

    def __init__(self, items: list) -> None:
        self._free = collections.deque(items)
        self._size = len(items)
        self._cond = threading.Condition()
        self._closed = False
        self.max_busy = 0  # most items lent at the same time so far (what tests and benchmarks read)

    def __len__(self) -> int:
        return self._size

    @property
    def busy(self) -> int:
        """Items lent out now."""
        with self._cond:
            return self._size - len(self._free)

    @contextlib.contextmanager
    def lend(self) -> Iterator:
        """Borrow a free item for the ``with`` block.

        Raises
        ------
        BackendError
            The slots are closed (also when closed while waiting).
        """
        with self._cond:
            while not self._free and not self._closed:
                self._cond.wait()
            if self._closed:
                raise BackendError("the model is closed")
            item = self._free.popleft()
            self.max_busy = max(self.max_busy, self._size - len(self._free))
        try:
            yield item
        finally:
            with self._cond:
                self._free.append(item)
                self._cond.notify_all()

    def close(self) -> list:
        """Refuse new loans, wait until every lent item is back, and hand all of them over once.

        A second call returns an empty list.
        """
        with self._cond:
            if self._closed:
                return []
            self._closed = True
            self._cond.notify_all()
            while len(self._free) < self._size:
                self._cond.wait()
            items = list(self._free)
            self._free.clear()
            return items
