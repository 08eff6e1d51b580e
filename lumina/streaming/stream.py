"""Streaming transcription: partial text while someone speaks, final text when they stop.

:class:`Stream` is a façade over the parts of this package:

* :mod:`~lumina.streaming.pipeline`: the ``lumina-stream`` thread reads the
  source and feeds the segmenter and the scheduler;
* :mod:`~lumina.streaming.scheduler`: the pure partial/final schedule (every
  ``step`` seconds of an open utterance a partial decode, at its end a final);
  silence never opens an utterance, so the model never runs on it;
* :mod:`~lumina.streaming.decoder`: the ``lumina-decode`` thread runs the
  decodes one at a time and emits every event, in stream order;
* :mod:`~lumina.streaming.delivery`: callbacks, ``for`` and ``async for``;
* :class:`lumina.audio.push.PushSource`: the source behind :meth:`Stream.feed`.

A partial step is skipped while a decode is still running (work never queues
up), and a running partial decode is aborted when its utterance ends, so the
final starts at once.

Low latency at the end of speech (``eager=True``, the default): the moment the
VAD hears speech stop, the utterance so far is decoded for a complete
provisional text (``Partial(complete=True)``) and, speculatively, for its final;
if speech resumes within the hang-over that work is discarded
(:attr:`StreamStats.speculative_discarded`), and when the hang-over confirms
the end the final is already there. The hang-over itself adapts to the text: it
is shorter after a sentence end and longer after a comma
(:class:`~lumina.streaming.hangover.HangoverPolicy`). The first partial of an
utterance comes as soon as the VAD has confirmed the speech.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterable, Iterator

from lumina.audio.convert import SAMPLE_RATE
from lumina.audio.push import PushSource
from lumina.audio.sources import AudioSource, FileSource, IterableSource, MicrophoneSource, find_input_device
from lumina.errors import StateError
from lumina.streaming.auto_models import resolve_auto_models
from lumina.streaming.decoder import Decoder
from lumina.streaming.delivery import Delivery
from lumina.streaming.engines import ArgumentError, resolve_engines
from lumina.streaming.events import Final, Partial, StreamEvent
from lumina.streaming.hangover import HangoverPolicy
from lumina.streaming.pipeline import Pipeline
from lumina.streaming.scheduler import Scheduler
from lumina.streaming.segmenter import Segmenter
from lumina.streaming.stats import Counters, StreamStats

__all__ = ["Stream", "StreamStats"]


class Stream:
    """Live transcription of a microphone, a file or pushed chunks.

    Parameters
    ----------
    model : str or path-like, optional
        One model for both paths: partials decode it with ``speed="fast"``,
        finals with ``final_speed``. Default ``"base.en"`` when no model or
        engine is given at all.
    partial_model, final_model : str or path-like, optional
        Progressive refinement: partials on a fast model (``"tiny.en"``),
        finals on an accurate one (``"base.en"``); both load in the background
        as the stream is built. ``"auto"`` (also ``model="auto"``) chooses
        each among the installed models for its own budget: partials within
        ``step``, Finals within the Final goal of 1 s
        (:mod:`lumina.streaming.auto_models`; the first choice on a machine
        measures it, which takes a few seconds per candidate family);
        ``stream.model_choices`` says what was chosen and why.
    engine, partial_engine, final_engine : Engine, optional
        Ready :class:`~lumina.Engine` objects (or anything with its
        ``transcribe(audio, speed=..., language=..., should_abort=...)``)
        instead of model names: ``engine`` for both paths, or one per path.
        The stream closes only the engines it created. A keyword that would be
        ignored (``engine`` with a model, ``model`` with ``partial_model``...)
        raises :class:`ArgumentError`.
    source : None, "microphone", path-like, AudioSource, iterable or callable
        ``None``: push audio with :meth:`feed` and end with :meth:`close_input`.
        ``"microphone"``: the input ``device``, reopened with backoff after it
        disappears. A path: the file played at real-time pace. An
        :class:`~lumina.audio.sources.AudioSource` or any iterable of float32
        16 kHz chunks is read as it comes. A callable returning an AudioSource
        is called again after the source raises :class:`~lumina.errors.DeviceError`.
    device : None, int or str
        The microphone (index or name substring) for ``source="microphone"``.
    step : float, default 0.25
        Seconds of new audio between partial decodes of an open utterance.
    final_speed : {"accurate", "fast"}, default "accurate"
        The speed of the final decode.
    eager : bool, default True
        End of utterance without waiting (see above): a complete provisional
        partial and a speculative final as soon as speech stops, the
        hang-over adapted to the text, and the first partial as soon as speech
        is confirmed. The final of an utterance is the decode of its audio up
        to the point where speech stopped, exactly as without ``eager`` (the
        segmenter's ``SpeechEnd`` ends there too). False: partials every
        ``step`` from the onset, the final decoded after the segmenter's fixed
        hang-over.
    hangover : HangoverPolicy or None, optional
        How long a silence ends an utterance, by what the latest text says
        (:class:`~lumina.streaming.hangover.HangoverPolicy`). Default: the
        policy's defaults when ``eager``, else None. None: the segmenter's
        fixed hang-over whatever the text.
    segmenter : Segmenter, optional
        Voice activity detection and utterance settings (``Segmenter(vad="webrtc")``,
        ``hangover_ms``, ``max_utterance_s``...); default ``Segmenter(vad=vad)``.
    vad : {"energy", "silero", "webrtc"}, optional
        The detector of the default segmenter (default energy; ``"silero"``
        opens no utterance on noise or music); not with ``segmenter``.
    on_partial, on_final, on_event : callable, optional
        Callbacks, called on the decoder thread in stream order (``on_event``
        gets every event, the others their kind). A stream with callbacks
        cannot also be iterated. Keep them short: a slow callback holds up
        decoding, and a live source then drops audio (reported by :class:`Dropped`).
        An exception in a callback ends the stream; :meth:`join` raises it.
    threads : int, optional
        CPU threads of the engines the stream creates.
    cache : PhraseCache, optional
        Phrase cache of the final engine the stream creates.
    language : str, optional
        Language code passed to every decode.
    ring_seconds : float, default 10.0
        Audio a live source (microphone, :meth:`feed`) buffers while the pipeline is behind.
    lockstep : bool, default False
        Live mode (False) skips a partial step while a decode is running and
        aborts a partial decode whose utterance has ended (or a speculation
        when speech resumes). True makes the pipeline wait for each decode
        instead: every step gets its partial, nothing is aborted and decoded
        text adapts the hang-over at points fixed by the audio, so the events
        depend only on the audio (tests, offline runs; a live source may then
        drop audio). A speculation then decodes only its complete partial; the
        final waits for the hang-over (decoding it earlier would gain nothing).

    Events
    ------
    :class:`Partial`, :class:`Final`, :class:`Dropped` and :class:`DeviceLost`,
    by callbacks, by ``for event in stream`` or by ``async for event in stream``.
    Every utterance gets exactly one ``Final`` after its partials, even when its
    text is empty (the model heard no words in it); silence produces no event.
    All their times, ``Final.segments`` included, are stream time: seconds of
    audio since the stream started.
    """

    def __init__(self, model=None, *, partial_model=None, final_model=None, engine=None,
                 partial_engine=None, final_engine=None, source=None, device=None,
                 step: float = 0.25, final_speed: str = "accurate",
                 segmenter: Segmenter | None = None,
                 on_partial: Callable[[Partial], object] | None = None,
                 on_final: Callable[[Final], object] | None = None,
                 on_event: Callable[[StreamEvent], object] | None = None,
                 threads: int | None = None, cache=None, language: str | None = None,
                 ring_seconds: float = 10.0, lockstep: bool = False, eager: bool = True,
                 hangover: HangoverPolicy | None | str = "default",
                 vad: str | None = None) -> None:
        _check_options(step, final_speed, ring_seconds, eager, hangover)
        if hangover == "default":
            hangover = HangoverPolicy() if eager else None
        if segmenter is not None and vad is not None:
            raise ArgumentError("pass vad= or segmenter=, not both (Segmenter(vad=...) sets it there)")
        segmenter = segmenter or (Segmenter(SAMPLE_RATE) if vad is None else Segmenter(SAMPLE_RATE, vad=vad))
        if segmenter.sample_rate != SAMPLE_RATE:
            raise ArgumentError(f"the segmenter must run at {SAMPLE_RATE} Hz, got {segmenter.sample_rate}")
        self.step, self.final_speed, self.language, self.lockstep = float(step), final_speed, language, lockstep
        self.eager = eager
        self._ring_seconds = ring_seconds
        factory, fixed, self._push = self._plan_source(source, device)
        model, partial_model, final_model, self.model_choices = resolve_auto_models(
            model, partial_model, final_model, step=self.step, final_speed=final_speed, threads=threads,
            engine=engine)
        self._partial_engine, self._final_engine, self._owned = resolve_engines(
            model=model, partial_model=partial_model, final_model=final_model, engine=engine,
            partial_engine=partial_engine, final_engine=final_engine, threads=threads, cache=cache)
        self._fixed_source = fixed
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._counters = Counters()
        self._delivery = Delivery(on_partial, on_final, on_event)
        self._scheduler = Scheduler(segmenter, self.step, lockstep=lockstep, eager=eager,
                                    first_step=None if eager else self.step,
                                    hangover=hangover)
        self._decoder = Decoder(self._partial_engine, self._final_engine, final_speed=final_speed,
                                language=language, delivery=self._delivery, counters=self._counters,
                                stopping=self._stopping, on_failure=self._halt,
                                on_exit=self._close_owned)
        self._pipeline = Pipeline(source=fixed, factory=factory, scheduler=self._scheduler,
                                  decoder=self._decoder, delivery=self._delivery,
                                  counters=self._counters, stopping=self._stopping)

    def _plan_source(self, source, device):
        """Return (factory, fixed source, push source): the factory or the fixed source is None."""
        if source is None:
            push = PushSource(self._ring_seconds, what="Stream.feed()", reuse_chunks=True)
            return None, push, push
        if isinstance(source, str) and source == "microphone":
            find_input_device(device)  # a wrong device name fails here, not in a retry loop
            seconds = self._ring_seconds
            return (lambda: _reusing(MicrophoneSource(device, ring_seconds=seconds))), None, None
        if device is not None:
            raise ArgumentError("device applies only to source='microphone'")
        if isinstance(source, (str, os.PathLike)):
            return None, FileSource(source, realtime=True), None
        if isinstance(source, AudioSource):
            return None, source, None
        if callable(source):
            return source, None, None
        if isinstance(source, Iterable):
            return None, IterableSource(source), None
        raise ArgumentError("source must be None, 'microphone', a path, an AudioSource, an iterable "
                            f"of chunks or a callable returning an AudioSource; got {type(source).__name__}")

    # ------------------------------------------------------------------ control

    def start(self) -> Stream:
        """Start the pipeline (iterating, :meth:`feed` and ``with`` start it too); returns self.

        Raises
        ------
        StateError
            When the stream was stopped.
        """
        with self._lock:
            if self._started:
                return self
            if self._stopping.is_set():
                raise StateError("this stream was stopped; create a new Stream")
            self._started = True
            self._threads = [
                threading.Thread(target=self._pipeline.run, name="lumina-stream", daemon=True),
                threading.Thread(target=self._decoder.run, name="lumina-decode", daemon=True)]
        for t in self._threads:
            t.start()
        return self

    def feed(self, chunk, sample_rate: int = SAMPLE_RATE) -> None:
        """Push a chunk of audio into a stream made with ``source=None``.

        Safe from any thread; never blocks on decoding. When the pipeline is
        behind by more than ``ring_seconds``, the oldest unread audio is dropped
        and a :class:`Dropped` event reports it.

        Parameters
        ----------
        chunk : array_like
            Any dtype, shape and layout :func:`lumina.audio.convert.to_mono`
            accepts: float in [-1, 1] or integer PCM, mono or ``[frames, channels]``.
        sample_rate : int, default 16000
            Rate of ``chunk``; other rates are resampled to 16 kHz as a stream
            (the resampler keeps its state from chunk to chunk).

        Raises
        ------
        StateError
            When the stream was not made with ``source=None``, or after
            :meth:`close_input` or :meth:`stop`.
        AudioFormatError
            For a chunk that is not audio (nothing of it is kept).
        """
        if self._push is None:
            raise StateError("feed() needs a stream made with source=None; this one reads its own source")
        if self._stopping.is_set() or self._push.ended:
            raise StateError("Stream.feed() after close_input() or stop(); start a new Stream")
        self.start()
        self._push.write(chunk, sample_rate)

    def close_input(self) -> None:
        """End of pushed audio: the open utterance gets its final, then the events end."""
        if self._push is None:
            raise StateError("close_input() applies only to a stream made with source=None")
        self._push.end()
        self.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop promptly from any thread: no further events; the threads are gone on return.

        A running decode is aborted at its next decoding step and the open
        utterance gets no final (use :meth:`close_input` or let a source end
        for that). Engines the stream created are closed. Idempotent; may be
        called from a callback (the calling thread then ends after it returns).

        Parameters
        ----------
        timeout : float, default 10.0
            Longest wait for each thread; only an engine that ignores its
            abort callback (not :class:`~lumina.Engine`) or one still loading
            its model can make the wait that long.
        """
        self._halt()
        me = threading.current_thread()
        for t in self._threads:
            if t is not me:
                t.join(timeout)
        if not self._started:
            self._close_owned()
            self._delivery.finish()

    def _halt(self) -> None:
        """Set the stop flag and end the source's iteration (never joins: safe on any thread)."""
        self._stopping.set()
        self._decoder.wake()
        self._pipeline.stop_source()
        if self._push is not None:
            self._push.end()  # a later feed() raises instead of filling a ring nobody reads
        if self._fixed_source is not None:
            self._fixed_source.stop()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the stream has ended (source exhausted, input closed or stopped).

        Raises
        ------
        TimeoutError
            ``timeout`` passed first.
        Exception
            What failed inside the pipeline (for example a model that could not load).
        """
        if not self._delivery.ended.wait(timeout):
            raise TimeoutError(f"the stream did not end within {timeout} s")
        for t in self._threads:
            if t is not threading.current_thread():
                t.join()
        if self._delivery.error is not None:
            raise self._delivery.error

    @property
    def stats(self) -> StreamStats:
        """Counters of the work done so far."""
        return self._counters.snapshot(self._scheduler.skipped_steps)

    def __enter__(self) -> Stream:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    async def __aenter__(self) -> Stream:
        return self.start()

    async def __aexit__(self, *exc_info) -> None:
        # stop() joins threads: wait for it on a worker thread, never on the event loop.
        await asyncio.to_thread(self.stop)

    # ------------------------------------------------------------------ events out

    def __iter__(self) -> Iterator[StreamEvent]:
        """Events as they come, until the stream ends; then what failed, if anything, is raised."""
        self._delivery.check_iterable()
        self.start()
        return self._delivery.iterate()

    def __aiter__(self) -> Stream:
        self._delivery.check_iterable()
        self.start()
        return self

    async def __anext__(self) -> StreamEvent:
        return await self._delivery.next_event()

    def _close_owned(self) -> None:
        owned, self._owned = self._owned, []
        for engine in owned:
            engine.close()
        if self._fixed_source is not None:
            self._fixed_source.close()

    def __repr__(self) -> str:
        state = "ended" if self._delivery.ended.is_set() else ("running" if self._started else "new")
        return f"Stream(step={self.step}, final_speed={self.final_speed!r}, {state})"


def _reusing(source: AudioSource) -> AudioSource:
    """The source, set to yield views of one reused buffer (the pipeline copies each chunk at once)."""
    source.reuse_chunks = True
    return source


def _check_options(step, final_speed, ring_seconds, eager, hangover) -> None:
    if not step > 0:
        raise ArgumentError(f"step must be > 0 seconds, got {step}")
    if final_speed not in ("accurate", "fast"):
        raise ArgumentError(f"final_speed must be 'accurate' or 'fast', got {final_speed!r}")
    if not ring_seconds > 0:
        raise ArgumentError(f"ring_seconds must be > 0, got {ring_seconds}")
    if not isinstance(eager, bool):
        raise ArgumentError(f"eager must be True or False, got {eager!r}")
    if not (hangover is None or isinstance(hangover, HangoverPolicy) or
            (isinstance(hangover, str) and hangover == "default")):
        raise ArgumentError(f"hangover must be a HangoverPolicy or None, got {hangover!r}")
