"""The pipeline thread of a stream: source chunks -> segmenter -> scheduler -> decode jobs.

It reads the source (reopening a lost device with backoff), feeds each chunk
to the :class:`~lumina.streaming.scheduler.Scheduler`, submits the decodes it
makes due to the :class:`~lumina.streaming.decoder.Decoder` and hands the
scheduler the text the decoder produced (for the adaptive hang-over). Per
chunk it allocates no sample buffer: the segmenter copies the chunk into its
history, the scheduler answers with constants, and the audio of a partial or
speculative decode is copied into a pooled block
(:class:`lumina._core.pool.BufferPool`) that the decoder hands back when done.

In lockstep the pipeline waits for each partial and speculative decode it
submits before it reads on, so the text they produce reaches the scheduler at
a point fixed by the audio: the events are a function of the audio alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from lumina.audio.convert import SAMPLE_RATE
from lumina.audio.sources import AudioSource
from lumina.errors import DeviceError
from lumina.streaming.decoder import Decoder, DecodeJob
from lumina.streaming.delivery import Delivery
from lumina.streaming.boundaries import SpeechStart
from lumina.streaming.events import DeviceLost, Dropped, SpeechStarted, SpeechStopped
from lumina.streaming.scheduler import FinalDue, Scheduler, SpeculationDue
from lumina.streaming.stats import Counters

__all__ = ["Pipeline"]

_BACKOFF_FIRST_S = 0.1     # first reconnection delay; doubles up to _BACKOFF_MAX_S
_BACKOFF_MAX_S = 5.0
# One decode runs at a time; spares cover an aborted decode still holding its block
# while a speculation and then a make-up partial are submitted.
_PARTIAL_BLOCKS = 3


class _Blocks:
    """Pooled buffers for the audio of partial decodes, shared by two threads."""

    def __init__(self, samples: int) -> None:
        from lumina._core.pool import BufferPool
        self._pool = BufferPool(samples, _PARTIAL_BLOCKS)
        self._lock = threading.Lock()

    def acquire(self) -> np.ndarray | None:
        with self._lock:
            if self._pool.in_use == self._pool.max_blocks:
                return None
            return self._pool.acquire()

    def release(self, block: np.ndarray) -> None:
        with self._lock:
            self._pool.release(block)


class Pipeline:
    """Reads a stream's source and schedules its decodes (the body of the ``lumina-stream`` thread).

    Parameters
    ----------
    source : AudioSource or None
        A fixed source; None when ``factory`` makes one per (re)connection.
    factory : callable or None
        Returns a new AudioSource; called again after a DeviceError.
    scheduler : Scheduler
    decoder : Decoder
    delivery : Delivery
        Receives the pipeline's failure, if any.
    counters : Counters
    stopping : threading.Event
        The stream's stop flag.
    """

    def __init__(self, *, source: AudioSource | None, factory: Callable[[], AudioSource] | None,
                 scheduler: Scheduler, decoder: Decoder, delivery: Delivery, counters: Counters,
                 stopping: threading.Event) -> None:
        self._fixed, self._factory = source, factory
        self._scheduler, self._decoder, self._delivery = scheduler, decoder, delivery
        self._counters, self._stopping = counters, stopping
        self._blocks = _Blocks(scheduler.segmenter.max_open_samples)
        self._lock = threading.Lock()
        self._current: AudioSource | None = None
        self._partial_job: DecodeJob | None = None
        self._speculation_job: DecodeJob | None = None
        self._seen_text: tuple[int, str] | None = None
        self._dropped_total = 0

    def stop_source(self) -> None:
        """End the current source's iteration (any thread; never waits)."""
        with self._lock:
            source = self._current
        if source is not None:
            source.stop()

    def run(self) -> None:
        """The thread's body; a failure is handed to the consumers, never lost."""
        chunks = self._chunks()
        try:
            for chunk in chunks:
                if self._stopping.is_set():
                    break
                self._process(chunk)
            chunks.close()  # closes a device the stream opened, before the flush's final
            if not self._stopping.is_set():
                started = time.perf_counter()
                due = self._scheduler.flush(time.monotonic())
                self._counters.segmenting(time.perf_counter() - started)
                self._submit_due(due)
        except BaseException as exc:
            self._delivery.fail(exc)
        finally:
            chunks.close()
            self._decoder.end()

    # ------------------------------------------------------------------ per chunk

    def _process(self, chunk: np.ndarray) -> None:
        started = time.perf_counter()
        arrival = time.monotonic()
        lockstep = self._scheduler.lockstep
        if not lockstep:
            self._scheduler.note_decoding(*self._decoder.decoded)
            self._note_text()
        due = self._scheduler.feed(chunk, arrival)
        self._counters.chunk(len(chunk), time.perf_counter() - started)
        if due:
            self._submit_due(due)
        if self._scheduler.partial_due(self._decoder.busy):
            if lockstep:
                self._decoder.wait_idle()
            self._submit_partial(arrival)
            if lockstep:
                self._sync()

    def _note_text(self) -> None:
        """Hand the scheduler the latest decoded text, once."""
        latest = self._decoder.latest_text
        if latest is not self._seen_text:
            self._seen_text = latest
            if latest is not None:
                self._scheduler.note_text(*latest)

    def _sync(self) -> None:
        """Lockstep: wait for the decodes submitted, then note their text."""
        self._decoder.wait_idle()
        self._note_text()

    def _submit_due(self, due: tuple) -> None:
        for item in due:
            if isinstance(item, SpeechStart):
                self._decoder.submit(DecodeJob("emit", event=SpeechStarted(
                    item.utterance_id, item.start_sample / SAMPLE_RATE,
                    item.audio_start_sample / SAMPLE_RATE)))
            elif isinstance(item, FinalDue):
                self._submit_final(item)
            elif isinstance(item, SpeculationDue):
                self._submit_speculation(item)
            else:  # SpeculationCancelled: speech resumed; the decoder discards the work
                job = self._speculation_job
                if job is not None and job.end_sample == item.end_sample:
                    job.cancelled = True
                    if not self._scheduler.lockstep:
                        job.abort.set()

    def _submit_final(self, due: FinalDue) -> None:
        end = due.end
        if due.abort_partial and self._partial_job is not None:
            self._partial_job.abort.set()  # the final supersedes it; do not make the final wait
        self._decoder.submit(DecodeJob("emit", event=SpeechStopped(
            end.utterance_id, end.start_sample / SAMPLE_RATE, end.end_sample / SAMPLE_RATE,
            due.input_ended)))
        self._decoder.submit(DecodeJob("final", end.utterance_id, end.audio, due.arrival,
                                 end.end_sample / SAMPLE_RATE, end.start_sample / SAMPLE_RATE,
                                 end.audio_start_sample / SAMPLE_RATE, end_sample=end.end_sample))

    def _submit_speculation(self, due: SpeculationDue) -> None:
        partial = self._partial_job
        if due.abort_partial and partial is not None and not partial.finished:
            partial.abort.set()  # the speculation covers more audio; do not make it wait
            self._scheduler.partial_aborted()
        if self._scheduler.lockstep:
            self._decoder.wait_idle()
        job = self._audio_job("speculate", due.arrival, due.end_sample)
        job.defer_final = self._scheduler.lockstep   # waiting for it would gain nothing
        self._speculation_job = job
        self._decoder.submit(job)
        if self._scheduler.lockstep:
            self._sync()

    def _submit_partial(self, arrival: float) -> None:
        job = self._audio_job("partial", arrival, None)
        self._partial_job = job
        self._decoder.submit(job)

    def _audio_job(self, kind: str, arrival: float, end: int | None) -> DecodeJob:
        """A decode of the open utterance so far (up to stream position ``end``), in a pooled block."""
        seg = self._scheduler.segmenter
        block = self._blocks.acquire()
        if block is None:  # never expected (one decode at a time); a copy still works
            audio = seg.current_audio()
            if end is not None:
                audio = audio[:len(audio) - (seg.samples_fed - end)]
        else:
            audio = block[:seg.current_audio_into(block, end)]
        stop = seg.samples_fed if end is None else end
        return DecodeJob(kind, self._scheduler.open_utterance, audio, arrival, stop / SAMPLE_RATE,
                   block=block, release=None if block is None else self._blocks.release,
                   end_sample=-1 if end is None else end)

    # ------------------------------------------------------------------ the source

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
        source = self._fixed if self._factory is None else self._factory()
        with self._lock:
            self._current = source
        if self._stopping.is_set():  # stop() came while the device was opening
            source.stop()
        return source

    def _report_loss(self, exc: DeviceError, attempt: int, name: str) -> bool:
        """Emit DeviceLost; wait the backoff; return whether to try again."""
        retry_in = None if self._factory is None else min(_BACKOFF_MAX_S, _BACKOFF_FIRST_S * 2 ** attempt)
        self._decoder.submit(DecodeJob("emit", event=DeviceLost(name, str(exc), attempt, retry_in)))
        if retry_in is None:
            return False
        return not self._stopping.wait(retry_in)

    def _check_dropped(self, source: AudioSource, base: int) -> int:
        now = getattr(source, "dropped", 0)
        if now > base:
            lost = now - base
            self._dropped_total += lost
            self._counters.dropped(lost)
            self._decoder.submit(DecodeJob("emit", event=Dropped(
                lost, self._dropped_total, self._scheduler.segmenter.samples_fed / SAMPLE_RATE)))
        return now
