"""The segmenter's utterance boundaries: :class:`SpeechStart` and :class:`SpeechEnd`.

Plain frozen records, kept apart from :mod:`lumina.streaming.segmenter` (which
makes them) so that other modules can name them without the segmenter's
machinery. Pauses inside an utterance are :mod:`lumina.streaming.pauses`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SpeechEnd", "SpeechStart"]


@dataclass(frozen=True)
class SpeechStart:
    """Speech began.

    Attributes
    ----------
    utterance_id : int
        Counts utterances from 0 over the life of the segmenter.
    start_sample : int
        Stream position (in samples) of the first speech frame.
    audio_start_sample : int
        Stream position of the first sample of the utterance's audio: the
        pre-roll kept before ``start_sample`` (its :class:`SpeechEnd` has the
        same :attr:`SpeechEnd.audio_start_sample`).
    """

    utterance_id: int
    start_sample: int
    audio_start_sample: int


@dataclass(frozen=True, eq=False)
class SpeechEnd:
    """Speech ended (or was split at the maximum utterance length, or the stream ended).

    Attributes
    ----------
    utterance_id : int
        The id its :class:`SpeechStart` carried.
    start_sample, end_sample : int
        Stream positions of the first speech sample and one past the last.
    audio : ndarray of float32, read-only
        The utterance's samples, including the pre-roll before ``start_sample``;
        it ends at ``end_sample`` and starts at :attr:`audio_start_sample`.
    """

    utterance_id: int
    start_sample: int
    end_sample: int
    audio: np.ndarray = field(repr=False)

    @property
    def audio_start_sample(self) -> int:
        """Stream position of ``audio[0]`` (``start_sample`` minus the pre-roll kept)."""
        return self.end_sample - len(self.audio)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpeechEnd):
            return NotImplemented
        return ((self.utterance_id, self.start_sample, self.end_sample)
                == (other.utterance_id, other.start_sample, other.end_sample)
                and np.array_equal(self.audio, other.audio))

    __hash__ = None  # type: ignore[assignment]  # holds an array: not hashable
