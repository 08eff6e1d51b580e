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
* :class:`lumina.audio.push.PushSource`: the source behind :meth:`Stream.feed`;
* :mod:`~lumina.streaming.options`: :class:`StreamModels` and :class:`StreamOptions`,
  what a stream decodes with and how.

A partial step is skipped while a decode is still running (work never queues
up), and a running partial decode is aborted when its utterance ends, so the
final starts at once.

Low latency at the end of speech (``StreamOptions(eager=True)``, the default): the moment the
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
from lumina.errors import ArgumentError, StateError
from lumina.streaming.decoder import Decoder
from lumina.streaming.delivery import Delivery
from lumina.streaming.auto_models import resolve_auto_models
from lumina.streaming.engines import resolve_engines
from lumina.streaming.events import Final, Partial, StreamEvent
from lumina.streaming.options import ModelChoice, StreamModels, StreamOptions
from lumina.streaming.pipeline import Pipeline
from lumina.streaming.scheduler import Scheduler
from lumina.streaming.segmenter import Segmenter
from lumina.streaming.stats import Counters, StreamStats

__all__ = ["Stream", "StreamStats"]


class Stream:
    """Live transcription of a microphone, a file or pushed chunks.

    Parameters
    ----------
    model : str, path-like, SpeechEngine or StreamModels, default "base.en"
        What decodes: a model name or file for both paths (partials decode it
        with ``speed="fast"``, finals with ``options.final_speed``; the stream
        loads it in the background as it is built and closes it at the end),
        a ready :class:`~lumina.SpeechEngine` such as a :class:`~lumina.Engine`
        (used as it is, never closed by the stream), or
        :class:`~lumina.StreamModels` with one of those per path (progressive
        refinement: ``StreamModels(partial="tiny.en", final="base.en")``). For
        engine settings (threads, a phrase cache), pass an Engine you made.
        ``"auto"`` (for both paths, or for one in StreamModels) chooses among
        the installed models for the path's own budget: partials within
        ``options.step``, Finals within the Final goal of 1 s at
        ``options.final_speed`` (:mod:`lumina.streaming.auto_models`; the first
        choice on a machine measures it: 10-40 s per family and storage type
        on two cores);
        ``stream.model_picks`` says what was chosen and why.
    source : None, "microphone", path-like, AudioSource, iterable or callable
        ``None``: push audio with :meth:`feed` and end with :meth:`close_input`.
        ``"microphone"``: the default input device, reopened with backoff after
        it disappears; a :class:`~lumina.MicrophoneSource` for another device
        (``MicrophoneSource("USB")``) is reopened the same way. A path: the
        file played at real-time pace. Any other
        :class:`~lumina.audio.sources.AudioSource` or any iterable of float32
        16 kHz chunks is read as it comes. A callable returning an AudioSource
        is called again after the source raises :class:`~lumina.errors.DeviceError`.
    language : str, optional
        Language code passed to every decode.
    segmenter : Segmenter, optional
        Voice activity detection and utterance settings
        (``Segmenter(vad="silero")``, ``hangover_ms``, ``max_utterance_s``...);
        the stream runs a :meth:`~lumina.Segmenter.copy` of it (the one passed
        is never fed or changed). Default ``Segmenter()``: the energy VAD.
    options : StreamOptions, optional
        How decodes are scheduled (:class:`~lumina.StreamOptions`: ``step``,
        ``final_speed``, ``eager``, ``hangover``, ``lockstep``, ``ring_seconds``);
        default ``StreamOptions()``.
    on_partial, on_final, on_event : callable, optional
        Callbacks, called on the decoder thread in stream order (``on_event``
        gets every event, the others their kind). A stream with callbacks
        cannot also be iterated. Keep them short: a slow callback holds up
        decoding, and a live source then drops audio (reported by :class:`Dropped`).
        An exception in a callback ends the stream; :meth:`join` raises it.

    Raises
    ------
    ArgumentError
        A ``model``, ``source``, ``segmenter`` or ``options`` of the wrong kind,
        or a segmenter that does not run at 16 kHz.
    DeviceError
        ``source="microphone"`` and no input device.

    Events
    ------
    :class:`SpeechStarted`, :class:`Partial`, :class:`SpeechStopped`,
    :class:`Final`, :class:`Dropped` and :class:`DeviceLost`, by callbacks, by
    ``for event in stream`` or by ``async for event in stream``. Every
    utterance gets one ``SpeechStarted`` first and exactly one ``Final`` last
    (after its ``SpeechStopped``), even when its text is empty (the model heard
    no words in it); silence produces no event. All their times,
    ``Final.segments`` included, are stream time: seconds of audio since the
    stream started.
    """

    def __init__(self, model: ModelChoice | StreamModels = "base.en", *, source=None,
                 language: str | None = None, segmenter: Segmenter | None = None,
                 options: StreamOptions | None = None,
                 on_partial: Callable[[Partial], object] | None = None,
                 on_final: Callable[[Final], object] | None = None,
                 on_event: Callable[[StreamEvent], object] | None = None) -> None:
        options = StreamOptions() if options is None else options
        if not isinstance(options, StreamOptions):
            raise ArgumentError(f"options must be a lumina.StreamOptions, got {type(options).__name__}")
        segmenter = _own_segmenter(segmenter)
        self.options, self.language = options, language
        factory, fixed, self._push = self._plan_source(source, options.ring_seconds)
        model, self.model_picks = resolve_auto_models(model, options)
        self._partial_engine, self._final_engine, self._owned = resolve_engines(model)
        self._fixed_source = fixed
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._counters = Counters()
        self._delivery = Delivery(on_partial, on_final, on_event)
        self._scheduler = Scheduler(segmenter, options.step, lockstep=options.lockstep,
                                    eager=options.eager,
                                    first_step=None if options.eager else options.step,
                                    hangover=options.hangover, decode_budget=options.decode_budget)
        self._decoder = Decoder(self._partial_engine, self._final_engine,
                                final_speed=options.final_speed, language=language,
                                final_beam_size=options.final_beam_size,
                                delivery=self._delivery, counters=self._counters,
                                stopping=self._stopping, on_failure=self._halt,
                                on_exit=self._close_owned)
        self._pipeline = Pipeline(source=fixed, factory=factory, scheduler=self._scheduler,
                                  decoder=self._decoder, delivery=self._delivery,
                                  counters=self._counters, stopping=self._stopping)

    @staticmethod
    def _plan_source(source, ring_seconds: float):
        """Return (factory, fixed source, push source): the factory or the fixed source is None."""
        if source is None:
            push = PushSource(ring_seconds, what="Stream.feed()", reuse_chunks=True)
            return None, push, push
        if isinstance(source, str) and source == "microphone":
            find_input_device(None)  # no input device fails here, not in a retry loop
            return (lambda: _reusing(MicrophoneSource(ring_seconds=ring_seconds))), None, None
        if isinstance(source, MicrophoneSource):
            return _reopening(source), None, None
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
        return f"Stream({self.options}, {state})"


def _reusing(source: AudioSource) -> AudioSource:
    """The source, set to yield views of one reused buffer (the pipeline copies each chunk at once)."""
    source.reuse_chunks = True
    return source


def _reopening(first: MicrophoneSource):
    """A source factory: ``first``, then after each loss the same device reopened."""
    current = [first]

    def factory() -> AudioSource:
        source = current[0]
        if source is None:
            source = current[-1].reopen()
        current[:] = [None, source]
        return _reusing(source)

    return factory


def _own_segmenter(segmenter: Segmenter | None) -> Segmenter:
    """The stream's own segmenter: a copy of ``segmenter`` (never fed or changed), or the default."""
    if segmenter is None:
        return Segmenter(SAMPLE_RATE)
    if not isinstance(segmenter, Segmenter):
        raise ArgumentError(f"segmenter must be a lumina.Segmenter, got {type(segmenter).__name__}")
    if segmenter.sample_rate != SAMPLE_RATE:
        raise ArgumentError(f"the segmenter must run at {SAMPLE_RATE} Hz, got {segmenter.sample_rate}")
    return segmenter.copy()
