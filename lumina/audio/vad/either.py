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
come out only of calls that complete a frame, and ``pending_frames`` counts only
the hysteresis's held frames. A frame whose value the first detector decides
alone (its speech, and its first ``second_after`` frames of silence) comes out
as soon as the first detector has decided it; only where the second's flag
counts does the frame wait for it, up to one Silero window (32 ms). So the
energy VAD's pauses inside speech reach the stream without Silero's lag, which
was up to 32 ms on the time from the end of speech to the whole text.
"""

from __future__ import annotations

import collections

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
        self._first_flags: collections.deque = collections.deque()    # decided by the first, not joined yet
        self._second_flags: collections.deque = collections.deque()   # the second's flags of those frames
        self._second_owed = 0           # frames joined without the second: its next flags are dropped
        self._first_quiet = _LONG_AGO   # frames in a row the first detector has called silence

    @property
    def pending_frames(self) -> int:
        """Frames both detectors decided but the hysteresis holds back (an onset, a hang-over)."""
        return self._hyst.pending

    def _joined(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The frames whose joined flag is known so far, in order; the rest waits in the queues."""
        firsts, seconds = self._first_flags, self._second_flags
        firsts.extend(a.tolist())
        b = b.tolist()
        dropped = min(self._second_owed, len(b))   # flags of frames already joined without them
        self._second_owed -= dropped
        seconds.extend(b[dropped:])
        out = []
        quiet = self._first_quiet
        while firsts:
            first = firsts[0]
            quiet_then = 0 if first else quiet + 1
            if first or quiet_then <= self._second_after:   # the first detector decides alone
                flag = first
                if seconds:
                    seconds.popleft()
                else:
                    self._second_owed += 1
            elif seconds:
                flag = seconds.popleft()
            else:   # the second's flag counts and is not known yet
                break
            firsts.popleft()
            quiet = quiet_then
            out.append(flag)
        self._first_quiet = quiet
        return np.array(out, np.int8)
