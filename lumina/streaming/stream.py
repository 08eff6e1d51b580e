"""Streaming transcription: partial text while someone speaks, final text when they stop.

A :class:`Stream` runs two threads:

``lumina-stream`` (the pipeline)
    Pulls 16 kHz chunks from the source, feeds the :class:`~lumina.segmenter.Segmenter`
    and schedules work: every ``step`` seconds of new audio in an open utterance a
    partial decode (fast path), and at the end of each utterance its final decode.
    Silence never opens an utterance, so the model never runs on it.
``lumina-decode`` (the decoder)
    Runs the decodes one at a time, in order, and emits every event, so events
    arrive in stream order and callbacks are never called concurrently.

A partial step is skipped while a decode is still running (work never queues
up), and a running partial decode is aborted when its utterance ends, so the
final starts at once.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from lumina.streaming.agreement import LocalAgreement
from lumina.errors import DeviceError, LuminaError, TranscriptionAborted
from lumina.streaming.events import DeviceLost, Dropped, Final, Partial, StreamEvent
from lumina.streaming.segmenter import Segmenter, SpeechEnd, SpeechStart
from lumina.audio.sources import (TARGET_RATE, AudioSource, FileSource, IterableSource, MicrophoneSource,
                            _as_float32_mono, find_input_device)

__all__ = ["Stream", "StreamStats"]

SR = TARGET_RATE
_END = object()            # marks the end of the event queue
_POLL_S = 0.05             # how often blocked threads look at the stop flag
_BACKOFF_FIRST_S = 0.1     # first reconnection delay; doubles up to _BACKOFF_MAX_S
_BACKOFF_MAX_S = 5.0
_ARRIVALS_KEPT = 4096      # chunk arrival times remembered (minutes of 20 ms chunks)


@dataclasses.dataclass(frozen=True)
class StreamStats:
    """Counters of a stream's work so far.

    Attributes
    ----------
    audio_s : float
        Seconds of audio the pipeline has read.
    partial_decodes, final_decodes : int
        Decodes run (aborted partial decodes included).
    skipped_steps : int
        Partial steps skipped because a decode was still running.
    decode_s : float
        Wall time spent decoding.
    segment_s : float
        Wall time spent in voice activity detection and scheduling.
    dropped_samples : int
        Samples lost at the ring buffer.
    """

    audio_s: float = 0.0
    partial_decodes: int = 0
    final_decodes: int = 0
    skipped_steps: int = 0
    decode_s: float = 0.0
    segment_s: float = 0.0
    dropped_samples: int = 0


@dataclasses.dataclass
class _Job:
    kind: str                       # "partial", "final" or "emit"
    utterance_id: int = -1
    audio: np.ndarray | None = None
    arrival: float = 0.0            # when the job's last sample reached lumina
    audio_time: float = 0.0
    start: float = 0.0
    abort: threading.Event = dataclasses.field(default_factory=threading.Event)
    event: StreamEvent | None = None


class _PushSource(AudioSource):
    """The source of ``Stream.feed()``: a lock-guarded producer side over a RingBuffer."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        from lumina._core.ringbuffer import RingBuffer
        self._ring = RingBuffer(int(seconds * SR), overwrite=True)
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._ended = False

    def write(self, chunk) -> None:
        samples = _as_float32_mono(chunk, "Stream.feed()")
        if not np.isfinite(samples).all():
            raise LuminaError("Stream.feed() got NaN or infinite samples; the audio is corrupt")
        with self._lock:  # the ring has one producer; feed() may come from many threads
            if self._ended:
                raise LuminaError("Stream.feed() after close_input() or stop(); start a new Stream")
            self._ring.write(samples)
        self._ready.set()

    def end(self) -> None:
        with self._lock:
            self._ended = True
        self._ready.set()

    def _next_chunk(self) -> np.ndarray | None:
        while not self._stopped.is_set():
            self._ready.clear()
            ended = self._ended  # read before the length: writes before end() are then visible
            available = len(self._ring)
            if available:
                return self._ring.read(available)
            if ended:
                return None
            self._ready.wait(_POLL_S)
        return None

    def stop(self) -> None:
        super().stop()
        self._ready.set()

    @property
    def dropped(self) -> int:
        return self._ring.dropped


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
        as the stream is built.
    engine, partial_engine, final_engine : Engine, optional
        Ready :class:`~lumina.Engine` objects (or anything with its
        ``transcribe(audio, speed=...)``) instead of model names. The stream
        closes only the engines it created.
    source : None, "microphone", path-like, AudioSource, iterable or callable
        ``None``: push audio with :meth:`feed` and end with :meth:`close_input`.
        ``"microphone"``: the input ``device``, reopened with backoff after it
        disappears. A path: the file played at real-time pace. An
        :class:`~lumina.sources.AudioSource` or any iterable of float32 16 kHz
        chunks is read as it comes. A callable returning an AudioSource is
        called again after the source raises :class:`~lumina.errors.DeviceError`.
    device : None, int or str
        The microphone (index or name substring) for ``source="microphone"``.
    step : float, default 0.25
        Seconds of new audio between partial decodes of an open utterance.
    final_speed : {"accurate", "fast"}, default "accurate"
        The speed of the final decode.
    segmenter : Segmenter, optional
        Voice activity detection and utterance settings (``Segmenter(vad="webrtc")``,
        ``hangover_ms``, ``max_utterance_s``...); default ``Segmenter()``.
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
        aborts a partial decode whose utterance has ended. True makes the
        pipeline wait for each decode instead: every step gets its partial and
        none is aborted, so the events depend only on the audio (tests,
        offline runs; a live source may then drop audio).

    Events
    ------
    :class:`Partial`, :class:`Final`, :class:`Dropped` and :class:`DeviceLost`,
    by callbacks, by ``for event in stream`` or by ``async for event in stream``.
    Every utterance gets exactly one ``Final`` after its partials, even when its
    text is empty (the model heard no words in it); silence produces no event.
    """

    def __init__(self, model=None, *, partial_model=None, final_model=None, engine=None,
                 partial_engine=None, final_engine=None, source=None, device=None,
                 step: float = 0.25, final_speed: str = "accurate",
                 segmenter: Segmenter | None = None,
                 on_partial: Callable[[Partial], object] | None = None,
                 on_final: Callable[[Final], object] | None = None,
                 on_event: Callable[[StreamEvent], object] | None = None,
                 threads: int | None = None, cache=None, language: str | None = None,
                 ring_seconds: float = 10.0, lockstep: bool = False) -> None:
        if not step > 0:
            raise ValueError(f"step must be > 0 seconds, got {step}")
        if final_speed not in ("accurate", "fast"):
            raise ValueError(f"final_speed must be 'accurate' or 'fast', got {final_speed!r}")
        if not ring_seconds > 0:
            raise ValueError(f"ring_seconds must be > 0, got {ring_seconds}")
        self.step = float(step)
        self.final_speed = final_speed
        self.language = language
        self.lockstep = lockstep
        self._segmenter = segmenter or Segmenter(SR)
        if self._segmenter.sample_rate != SR:
            raise ValueError(f"the segmenter must run at {SR} Hz, got {self._segmenter.sample_rate}")
        self._callbacks = (on_partial, on_final, on_event)
        self._ring_seconds = ring_seconds
        self._factory, self._fixed_source, self._push = self._plan_source(source, device)
        self._partial_engine, self._final_engine, self._owned = _resolve_engines(
            model, partial_model, final_model, engine, partial_engine, final_engine, threads, cache)
        self._init_state()

    def _init_state(self) -> None:
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._jobs: queue.Queue[_Job | object] = queue.Queue(maxsize=8)
        self._events: queue.Queue = queue.Queue()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []
        self._threads: list[threading.Thread] = []
        self._started = False
        self._ended = threading.Event()
        self._error: BaseException | None = None
        self._current_source: AudioSource | None = None
        self._inflight = 0
        self._idle = threading.Condition(self._lock)
        self._arrivals: collections.deque[tuple[int, float]] = collections.deque(maxlen=_ARRIVALS_KEPT)
        self._last_partial_pos = 0
        self._last_skip_pos = 0
        self._open_utterance = -1
        self._partial_job: _Job | None = None
        self._dropped_total = 0
        self._stats = StreamStats()

    def _plan_source(self, source, device):
        """Return (factory, fixed source, push source): exactly one is not None."""
        if source is None:
            push = _PushSource(self._ring_seconds)
            return None, push, push
        if isinstance(source, str) and source == "microphone":
            find_input_device(device)  # a wrong device name fails here, not in a retry loop
            seconds = self._ring_seconds
            return (lambda: MicrophoneSource(device, ring_seconds=seconds)), None, None
        if device is not None:
            raise ValueError("device applies only to source='microphone'")
        if isinstance(source, (str, os.PathLike)):
            return None, FileSource(source, realtime=True), None
        if isinstance(source, AudioSource):
            return None, source, None
        if callable(source):
            return source, None, None
        if isinstance(source, Iterable):
            return None, IterableSource(source), None
        raise TypeError("source must be None, 'microphone', a path, an AudioSource, an iterable "
                        f"of chunks or a callable returning an AudioSource; got {type(source).__name__}")

    # ------------------------------------------------------------------ control

    def start(self) -> Stream:
        """Start the pipeline (iterating, :meth:`feed` and ``with`` start it too); returns self."""
        with self._lock:
            if self._started:
                return self
            if self._stopping.is_set():
                raise LuminaError("this stream was stopped; create a new Stream")
            self._started = True
            self._threads = [threading.Thread(target=self._pipeline, name="lumina-stream", daemon=True),
                             threading.Thread(target=self._decoder, name="lumina-decode", daemon=True)]
        for t in self._threads:
            t.start()
        return self

    def feed(self, chunk) -> None:
        """Push a chunk of 16 kHz audio (float in [-1, 1] or int PCM, mono or (frames, channels)).

        Safe from any thread; never blocks on decoding. When the pipeline is
        behind by more than ``ring_seconds``, the oldest unread audio is dropped
        and a :class:`Dropped` event reports it.

        Raises
        ------
        LuminaError
            When the stream was not made with ``source=None``, or after :meth:`close_input`.
        AudioFormatError
            For a chunk that is not audio.
        """
        if self._push is None:
            raise LuminaError("feed() needs a stream made with source=None; this one reads its own source")
        self.start()
        self._push.write(chunk)

    def close_input(self) -> None:
        """End of pushed audio: the open utterance gets its final, then the events end."""
        if self._push is None:
            raise LuminaError("close_input() applies only to a stream made with source=None")
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
            self._close_owned_engines()
            self._finish()

    def _halt(self) -> None:
        """Set the stop flag and end the source's iteration (never joins: safe on any thread)."""
        self._stopping.set()
        with self._lock:
            source = self._current_source
            self._idle.notify_all()
        if source is not None:
            source.stop()
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
        if not self._ended.wait(timeout):
            raise TimeoutError(f"the stream did not end within {timeout} s")
        for t in self._threads:
            if t is not threading.current_thread():
                t.join()
        if self._error is not None:
            raise self._error

    @property
    def stats(self) -> StreamStats:
        """Counters of the work done so far."""
        with self._lock:
            return self._stats

    def _add_stats(self, **deltas) -> None:
        with self._lock:
            s = self._stats
            self._stats = dataclasses.replace(s, **{k: getattr(s, k) + v for k, v in deltas.items()})

    def __enter__(self) -> Stream:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    async def __aenter__(self) -> Stream:
        return self.start()

    async def __aexit__(self, *exc_info) -> None:
        self.stop()

    # ------------------------------------------------------------------ events out

    def __iter__(self) -> Iterator[StreamEvent]:
        """Events as they come, until the stream ends; then what failed, if anything, is raised."""
        self._check_iterable()
        self.start()
        return self._iterate()

    def _iterate(self) -> Iterator[StreamEvent]:
        while True:
            event = self._events.get()
            if event is _END:
                self._events.put(_END)  # other iterators end too
                if self._error is not None:
                    raise self._error
                return
            yield event

    def __aiter__(self):
        self._check_iterable()
        self.start()
        return self

    async def __anext__(self) -> StreamEvent:
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                await self._wait_for_event()
                continue
            if event is _END:
                self._events.put(_END)
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            return event

    async def _wait_for_event(self) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            self._waiters.append((loop, future))
        if self._events.empty():  # registered first, so a put after this check wakes us
            await future

    def _check_iterable(self) -> None:
        if any(cb is not None for cb in self._callbacks):
            raise LuminaError("this stream delivers its events to callbacks; iterate a Stream made "
                              "without on_partial/on_final/on_event")

    def _emit(self, event: StreamEvent | object) -> None:
        """Deliver one event (decoder thread only, so callbacks never overlap)."""
        if event is not _END and any(cb is not None for cb in self._callbacks):
            on_partial, on_final, on_event = self._callbacks
            if on_event is not None:
                on_event(event)
            if on_partial is not None and isinstance(event, Partial):
                on_partial(event)
            if on_final is not None and isinstance(event, Final):
                on_final(event)
            return
        self._events.put(event)
        with self._lock:
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # that event loop is closed; nobody waits there any more
                pass

    # ------------------------------------------------------------------ pipeline thread

    def _pipeline(self) -> None:
        chunks = self._chunks()
        try:
            for chunk in chunks:
                if self._stopping.is_set():
                    break
                self._process(chunk)
            chunks.close()  # closes a device the stream opened, before the flush's final
            if not self._stopping.is_set():
                started = time.perf_counter()
                self._on_segments(self._segmenter.flush(), time.monotonic())
                self._add_stats(segment_s=time.perf_counter() - started)
        except BaseException as exc:  # handed to the consumer; never lost in the thread
            self._fail(exc)
        finally:
            chunks.close()
            self._put(_END, force=True)

    def _chunks(self) -> Iterator[np.ndarray]:
        """Chunks of the source; reopens a lost device with backoff when it can."""
        attempt = 0
        while not self._stopping.is_set():
            try:
                source = self._open_source()
            except DeviceError as exc:
                if not self._report_loss(exc, attempt, "microphone"):
                    return
                attempt += 1
                continue
            name = getattr(source, "device_name", type(source).__name__)
            base = getattr(source, "dropped", 0)
            try:
                for chunk in source:
                    attempt = 0
                    yield chunk
                    base = self._check_dropped(source, base)
                return
            except DeviceError as exc:
                if not self._report_loss(exc, attempt, name):
                    return
                attempt += 1
            finally:
                if self._factory is not None:
                    source.close()

    def _open_source(self) -> AudioSource:
        source = self._fixed_source if self._factory is None else self._factory()
        with self._lock:
            self._current_source = source
        if self._stopping.is_set():  # stop() came while the device was opening
            source.stop()
        return source

    def _report_loss(self, exc: DeviceError, attempt: int, name: str) -> bool:
        """Emit DeviceLost; wait the backoff; return whether to try again."""
        retry_in = None if self._factory is None else min(_BACKOFF_MAX_S, _BACKOFF_FIRST_S * 2 ** attempt)
        self._put(_Job("emit", event=DeviceLost(name, str(exc), attempt, retry_in)))
        if retry_in is None:
            return False
        return not self._stopping.wait(retry_in)

    def _check_dropped(self, source, base: int) -> int:
        now = getattr(source, "dropped", 0)
        if now > base:
            lost = now - base
            self._dropped_total += lost
            self._add_stats(dropped_samples=lost)
            self._put(_Job("emit", event=Dropped(lost, self._dropped_total,
                                                 self._segmenter.samples_fed / SR)))
        return now

    def _process(self, chunk: np.ndarray) -> None:
        started = time.perf_counter()
        arrival = time.monotonic()
        events = self._segmenter.feed(chunk)
        self._arrivals.append((self._segmenter.samples_fed, arrival))
        self._add_stats(audio_s=len(chunk) / SR, segment_s=time.perf_counter() - started)
        self._on_segments(events, arrival)
        self._maybe_partial(arrival)

    def _on_segments(self, events, arrival: float) -> None:
        for event in events:
            if isinstance(event, SpeechStart):
                self._last_partial_pos = event.start_sample
                self._open_utterance = event.utterance_id
            elif isinstance(event, SpeechEnd):
                job = self._partial_job
                if job is not None and job.utterance_id == event.utterance_id and not self.lockstep:
                    job.abort.set()  # the final supersedes it; do not make the final wait
                self._put(_Job("final", event.utterance_id, event.audio,
                               self._arrival_of(event.end_sample, arrival),
                               event.end_sample / SR, event.start_sample / SR))

    def _maybe_partial(self, arrival: float) -> None:
        seg = self._segmenter
        fed = seg.samples_fed
        if not seg.in_speech or fed - self._last_partial_pos < self.step * SR:
            return
        with self._lock:
            if self._inflight and not self.lockstep:
                # Count each step interval spent waiting once, not every chunk of it.
                if fed - max(self._last_partial_pos, self._last_skip_pos) >= self.step * SR:
                    self._last_skip_pos = fed
                    self._stats = dataclasses.replace(self._stats, skipped_steps=self._stats.skipped_steps + 1)
                return
            while self._inflight and not self._stopping.is_set():
                self._idle.wait(_POLL_S)
        self._last_partial_pos = fed
        job = _Job("partial", self._open_utterance, seg.current_audio(), arrival, fed / SR)
        self._partial_job = job
        self._put(job)

    def _arrival_of(self, position: int, default: float) -> float:
        """When the chunk holding stream sample ``position`` arrived."""
        found = default
        for end, t in reversed(self._arrivals):
            if end < position:
                break
            found = t
        return found

    def _put(self, job, force: bool = False) -> None:
        """Queue a job; waits while the decoder is behind (backpressure), never past stop()."""
        if isinstance(job, _Job) and job.kind != "emit":
            with self._lock:
                self._inflight += 1
        while True:
            if self._stopping.is_set() and not force:
                return
            try:
                self._jobs.put(job, timeout=_POLL_S)
                return
            except queue.Full:
                if force and self._stopping.is_set():
                    self._drain_jobs()

    def _drain_until_end(self) -> None:
        """Discard jobs until the pipeline's end marker, so it never blocks on a full queue."""
        while self._jobs.get() is not _END:
            pass

    def _drain_jobs(self) -> None:
        try:
            while True:
                self._jobs.get_nowait()
        except queue.Empty:
            pass

    # ------------------------------------------------------------------ decoder thread

    def _decoder(self) -> None:
        agreements: dict[int, LocalAgreement] = {}
        try:
            while True:
                job = self._jobs.get()
                if job is _END:
                    break
                try:
                    if not self._stopping.is_set():
                        self._run_job(job, agreements)
                finally:
                    if job.kind != "emit":
                        with self._lock:
                            self._inflight -= 1
                            self._idle.notify_all()
        except BaseException as exc:  # a failed decode (model missing...) ends the stream
            self._fail(exc)
            self._halt()
            self._drain_until_end()
        finally:
            self._close_owned_engines()
            self._finish()

    def _run_job(self, job: _Job, agreements: dict[int, LocalAgreement]) -> None:
        if job.kind == "emit":
            self._emit(job.event)
        elif job.kind == "partial":
            self._run_partial(job, agreements.setdefault(job.utterance_id, LocalAgreement()))
        else:
            agreements.pop(job.utterance_id, None)
            self._run_final(job)

    def _should_abort(self, job: _Job) -> Callable[[], bool]:
        return lambda: job.abort.is_set() or self._stopping.is_set()

    def _run_partial(self, job: _Job, agreement: LocalAgreement) -> None:
        started = time.perf_counter()
        try:
            transcript = self._partial_engine.transcribe(
                job.audio, speed="fast", language=self.language, should_abort=self._should_abort(job))
        except (asyncio.CancelledError, TranscriptionAborted):  # its utterance ended or the stream stops
            return
        finally:
            self._add_stats(partial_decodes=1, decode_s=time.perf_counter() - started)
        tokens = [t for s in transcript.segments for t in s.tokens]
        text, stable, unstable = agreement.update(tokens)
        self._emit(Partial(text, stable, unstable, job.utterance_id, job.audio_time,
                           time.monotonic() - job.arrival))

    def _run_final(self, job: _Job) -> None:
        started = time.perf_counter()
        try:
            transcript = self._final_engine.transcribe(
                job.audio, speed=self.final_speed, language=self.language,
                should_abort=lambda: self._stopping.is_set())
        except (asyncio.CancelledError, TranscriptionAborted):
            return
        finally:
            self._add_stats(final_decodes=1, decode_s=time.perf_counter() - started)
        self._emit(Final(transcript.text, transcript.segments, job.utterance_id,
                         transcript.from_cache, time.monotonic() - job.arrival,
                         job.start, job.audio_time))

    # ------------------------------------------------------------------ endings

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if self._error is None:
                self._error = exc

    def _finish(self) -> None:
        if not self._ended.is_set():
            self._ended.set()
            self._emit(_END)

    def _close_owned_engines(self) -> None:
        owned, self._owned = self._owned, []
        for engine in owned:
            engine.close()
        if self._fixed_source is not None:
            self._fixed_source.close()

    def __repr__(self) -> str:
        state = "ended" if self._ended.is_set() else ("running" if self._started else "new")
        return f"Stream(step={self.step}, final_speed={self.final_speed!r}, {state})"


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def _resolve_engines(model, partial_model, final_model, engine, partial_engine, final_engine,
                     threads, cache):
    """(partial engine, final engine, engines the stream owns) from names and/or engines."""
    from lumina.asr.engine import Engine

    partial = partial_engine or engine
    final = final_engine or engine
    partial_name = partial_model or model or final_model
    final_name = final_model or model or partial_model
    if partial is None and final is None and partial_name is None:
        partial_name = final_name = "base.en"
    owned = []
    if final is None:
        final = Engine(final_name or partial_name, threads=threads, cache=cache, preload=True)
        owned.append(final)
    if partial is None:
        if partial_name == final_name and owned:
            partial = final
        else:
            partial = Engine(partial_name or final_name, threads=threads, preload=True)
            owned.append(partial)
    return partial, final, owned
