"""Pauses inside an utterance: the segmenter's view of speech without the VAD's hang-over.

A voice activity detector (:class:`lumina._core.vad.Hysteresis` behind every
VAD lumina has) decides a frame only once its fate is known: the silence
frames after speech are held back until either speech resumes (they become
speech) or the hang-over has passed (they become silence). The segmenter needs
more than that. It wants to know at once that speech has *stopped* (the first
silence frame: the tentative end of the utterance), so that decoding can start
before the hang-over confirms the end, and it wants a hang-over of its own that
can change while the utterance is open (shorter after a sentence end).

:class:`FrameView` rebuilds that view from what every VAD exposes, provided it
is fed one frame at a time: the decisions it returns and ``pending_frames``.
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
    """Turns per-frame VAD observations into runs of the segmenter's speech/silence flags.

    Feed it, after every frame the VAD completes, the decisions the VAD returned
    and its ``pending_frames``; it answers the frames newly known, as runs
    ``(value, first_frame, end_frame)`` in frame order. Frames are numbered from
    0 at the last :meth:`reset`.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.decided = 0          # frames the VAD has decided
        self.known = 0            # frames whose flag this view has handed out
        self.vad_speech = False   # the VAD's state: the value of its last decision

    def observe(self, decisions: np.ndarray, pending: int) -> list[tuple[int, int, int]]:
        """Runs of frames newly known after the VAD returned ``decisions`` with ``pending`` held back."""
        runs: list[tuple[int, int, int]] = []
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
                runs.append((0, self.known, held_end))
                self.known = held_end
        return runs


def _append_runs(runs: list, decisions: np.ndarray, lo: int, first: int) -> None:
    """Append the runs of equal values of ``decisions[lo:]`` (frame ``first`` is decisions[0])."""
    n = len(decisions)
    if n - lo == 1 or not np.any(decisions[lo:] != decisions[lo]):   # the usual case: one run
        runs.append((int(decisions[lo]), first + lo, first + n))
        return
    edges = (np.flatnonzero(np.diff(decisions[lo:])) + 1 + lo).tolist()
    for a, b in zip([lo, *edges], [*edges, n]):
        runs.append((int(decisions[a]), first + a, first + b))
