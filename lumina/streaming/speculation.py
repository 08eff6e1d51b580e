"""Speculative finals: decoded when speech stops, kept until the hang-over confirms the end.

The decoder thread decodes an utterance as soon as its speech stops (a
:class:`~lumina.streaming.scheduler.SpeculationDue`), before the segmenter's
hang-over has decided whether the utterance has ended. :class:`Speculations`
holds the result until the utterance's final job comes: if that final is of
exactly the audio speculated on (same utterance, same end), the held transcript
answers it without a second decode; if speech resumed instead, the result is
discarded. Only the decoder thread touches it.
"""

from __future__ import annotations

from lumina.asr.transcript import Transcript
from lumina.streaming.stats import Counters

__all__ = ["Speculations"]


class Speculations:
    """The held speculative finals of a stream, one per utterance at most.

    Parameters
    ----------
    counters : Counters
        Counts each speculation used or discarded.
    """

    def __init__(self, counters: Counters) -> None:
        self._counters = counters
        self._held: dict[int, tuple[int, Transcript]] = {}

    def hold(self, utterance_id: int, end_sample: int, transcript: Transcript) -> None:
        """Keep the final decoded for ``utterance_id`` up to ``end_sample`` (replacing an older one)."""
        if self._held.pop(utterance_id, None) is not None:
            self._counters.speculation_discarded()
        self._held[utterance_id] = (end_sample, transcript)

    def take(self, utterance_id: int, end_sample: int) -> Transcript | None:
        """The held final of exactly this audio, or None (a held one of other audio is discarded)."""
        held = self._held.pop(utterance_id, None)
        if held is None:
            return None
        if held[0] != end_sample:
            self._counters.speculation_discarded()
            return None
        self._counters.speculation_used()
        return held[1]

    def cancel(self, utterance_id: int, end_sample: int) -> None:
        """Speech resumed after ``end_sample``: discard what was held for that end."""
        held = self._held.get(utterance_id)
        if held is not None and held[0] == end_sample:
            del self._held[utterance_id]
            self._counters.speculation_discarded()

    def __len__(self) -> int:
        return len(self._held)
