"""Long recordings: segments handed over as they are decoded, in bounded memory.

:meth:`lumina.Engine.transcribe_iter` returns ``(segments, info)`` in the
manner of faster-whisper: ``segments`` is a lazy iterator, so a caller can
print or save the first minutes while the rest is still to be decoded.

How: the audio is read in blocks (:class:`~lumina.audio.blocks.AudioBlocks`,
memory-mapped WAV or soundfile blocks), a voice activity detector cuts it
into padded speech pieces (:class:`~lumina.asr.speech_regions.SpeechRegions`),
pieces are packed into windows of at most 30 s (whisper's window, so every
decode is one encoder pass), and each window's segment and token times are
mapped back onto the original audio. Pauses are never decoded, so they
cannot come back as invented text. Memory holds a block, a window and the
detector's undecided audio, whatever the length of the recording.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from lumina.asr.arguments import check_call, check_decoding
from lumina.asr.speech_regions import Piece, SpeechRegions
from lumina.asr.speed import check_speed
from lumina.asr.transcript import MIN_SAMPLES, Segment, Timings, Token, Transcript
from lumina.audio.blocks import AudioBlocks
from lumina.audio.convert import SAMPLE_RATE
from lumina.audio.vad import FILE_VAD, DETECTORS
from lumina.errors import ArgumentError, StateError, TranscriptionAborted

__all__ = ["SegmentIterator", "TranscriptionInfo", "transcribe_iter", "vad_kind"]

WINDOW_S = 30.0
_FLUSH_AFTER_S = 30.0                   # decode a part-filled window once the input is this far past it


@dataclasses.dataclass(frozen=True)
class TranscriptionInfo:
    """What is known about a long transcription before it starts.

    Attributes
    ----------
    duration : float
        Length of the input in seconds.
    vad : str or None
        The voice activity detector that chooses what is decoded (None: everything).
    language : str or None
        The language asked for (None: the model's default; see
        :attr:`SegmentIterator.language` for the one decoded).
    """

    duration: float
    vad: str | None
    language: str | None


def vad_kind(vad) -> str | None:
    """The detector name for a ``vad=`` argument: False/None -> None, True -> Silero (FILE_VAD)."""
    if vad is None or vad is False:
        return None
    if vad is True:
        return FILE_VAD
    if isinstance(vad, str) and vad in DETECTORS:
        return vad
    raise ArgumentError(f"vad must be True, False or one of {', '.join(map(repr, DETECTORS))}; "
                        f"got {vad!r}")


class _Window:
    """Pieces packed back to back, and where each came from."""

    def __init__(self) -> None:
        self.pieces: list[Piece] = []
        self.samples = 0

    def fits(self, piece: Piece) -> bool:
        return self.samples + len(piece.audio) <= int(WINDOW_S * SAMPLE_RATE)

    def add(self, piece: Piece) -> None:
        self.pieces.append(piece)
        self.samples += len(piece.audio)

    def audio(self) -> np.ndarray:
        return np.concatenate([p.audio for p in self.pieces]) if len(self.pieces) > 1 \
            else self.pieces[0].audio

    def to_input_time(self, t: float) -> float:
        """Seconds in the window -> seconds in the input."""
        offset = 0
        sample = t * SAMPLE_RATE
        for p in self.pieces:
            n = len(p.audio)
            if sample <= offset + n or p is self.pieces[-1]:
                return (p.start + min(max(sample - offset, 0.0), n)) / SAMPLE_RATE
            offset += n
        return 0.0


class SegmentIterator:
    """The segments of a long transcription, decoded as they are asked for.

    Returned (with a :class:`TranscriptionInfo`) by
    :meth:`lumina.Engine.transcribe_iter`. Iterate it; segments come in
    order, with times in seconds of the input. Segments with no text are
    left out.

    Attributes
    ----------
    info : TranscriptionInfo
    language : str or None
        The language decoded in, once the first window is decoded.
    reason : str or None
        Once iteration has ended without a segment: why (no speech found).
    position : float
        Seconds of input handled so far: transcribed, or skipped as non-speech.

    Raises
    ------
    TranscriptionAborted
        From ``next()`` after :meth:`cancel` or when ``should_abort`` returned True.
    """

    def __init__(self, engine, blocks: AudioBlocks, regions: SpeechRegions,
                 info: TranscriptionInfo, *, prompt: str | None, speed: str,
                 word_timestamps: bool, decoding: dict,
                 on_progress: Callable[[float, float], object] | None,
                 should_abort: Callable[[], bool] | None) -> None:
        self.info = info
        self.language = info.language
        self.reason: str | None = None
        self.position = 0.0
        self._spoke = False                # a segment with text was handed out
        self._empty_reason: str | None = None  # why the first window without words had none
        self._engine, self._blocks, self._regions = engine, blocks, regions
        self._prompt, self._speed, self._words = prompt, speed, word_timestamps
        self._decoding = decoding          # translate, temperature, beam_size
        self._on_progress, self._user_abort = on_progress, should_abort
        self._cancelled = threading.Event()
        self._stopping = threading.Event()  # iteration ended early: windows decoding ahead stop
        self._read_all = False              # the whole input has been read
        self._in_flight: Sequence[tuple[_Window, object]] = ()  # windows decoding ahead, in order
        self._timings = [0.0, 0.0, 0.0]    # audio, encode, decode
        self._speeds: set[str] = set()     # the speeds the windows were decoded at
        self._started = False
        self._gen = self._run()

    # ------------------------------------------------------------------ public

    def __iter__(self) -> SegmentIterator:
        return self

    def __next__(self) -> Segment:
        self._started = True
        return next(self._gen)

    def cancel(self) -> None:
        """Stop soon, from any thread: a decode in progress stops at its next step and the
        iterating thread gets :class:`~lumina.errors.TranscriptionAborted`."""
        self._cancelled.set()

    def close(self) -> None:
        """Stop and release the input (also done when iteration ends or fails)."""
        self._gen.close()
        self._blocks.close()

    def __enter__(self) -> SegmentIterator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transcript(self, on_segment: Callable[[Segment], object] | None = None) -> Transcript:
        """Decode everything and return it as one :class:`~lumina.Transcript`.

        Its ``speed`` is the speed that ran: ``"fast"`` when every window was
        decoded fast, ``"accurate"`` when every one ran accurately (a
        ``speed="fast"`` window whose fast decode was suspect is decoded again
        accurately, see :mod:`lumina.asr.speed`), ``"mixed"`` when both
        happened; the speed asked for when nothing was decoded.

        Parameters
        ----------
        on_segment : callable, optional
            Called with each segment as it is decoded, before this returns.

        Raises
        ------
        StateError
            Iteration has already begun.
        """
        if self._started:
            raise StateError("transcript() must be called before iterating the segments")
        started = time.perf_counter()
        segments = []
        for segment in self:
            segments.append(segment)
            if on_segment is not None:
                on_segment(segment)
        segments = tuple(segments)
        text = " ".join(s.text for s in segments).strip()
        a, e, d = self._timings
        timings = Timings(audio=a, encode=e, decode=d, total=time.perf_counter() - started)
        speed = self._speeds.pop() if len(self._speeds) == 1 else "mixed" if self._speeds else self._speed
        return Transcript(text, segments, self.language or "", self._device, timings,
                          reason=self.reason, speed=speed,
                          model=getattr(self._engine, "model_name", None))

    # ------------------------------------------------------------------ internal

    _device = "none"

    def _should_abort(self) -> bool:
        return (self._cancelled.is_set() or self._stopping.is_set()
                or (self._user_abort is not None and self._user_abort()))

    def _check(self) -> None:
        if self._should_abort():
            raise TranscriptionAborted("the transcription was cancelled")

    def _run(self) -> Iterator[Segment]:
        try:
            for window, result in self._decoded(self._windows()):
                yield from self._segments(window, result)
                del window, result     # not held while the next window is read (memory: one window)
            self.position = self.info.duration
            self._report(self.position)
            if self._device == "none":
                self.reason = self._no_speech_reason()
                self.language = self.language or self._engine._language_for(None)
            elif not self._spoke:
                self.reason = self._empty_reason or "no speech: whisper wrote nothing"
        finally:
            self._blocks.close()

    def _windows(self) -> Iterator[_Window]:
        """The input's speech packed into windows of at most 30 s, in order, as it is read."""
        window = _Window()
        for pieces in self._pieces():
            for piece in pieces:
                if not window.fits(piece) and window.pieces:
                    yield window
                    window = _Window()
                window.add(piece)
            if window.pieces and (self._regions.decided - window.pieces[-1].end
                                  > _FLUSH_AFTER_S * SAMPLE_RATE):
                yield window
                window = _Window()
            self._progress(window)
        if window.pieces:
            yield window

    def _pieces(self) -> Iterator[list[Piece]]:
        t = time.perf_counter()
        for block in self._blocks:
            self._check()
            pieces = self._regions.feed(block)
            self._timings[0] += time.perf_counter() - t
            yield pieces
            t = time.perf_counter()
        self._read_all = True
        yield self._regions.flush()

    def _decoded(self, windows: Iterator[_Window]) -> Iterator[tuple[_Window, Transcript | None]]:
        """Each window with its decode, in order; up to ``engine.concurrency`` decoding at once.

        Windows are decoded independently (each is prompted with the caller's prompt only), so
        the engine's slots can decode the next ones while the caller reads this one: on a CPU,
        two one-thread decodes at once get through a recording faster than one two-thread
        decode after another (``benchmarks/compare_accuracy.py``, long-file rows). So the
        engine's threads are shared out: each window of a recording of several windows is
        decoded with ``threads // concurrency`` threads (at least 1); a recording of one
        window, which nothing could decode beside, gets them all. The split depends on the
        input alone, never on timing, so the same input gives the same text. Where the
        language is to be detected (a multilingual model, no ``language``), the first window
        is decoded alone: every later window is decoded in the language it finds.
        """
        workers = max(1, int(getattr(self._engine, "concurrency", 1)))
        if workers == 1:
            for window in windows:
                yield window, self._decode(window, self.language)
                del window
            return
        shared = max(1, int(getattr(self._engine, "threads", 1)) // workers)
        pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="lumina-window")
        pending: collections.deque = collections.deque()
        self._in_flight = pending
        try:
            for index, window in enumerate(windows):
                alone = index == 0 and self._read_all      # the input is one window
                threads = None if alone else shared
                language = self.language or self._engine._language_for(None)
                if language == "auto":   # only before the first result: nothing is pending then
                    yield window, self._decode(window, language, threads)
                    continue
                pending.append((window, pool.submit(self._decode, window, language, threads)))
                del window
                while len(pending) > workers or (pending and pending[0][1].done()):
                    yield _done(pending.popleft())
            while pending:
                yield _done(pending.popleft())
        finally:
            self._stopping.set()          # decodes still running (the caller stopped early) end soon
            pool.shutdown(wait=True, cancel_futures=True)
            self._in_flight = ()

    def _decode(self, window: _Window, language: str | None,
                threads: int | None = None) -> Transcript | None:
        """Decode one window (on any thread) with ``threads`` (None: the engine's); None when it
        is too short for whisper."""
        self._check()
        audio = window.audio()
        if len(audio) < MIN_SAMPLES:
            return None
        return self._engine._decode_window(
            audio, language=language, prompt=self._prompt, speed=self._speed, threads=threads,
            word_timestamps=self._words, should_abort=self._should_abort, **self._decoding)

    def _segments(self, window: _Window, result: Transcript | None) -> Iterator[Segment]:
        """Record what a window's decode says; yield its segments (those with text) in input time."""
        if result is None:
            return
        self._device = result.device
        self._speeds.add(result.speed)
        if self.language in (None, "auto"):   # detected once, then kept for every window
            self.language = result.language
        self._timings[1] += result.timings.encode
        self._timings[2] += result.timings.decode
        if not result.text and self._empty_reason is None:
            self._empty_reason = result.reason
        for s in result.segments:
            if s.text:
                self._spoke = True
                yield _mapped(s, window, self._words)

    def _progress(self, window: _Window) -> None:
        done = self._regions.settled
        for waiting in (*(w for w, _ in self._in_flight), window):  # read, not yet handed out
            if waiting.pieces:
                done = min(done, waiting.pieces[0].start)
                break
        self.position = max(self.position, done / SAMPLE_RATE)
        self._report(self.position)

    def _report(self, position: float) -> None:
        if self._on_progress is not None:
            self._on_progress(min(position, self.info.duration), self.info.duration)

    def _no_speech_reason(self) -> str:
        if self.info.vad is None:
            return (f"audio is {self.info.duration * 1000:.0f} ms long; "
                    "whisper needs at least 100 ms")
        return f"no speech found by the {self.info.vad} VAD in {self.info.duration:.2f} s of audio"


