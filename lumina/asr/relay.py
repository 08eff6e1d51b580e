"""``on_segment``: every segment of a transcription handed to the caller once, in order, early.

:class:`SegmentRelay` sits between the backend and the caller's callback.
While whisper.cpp decodes, it turns each finished segment
(:class:`~lumina.asr.backend.SegmentData`) into the
:class:`~lumina.asr.transcript.Segment` the returned transcript will hold and
passes it on; once the transcript is known, :meth:`SegmentRelay.finish`
passes on whatever was not seen live (a cache answer, a fast decode, which is
checked before it is trusted). So the callback sees exactly
``transcript.segments``, each once, before ``transcribe`` returns.

The callback runs on the decoding thread, inside whisper.cpp's callback: an
exception from it must not unwind through C, so it is kept, no further
segment is passed on, and :meth:`finish` raises it.
"""

from __future__ import annotations

from collections.abc import Callable

from lumina.asr.backend import SegmentData
from lumina.asr.speech_filter import SpeechFilter
from lumina.asr.transcript import Segment, Transcript, segment_from

__all__ = ["SegmentRelay"]


class SegmentRelay:
    """Pass the segments of one transcription to ``callback``.

    Parameters
    ----------
    callback : callable
        ``callback(segment: Segment)``.
    is_special : callable
        The model's special-token test (special tokens are dropped, as in the transcript).
    duration : float
        Seconds of audio (segment times are clamped into it, as in the transcript).
    retime : callable, optional
        ``retime(segment) -> Segment`` applied to each live segment, as the transcript's
        segments are (word times moved onto the sound: :meth:`lumina.asr.word_times.SoundSnapper.segment`).
    """

    def __init__(self, callback: Callable[[Segment], None], is_special: Callable[[int], bool],
                 duration: float, retime: Callable[[Segment], Segment] | None = None) -> None:
        self._callback = callback
        self._retime = retime
        self._filter = SpeechFilter(is_special, duration)
        self._error: BaseException | None = None
        self.delivered = 0

    def live(self, data: SegmentData) -> None:
        """The backend's ``on_segment``: pass on a segment whisper.cpp just finished."""
        segment = segment_from(data, self._filter)
        if segment is not None:  # nothing anybody said is never passed on
            self._deliver(segment if self._retime is None else self._retime(segment))

    def _deliver(self, segment: Segment) -> None:
        if self._error is not None:
            return
        self.delivered += 1
        try:
            self._callback(segment)
        except BaseException as exc:  # must not unwind through whisper.cpp; raised by finish()
            self._error = exc

    def finish(self, transcript: Transcript) -> None:
        """Pass on the transcript's segments not seen live; raise what the callback raised."""
        for segment in transcript.segments[self.delivered:]:
            self._deliver(segment)
        if self._error is not None:
            raise self._error
