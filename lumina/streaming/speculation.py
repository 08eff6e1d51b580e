"""Speculative finals: decoded when speech stops, kept until the hang-over confirms the end.

The decoder thread decodes an utterance as soon as its speech stops (a
:class:`~lumina.streaming.scheduler.SpeculationDue`), before the segmenter's
hang-over has decided whether the utterance has ended. :class:`Speculations`
holds the result until the utterance's final job comes: if that final is of
exactly the audio speculated on (same utterance, same end) and speech did not
resume meanwhile (the speculation job was not ``cancelled``), the held
transcript answers it without a second decode; otherwise it is discarded.

In lockstep nothing is gained by decoding the final before the hang-over (the
pipeline waits either way), so there a speculation holds :data:`DEFERRED`: its
final is decoded when the hang-over confirms it, and a discarded speculation
has cost only its complete partial. Only the decoder thread touches this.
"""

from __future__ import annotations

from lumina.streaming.stats import Counters

__all__ = ["DEFERRED", "Speculations"]

#: Held in place of a transcript: the speculation's final is to be decoded when it is confirmed.
DEFERRED = object()


class Speculations:
    """The held speculative finals of a stream, one per utterance at most.

    Parameters
    ----------
    counters : Counters
        Counts each speculation used or discarded, once.
    """

    def __init__(self, counters: Counters) -> None:
        self._counters = counters
        self._held: dict[int, tuple[object, object]] = {}   # utterance -> (job, transcript)

    def hold(self, job, transcript) -> None:
        """Keep the final decoded by speculation ``job`` (a transcript or :data:`DEFERRED`)."""
        if self._held.pop(job.utterance_id, None) is not None:
            self._counters.speculation_discarded()
        self._held[job.utterance_id] = (job, transcript)

    def take(self, utterance_id: int, end_sample: int):
        """The held final of exactly this audio (a transcript or :data:`DEFERRED`), or None.

        A held final of other audio, or of a speculation cancelled since (speech
        resumed), is discarded.
        """
        held = self._held.pop(utterance_id, None)
        if held is None:
            return None
        job, transcript = held
        if job.cancelled or job.end_sample != end_sample:
            self._counters.speculation_discarded()
            return None
        self._counters.speculation_used()
        return transcript

    def __len__(self) -> int:
        return len(self._held)
