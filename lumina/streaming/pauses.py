"""Pauses inside an utterance: the segmenter's view of speech without the VAD's hang-over.

A voice activity detector (:class:`lumina._core.vad.Hysteresis` behind every
VAD lumina has) decides a frame only once its fate is known: the silence
frames after speech are held back until either speech resumes (they become
speech) or the hang-over has passed (they become silence). The segmenter needs
more than that. It wants to know at once that speech has *stopped* (the first
silence frame: the tentative end of the utterance), so that decoding can start
before the hang-over confirms the end, and it wants a hang-over of its own that
can change while the utterance is open (shorter after a sentence end).

:class:`FrameView` rebuilds that view from what every VAD exposes, feeding it
one frame at a time: the decisions it returns and ``pending_frames``.
While the VAD is in speech, a frame it holds back is a raw silence frame (the
hang-over's run), so it is silence for the segmenter at once; frames the VAD
holds while in silence (a speech onset not yet confirmed by ``min_speech_ms``)
wait for the VAD's decision. The view is therefore a pure function of the
audio, whatever the chunking.

:class:`SpeechPause` and :class:`SpeechResume` are the events a segmenter made
with ``report_pauses=True`` adds between its :class:`SpeechStart` and
:class:`SpeechEnd` events.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["FrameView", "SpeechPause", "SpeechResume"]

_NONE: tuple = ()     # no runs: shared, allocates nothing


@dataclasses.dataclass(frozen=True)
class SpeechPause:
    """Speech stopped inside an open utterance: the first frame of silence.

    If the silence lasts the hang-over, the utterance ends here: its
    :class:`~lumina.streaming.segmenter.SpeechEnd` has ``end_sample ==
    end_sample`` of this event and the same audio (from the pre-roll up to
    this point). If speech comes back first, a :class:`SpeechResume` follows.

    Attributes
    ----------
    utterance_id : int
    end_sample : int
        Stream position of the first silent sample: the tentative end of the utterance.
    """

    utterance_id: int
    end_sample: int


@dataclasses.dataclass(frozen=True)
class SpeechResume:
    """Speech came back before the hang-over ended the utterance; it continues.

    Attributes
    ----------
    utterance_id : int
    sample : int
        Stream position of the first speech frame after the pause.
    """

    utterance_id: int
    sample: int


class FrameView:
    """Feeds a VAD and answers runs of the segmenter's speech/silence flags, frame-exact.

    Parameters
    ----------
    vad
        A VAD with ``frame_samples``, ``process(samples) -> decisions``,
        ``flush() -> decisions`` and ``pending_frames`` (the frames it holds back).

    :meth:`feed` answers the frames newly known as runs ``(value, first_frame,
    end_frame)`` in frame order, adjacent runs of one value merged. Frames are
    numbered from 0 at construction and at each :meth:`flush`.
    """

    def __init__(self, vad) -> None:
        self._vad = vad
        self._frame_samples = vad.frame_samples
        # The VAD's start rule, when it tells it: frames of speech it needs to open.
        self._start_frames = getattr(vad, "start_frames", 1)
        self.reset()

    def reset(self) -> None:
        self.decided = 0          # frames the VAD has decided
        self.known = 0            # frames whose flag this view has handed out
        self.vad_speech = False   # the VAD's state: the value of its last decision
        self._into = 0            # samples of the current frame fed so far

    def feed(self, piece: np.ndarray, idle: int = -1):
        """Feed float32 samples to the VAD; return the runs of frames they made known.

        The VAD gets one frame at a time while in speech, so every frame it holds
        back is seen. While it is in silence it cannot open before
        ``start_frames`` consecutive speech frames (less those it already holds),
        so that many go in at once: a change of state still falls on the last one.

        ``idle`` (0 or 1) is the flag that changes nothing for the caller now
        (silence while no utterance is open, speech while one is): when a piece
        fed in one go decides only such frames and leaves nothing held, no runs
        are built and the shared empty tuple comes back (the usual 20 ms chunk).
        """
        F = self._frame_samples
        vad = self._vad
        n = len(piece)
        into = self._into
        room = (F if self.vad_speech else max(1, self._start_frames - vad.pending_frames) * F) - into
        if n <= room:   # the usual chunk: one call to the VAD, and no int made twice
            decisions = vad.process(piece)
            done = into + n
            self._into = done % F
            if done < F:
                return _NONE
            pending = vad.pending_frames
            if self._unchanged(decisions, pending, idle):
                self.decided = self.known = self.decided + len(decisions)
                return _NONE
            runs: list = []
            self._observe(decisions, pending, runs)
            return runs
        return self._feed_frames(piece)

    def _feed_frames(self, piece: np.ndarray) -> list:
        F = self._frame_samples
        vad = self._vad
        runs: list = []
        n = len(piece)
        pos = 0
        while pos < n:
            frames = 1 if self.vad_speech else max(1, self._start_frames - vad.pending_frames)
            room = frames * F - self._into
            take = room if n - pos > room else n - pos
            decisions = vad.process(piece[pos:pos + take])
            pos += take
            if self._into + take >= F:   # at least one frame was completed
                self._observe(decisions, vad.pending_frames, runs)
            self._into = (self._into + take) % F
        return runs

    def _unchanged(self, decisions: np.ndarray, pending: int, idle: int) -> bool:
        """Whether the VAD decided only ``idle`` frames, in the state it was in, holding nothing."""
        n = len(decisions)
        if idle < 0 or pending or not n or self.known != self.decided or self.vad_speech != (idle == 1):
            return False
        return np.count_nonzero(decisions) == (n if idle else 0)

    def flush(self) -> list[tuple[int, int, int]]:
        """End of stream: the runs of the frames the VAD still held (silence); then reset."""
        runs: list[tuple[int, int, int]] = []
        self._observe(self._vad.flush(), 0, runs)
        return runs

    def _observe(self, decisions: np.ndarray, pending: int, runs: list) -> None:
        n = len(decisions)
        if n:
            first = self.decided
            self.decided = first + n
            # Frames already handed out as silence (held while the VAD was in speech) are
            # skipped: the VAD now calls them speech (a pause that ended) or silence (its end).
            lo = max(self.known - first, 0)
            if lo < n:
                _append_runs(runs, decisions, lo, first)
                self.known = self.decided
            self.vad_speech = bool(decisions[n - 1])
        if self.vad_speech and pending:
            held_end = self.decided + pending
            if held_end > self.known:
                _add(runs, 0, self.known, held_end)
                self.known = held_end


def _add(runs: list, value: int, a: int, b: int) -> None:
    if runs and runs[-1][0] == value and runs[-1][2] == a:
        runs[-1] = (value, runs[-1][1], b)
    else:
        runs.append((value, a, b))


def _append_runs(runs: list, decisions: np.ndarray, lo: int, first: int) -> None:
    """Add the runs of equal values of ``decisions[lo:]`` (frame ``first`` is decisions[0])."""
    n = len(decisions)
    if n - lo == 1 or not np.any(decisions[lo:] != decisions[lo]):   # the usual case: one run
        _add(runs, int(decisions[lo]), first + lo, first + n)
        return
    edges = (np.flatnonzero(np.diff(decisions[lo:])) + 1 + lo).tolist()
    for a, b in zip([lo, *edges], [*edges, n]):
        _add(runs, int(decisions[a]), first + a, first + b)