def _done(item: tuple[_Window, concurrent.futures.Future]) -> tuple[_Window, Transcript | None]:
    """A window and its decode's result (its exception, raised here, in the iterating thread)."""
    window, future = item
    return window, future.result()


def _mapped(segment: Segment, window: _Window, words: bool) -> Segment:
    tokens = segment.tokens
    if words:
        tokens = tuple(Token(t.id, t.text, t.probability, window.to_input_time(t.start),
                             window.to_input_time(t.end)) for t in tokens)
    return Segment(window.to_input_time(segment.start), window.to_input_time(segment.end),
                   segment.text, tokens, segment.no_speech_prob)


def transcribe_iter(self, audio, *, vad=True, language: str | None = None,
                    prompt: str | None = None, speed: str = "accurate",
                    word_timestamps: bool = False, translate: bool = False,
                    temperature: float = 0.0, beam_size: int | None = None,
                    sample_rate: int | None = None,
                    on_progress: Callable[[float, float], object] | None = None,
                    should_abort: Callable[[], bool] | None = None,
                    ) -> tuple[SegmentIterator, TranscriptionInfo]:
    # This is the method Engine.transcribe_iter (``self`` is the Engine); it lives here so
    # the long-form path stays one module.
    """Transcribe a recording of any length, handing segments over as they are decoded.

    The audio is read in blocks (WAV memory-mapped, other formats through
    soundfile), the speech is decoded in windows of at most 30 s, and
    memory does not grow with the length of the input. Nothing is decoded
    before the first segment is asked for. An engine made with
    ``concurrency=N`` decodes up to N windows at once, each with
    ``threads // N`` threads when the input is longer than one window
    (segments still come in order, the same as one window after another
    with that many threads): on two cores, ``Engine(model, concurrency=2)``
    read a 5-minute file in 7.1 s against 8.4 s with ``concurrency=1``.

    Parameters
    ----------
    audio : path, bytes, binary file object or numpy.ndarray
        As for :meth:`Engine.transcribe`.
    vad : bool or {"silero", "energy", "webrtc"}, default True
        Decode only the speech a voice activity detector finds (True: the
        default detector, Silero): pauses are skipped, never decoded into
        invented text. False decodes everything, in windows cut at the
        quietest moment near each 30 s limit.
    language, prompt, speed, word_timestamps, translate, temperature, beam_size, sample_rate
        As for :meth:`Engine.transcribe`; ``prompt`` conditions every window. With
        ``language="auto"`` the language found in the first window is kept.
    on_progress : callable, optional
        Called as ``on_progress(done_s, total_s)`` as the input is read and
        decoded: seconds of input handled (transcribed or skipped) so far.
    should_abort : callable, optional
        Polled while decoding; returning True stops the iteration with
        :class:`~lumina.errors.TranscriptionAborted`, as does
        ``segments.cancel()`` from any thread.

    Returns
    -------
    segments : SegmentIterator
        Iterator of :class:`Segment` (times in seconds of the input), with
        ``cancel()``, ``close()``, ``transcript()``, and ``language`` and
        ``reason`` filled in as it goes.
    info : TranscriptionInfo
        Duration of the input, the detector and the language asked for.

    Raises
    ------
    AudioFormatError, AudioNotFoundError
        The input cannot be opened (bad samples are found while iterating).
    ArgumentError
        An unknown ``vad``, ``speed`` or ``language``, or a wrong type.
    MissingDependencyError
        The detector's package is not installed.

    Examples
    --------
    >>> segments, info = engine.transcribe_iter("meeting.wav")  # doctest: +SKIP
    >>> for s in segments:                                      # doctest: +SKIP
    ...     print(f"[{s.start:7.2f} -> {s.end:7.2f}] {s.text}")
    """
    check_speed(speed)
    check_call(language, prompt, should_abort)
    check_decoding(translate, temperature, None, None, beam_size)
    if on_progress is not None and not callable(on_progress):
        raise ArgumentError(f"on_progress must be callable, got {type(on_progress).__name__}")
    kind = vad_kind(vad)
    regions = SpeechRegions(kind, max_s=WINDOW_S)
    blocks = AudioBlocks(audio, sample_rate=sample_rate)
    info = TranscriptionInfo(blocks.duration, kind, language)
    segments = SegmentIterator(self, blocks, regions, info, prompt=prompt, speed=speed,
                               word_timestamps=word_timestamps,
                               decoding={"translate": translate, "temperature": temperature,
                                         "beam_size": beam_size},
                               on_progress=on_progress, should_abort=should_abort)
    return segments, info
