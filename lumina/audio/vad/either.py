"""Speech where either of two detectors hears it, behind one hysteresis.

The edges of the default stream detector (``vad="energy+silero"``): lumina's
energy VAD and the Silero network each flag frames raw (no hysteresis of their
own), a frame is speech when the energy VAD flags it, or when Silero does and
the energy VAD has been silent for at least ``second_after`` frames; one
:class:`Hysteresis` (minimum speech, hang-over) smooths the result, as with any
single detector.

Why a union: a pause mid-sentence splits no more often than with the energy
VAD alone (a union can only make pauses shorter). In steady noise the energy
VAD's adaptive floor rises with the noise and it stops hearing speech 5 dB
above it; Silero still does, so speech in noise is found. The union also opens
on anything loud (music, beeps): the Silero gate (:mod:`lumina.audio.vad.gate`)
discards those utterances.

Why Silero waits for the energy VAD's silence: Silero's raw flags outlast the
speech. On 24 sentences (hibari-tts and espeak-ng over a -60 dB floor) a plain
union ended the utterances a median 40 ms (up to 100 ms) after the energy VAD
alone, and decided each end a median 70 ms (up to 140 ms) later, all of it
added to every Final. Ignoring Silero for the first 100 ms of the energy VAD's
silence gives the energy VAD's ends exactly.

The frame interface is the one :class:`~lumina.streaming.pauses.FrameView`
relies on, as :class:`~lumina.audio.vad.silero.SileroVAD` offers it: decisions
come out only of calls that complete a frame, up to one Silero window (32 ms)
late, and ``pending_frames`` counts only the hysteresis's held frames.
"""

from __future__ import annotations

import numpy as np

from lumina._core.vad import Hysteresis

__all__ = ["EitherVAD"]

_LONG_AGO = 1 << 30   # the first detector's silence before any speech: as long as can be


class EitherVAD:
    """Two raw-flag detectors (``start_frames=end_frames=1``) joined: speech if the first says so,
    or the second does once the first has been silent ``second_after`` frames.

    Parameters
    ----------
    first, second
        Detectors with the frame interface and equal ``frame_samples``, built
        without hysteresis (one frame opens and one closes), so their decisions
        are their raw flags.
    start_frames, end_frames : int
        The joined flags' hysteresis: speech frames in a row to open, silence
        frames in a row to close.
    second_after : int, default 0
        The second detector's flags count only after this many frames in a row
        that the first calls silence: right after the first's speech, the
        second cannot extend it.
    """

    def __init__(self, first, second, start_frames: int, end_frames: int, second_after: int = 0) -> None:
        if first.frame_samples != second.frame_samples:
            raise ValueError("both detectors must use the same frame length")
        self.frame_samples = first.frame_samples
        self._first, self._second = first, second
        self._second_after = second_after
        self._hyst = Hysteresis(start_frames, end_frames)
        self._reset_joining()

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Feed float32 samples; return the frame decisions that became final (int8, 1 = speech)."""
        return self._hyst.push(self._joined(self._first.process(samples), self._second.process(samples)))

    def flush(self) -> np.ndarray:
        """End of stream: decide every frame still held, then reset."""
        joined = self._joined(self._first.flush(), self._second.flush())
        out = np.concatenate([self._hyst.push(joined), self._hyst.flush()])
        self.reset()
        return out

    def reset(self) -> None:
        """Forget all audio and state."""
        self._first.reset()
        self._second.reset()
        self._hyst.reset()
        self._reset_joining()

    def _reset_joining(self) -> None:
        self._queues = [np.empty(0, np.int8), np.empty(0, np.int8)]
        self._first_quiet = _LONG_AGO   # frames in a row the first detector has called silence

    @property
    def pending_frames(self) -> int:
        """Frames both detectors decided but the hysteresis holds back (an onset, a hang-over)."""
        return self._hyst.pending

    def _joined(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The frames both detectors have decided so far, OR-ed; the rest waits in the queues."""
        qa = np.concatenate([self._queues[0], a]) if len(self._queues[0]) else a
        qb = np.concatenate([self._queues[1], b]) if len(self._queues[1]) else b
        n = min(len(qa), len(qb))
        self._queues = [qa[n:].copy(), qb[n:].copy()]
        if not self._second_after:
            return (qa[:n] | qb[:n]).astype(np.int8)
        out = np.empty(n, np.int8)
        quiet = self._first_quiet
        for i in range(n):   # usually one frame per call
            quiet = 0 if qa[i] else quiet + 1
            out[i] = 1 if qa[i] or (qb[i] and quiet > self._second_after) else 0
        self._first_quiet = quiet
        return out
