"""When a stream's partial and final decodes are due: pure, thread-free, allocation-free per chunk.

The :class:`Scheduler` reads a :class:`~lumina.streaming.segmenter.Segmenter`'s
events and stream positions and answers two questions after each chunk:
which utterances ended (their finals are due) and whether a partial decode of
the open utterance is due now. It knows nothing of threads, engines or clocks:
the caller says whether a decode is running (``busy``) and when a chunk
arrived, so tests drive it directly and get exactly the stream's schedule.

The rules
---------
* An utterance opens at its :class:`~lumina.streaming.segmenter.SpeechStart`;
  the step clock restarts at its first speech sample.
* A partial is due when an utterance is open and at least ``step_samples``
  were fed since the previous partial of it (or since its start).
* Live (``lockstep=False``): while a decode is running the due partial is
  skipped, never queued; each step interval spent waiting counts once in
  :attr:`Scheduler.skipped_steps`. Every
  :class:`~lumina.streaming.segmenter.SpeechEnd` makes a final due and asks
  to abort the partial decode of that utterance still running, so the final
  starts at once.
* Lockstep: a due partial is always due (the caller waits for the running
  decode first) and nothing is aborted, so the events depend only on the audio.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lumina.streaming.segmenter import Segmenter, SpeechEnd, SpeechStart

__all__ = ["ArrivalLog", "FinalDue", "Scheduler"]

_NOTHING: tuple = ()          # returned when no final is due: allocates nothing


@dataclasses.dataclass(frozen=True)
class FinalDue:
    """An utterance ended: decode its final.

    Attributes
    ----------
    end : SpeechEnd
        The segmenter's event (its audio, ids and stream positions).
    arrival : float
        When the chunk holding the utterance's last sample arrived (the
        caller's clock; ``time.monotonic()`` in a stream).
    abort_partial : bool
        True when the partial decode of this utterance still running should
        be aborted (live mode only).
    """

    end: SpeechEnd
    arrival: float
    abort_partial: bool


class ArrivalLog:
    """When the chunk holding each recent stream position arrived (a fixed-size ring, no allocation).

    Parameters
    ----------
    capacity : int, default 4096
        Chunks remembered (minutes of 20 ms chunks); older positions answer
        with the oldest arrival kept.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self._ends = np.zeros(capacity, dtype=np.int64)    # stream position one past each chunk
        self._times = np.zeros(capacity, dtype=np.float64)
        self._capacity = capacity
        self._next = 0
        self._count = 0

    def note(self, end: int, arrival: float) -> None:
        """Record that the chunk ending at stream position ``end`` arrived at ``arrival``."""
        i = self._next
        self._ends[i] = end
        self._times[i] = arrival
        j = i + 1                     # one int object, not two
        self._next = 0 if j == self._capacity else j
        if self._count < self._capacity:
            self._count += 1

    def arrival_of(self, position: int, default: float) -> float:
        """Arrival of the first chunk that reached past ``position - 1`` (``default`` if none is kept)."""
        found = default
        i = self._next
        for _ in range(self._count):
            i = (i - 1) % self._capacity
            if self._ends[i] < position:
                break
            found = float(self._times[i])
        return found

    def clear(self) -> None:
        """Forget every arrival (a new stream of positions starts)."""
        self._next = self._count = 0


class Scheduler:
    """The partial/final schedule of one stream, driven by a segmenter.

    Parameters
    ----------
    segmenter : Segmenter
        Fed by :meth:`feed`; the scheduler reads its positions.
    step : float
        Seconds of new audio between partial decodes of an open utterance.
    lockstep : bool, default False
        See the module documentation.

    Notes
    -----
    Per chunk, :meth:`feed` and :meth:`partial_due` allocate no arrays and no
    lists; they return a shared empty tuple and a bool when nothing is due.
    """

    def __init__(self, segmenter: Segmenter, step: float, *, lockstep: bool = False) -> None:
        self.segmenter = segmenter
        self.step_samples = round(step * segmenter.sample_rate)
        self.lockstep = lockstep
        self.arrivals = ArrivalLog()
        self.skipped_steps = 0
        self._open_utterance = -1
        self._last_partial = 0        # stream position of the last partial (or the utterance start)
        self._last_skip = 0
        self._partial_utterance = -1  # utterance of the last partial made due

    @property
    def open_utterance(self) -> int:
        """Id of the utterance the next partial belongs to (-1 before the first)."""
        return self._open_utterance

    def feed(self, chunk, arrival: float = 0.0) -> tuple[FinalDue, ...]:
        """Feed a chunk to the segmenter; return the finals it made due (usually none)."""
        events = self.segmenter.feed(chunk)
        self.arrivals.note(self.segmenter.samples_fed, arrival)
        if not events:
            return _NOTHING
        return self._on_events(events, arrival)

    def flush(self, arrival: float = 0.0) -> tuple[FinalDue, ...]:
        """End of the stream: the open utterance's final, if any."""
        finals = self._on_events(self.segmenter.flush(), arrival)
        self.arrivals.clear()
        return finals

    def partial_due(self, busy: bool) -> bool:
        """Whether a partial decode of the open utterance is due now (call after :meth:`feed`).

        Parameters
        ----------
        busy : bool
            Whether a decode is running or queued. Live mode skips the step
            then (and counts it); lockstep ignores it (the caller waits).
        """
        seg = self.segmenter
        if not seg.in_speech:
            return False
        fed = seg.samples_fed
        if fed - self._last_partial < self.step_samples:
            return False
        if busy and not self.lockstep:
            # Count each step interval spent waiting once, not every chunk of it.
            if fed - max(self._last_partial, self._last_skip) >= self.step_samples:
                self._last_skip = fed
                self.skipped_steps += 1
            return False
        self._last_partial = fed
        self._partial_utterance = self._open_utterance
        return True

    def _on_events(self, events, arrival: float) -> tuple[FinalDue, ...]:
        finals = []
        for event in events:
            if isinstance(event, SpeechStart):
                self._last_partial = event.start_sample
                self._open_utterance = event.utterance_id
            elif isinstance(event, SpeechEnd):
                abort = not self.lockstep and self._partial_utterance == event.utterance_id
                finals.append(FinalDue(event, self.arrivals.arrival_of(event.end_sample, arrival), abort))
        return tuple(finals)
