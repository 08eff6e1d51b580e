"""The decoder thread of a stream: runs partial, speculative and final decodes one at a time, in order.

The pipeline thread submits :class:`DecodeJob` objects; the decoder runs each on its
engine and emits the resulting event through the stream's
:class:`~lumina.streaming.delivery.Delivery`. Being the only thread that
emits, it keeps events in stream order and never calls callbacks concurrently.

A speculation (speech has just stopped) decodes the utterance for a complete
partial, emitted at once as ``Partial(complete=True)``, then for its final,
which :class:`~lumina.streaming.speculation.Speculations` holds until the
utterance's final job takes it (or discards it: speech resumed and the
pipeline marked the job ``cancelled``).
When the final is decoded at the fast speed by the partials' engine, one decode
serves both. A speculation with ``defer_final`` (lockstep) decodes only the
complete partial; its final is decoded when the final job confirms it.

Engines are called through the engine protocol
(:class:`~lumina.asr.protocol.SpeechEngine`): ``transcribe_samples`` with the
partial or final :class:`~lumina.asr.protocol.TranscribeOptions`. A final
decode (speculative or not) passes ``on_candidate``: an engine with a phrase
cache that meets a fuzzy match hands its text over before the model verifies
it, and the decoder shows it at once as a complete partial
(:mod:`~lumina.streaming.provisional`); the ``Final`` follows the verification.

A decode ends early when its abort flag is set (its utterance ended or speech
resumed while it ran, live mode) or the stream stops; an aborted decode emits
nothing. Engines report that with :class:`~lumina.errors.TranscriptionAborted`.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable

import numpy as np

from lumina.asr.speed import beam_size_for
from lumina.asr.protocol import SpeechEngine, TranscribeOptions
from lumina.asr.transcript import Segment
from lumina.errors import TranscriptionAborted
from lumina.streaming.agreement import LocalAgreement
from lumina.streaming.delivery import Delivery
from lumina.streaming.events import Final, Partial, StreamEvent
from lumina.streaming.provisional import candidate_partial
from lumina.streaming.speculation import DEFERRED, Speculations
from lumina.streaming.stats import Counters

__all__ = ["Decoder", "DecodeJob", "on_stream_clock"]

_END = object()            # the pipeline's last job
_POLL_S = 0.05             # how often a blocked submitter looks at the stop flag
_QUEUE_JOBS = 16           # jobs queued before the pipeline waits (backpressure)


@dataclasses.dataclass(eq=False)
class DecodeJob:
    """One unit of decoder work.

    Attributes
    ----------
    kind : {"partial", "speculate", "final", "emit"}
        A partial, speculative or final decode, or an event to emit in order (``event``).
    utterance_id : int
    audio : ndarray or None
        The samples to decode (the utterance so far, pre-roll included).
    arrival : float
        ``time.monotonic()`` when the job's last sample reached lumina.
    audio_time : float
        Stream time (s) of the end of ``audio``.
    start : float
        Stream time of the utterance's first speech sample (finals).
    offset : float
        Stream time of ``audio[0]``; decoded segment times are shifted by it.
    block : ndarray or None
        The pooled buffer ``audio`` is a view of, handed to ``release`` once
        the decoder is done with it.
    release : callable or None
    end_sample : int
        Stream position of the end of the utterance (finals, speculations): a
        final takes the speculation of exactly this end.
    cancelled : bool
        Speculations: set by the pipeline when speech resumed; its work is discarded.
    finished : bool
        Set by the decoder when it is done with the job (run, aborted or skipped).
    defer_final : bool
        Speculations: decode the final only when the utterance's final job confirms it.
    """

    kind: str
    utterance_id: int = -1
    audio: np.ndarray | None = None
    arrival: float = 0.0
    audio_time: float = 0.0
    start: float = 0.0
    offset: float = 0.0
    event: StreamEvent | None = None
    block: np.ndarray | None = None
    release: Callable[[np.ndarray], None] | None = None
    abort: threading.Event = dataclasses.field(default_factory=threading.Event)
    end_sample: int = -1
    finished: bool = False
    defer_final: bool = False
    cancelled: bool = False


def on_stream_clock(segments: tuple[Segment, ...], offset: float) -> tuple[Segment, ...]:
    """Segments with times moved from the decoded audio's clock to stream time (``+ offset`` s).

    Token times are left alone: a stream never asks for word timestamps, so
    they are 0.0 (see :class:`~lumina.asr.transcript.Token`).
    """
    if not offset:
        return segments
    return tuple(dataclasses.replace(s, start=s.start + offset, end=s.end + offset) for s in segments)


class Decoder:
    """Runs a stream's decode jobs on a thread of its own (:meth:`run`).

    Parameters
    ----------
    partial_engine, final_engine : SpeechEngine
        The engines of the partial and the final decodes.
    final_speed : str
        Speed of the final decodes.
    final_beam_size : int
        Beams of the final decodes (``StreamOptions.final_beam_size``).
    language : str or None
        Passed to every decode.
    delivery : Delivery
        Where events go.
    counters : Counters
        Decode counts and times are added here.
    stopping : threading.Event
        The stream's stop flag: decodes abort, queued jobs are skipped.
    on_failure : callable
        Called (no arguments) after a decode raised: stops the rest of the stream.
    on_exit : callable
        Called last on the decoder thread (closes what the stream owns).
    """

    def __init__(self, partial_engine: SpeechEngine, final_engine: SpeechEngine, *,
                 final_speed: str, final_beam_size: int, language: str | None,
                 delivery: Delivery, counters: Counters, stopping: threading.Event,
                 on_failure: Callable[[], None], on_exit: Callable[[], None]) -> None:
        self._partial_engine, self._final_engine = partial_engine, final_engine
        self._partial_options = TranscribeOptions(language=language, speed="fast", beam_size=1)
        self._final_options = TranscribeOptions(language=language, speed=final_speed,
                                                beam_size=final_beam_size)
        self._delivery, self._counters, self._stopping = delivery, counters, stopping
        self._on_failure, self._on_exit = on_failure, on_exit
        self._jobs: queue.Queue[DecodeJob | object] = queue.Queue(maxsize=_QUEUE_JOBS)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._inflight = 0
        self._speculations = Speculations(counters)
        #: ``(utterance_id, text)`` of the latest partial emitted (complete or not), or None.
        self.latest_text: tuple[int, str] | None = None
        self._complete_text: tuple[int, str] | None = None   # the same, of a complete partial
        #: ``(utterance_id, seconds)``: how long the decodes of the latest utterance decoded have
        #: taken so far (replaced whole, so a reader on another thread sees a consistent pair).
        self.decoded: tuple[int, float] = (-1, 0.0)

    @property
    def busy(self) -> bool:
        """True while a decode is queued or running."""
        return self._inflight > 0

    def wait_idle(self) -> None:
        """Wait until no decode is queued or running, or the stream stops (lockstep)."""
        with self._lock:
            while self._inflight and not self._stopping.is_set():
                self._idle.wait(_POLL_S)

    def wake(self) -> None:
        """Wake a :meth:`wait_idle` (after the stop flag was set)."""
        with self._lock:
            self._idle.notify_all()

    def submit(self, job: DecodeJob) -> None:
        """Queue a job; waits while the decoder is behind (backpressure), never past stop()."""
        if job.kind != "emit":
            with self._lock:
                self._inflight += 1
        while not self._stopping.is_set():
            try:
                self._jobs.put(job, timeout=_POLL_S)
                return
            except queue.Full:
                pass

    def end(self) -> None:
        """The pipeline's last word: the decoder finishes the queue, then ends the events."""
        while True:
            try:
                self._jobs.put(_END, timeout=_POLL_S)
                return
            except queue.Full:
                if self._stopping.is_set():
                    self._drain()

    # ------------------------------------------------------------------ the thread

    def run(self) -> None:
        """The thread's body: jobs until the end marker; a failure ends the stream."""
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
                    self._done(job)
        except BaseException as exc:  # a failed decode (model missing...) ends the stream
            self._delivery.fail(exc)
            self._on_failure()
            self._drain_until_end()
        finally:
            self._on_exit()
            self._delivery.finish()

    def _done(self, job: DecodeJob) -> None:
        if job.block is not None:
            job.release(job.block)
            job.block = job.audio = None
        job.finished = True
        if job.kind != "emit":
            with self._lock:
                self._inflight -= 1
                self._idle.notify_all()

    def _run_job(self, job: DecodeJob, agreements: dict[int, LocalAgreement]) -> None:
        kind = job.kind
        if kind == "emit":
            self._delivery.emit(job.event)
        elif kind == "partial":
            if not job.abort.is_set():  # aborted while queued: superseded, nothing to run
                self._run_partial(job, agreements.setdefault(job.utterance_id, LocalAgreement()))
        elif kind == "speculate":
            self._run_speculation(job, agreements.setdefault(job.utterance_id, LocalAgreement()))
        else:
            agreement = agreements.pop(job.utterance_id, None)
            held = self._speculations.take(job.utterance_id, job.end_sample)
            if held is None or held is DEFERRED:
                self._run_final(job, agreement)
            else:
                self._emit_final(job, held)

    def _decode(self, engine: SpeechEngine, job: DecodeJob, options: TranscribeOptions,
                should_abort: Callable[[], bool], final: bool,
                on_candidate: Callable[[str], None] | None = None):
        """The transcript, or None when the decode was aborted."""
        started = time.perf_counter()
        try:
            return engine.transcribe_samples(job.audio, options, should_abort=should_abort,
                                             on_candidate=on_candidate)
        except TranscriptionAborted:  # its utterance ended (partials), speech resumed, or the stream stops
            return None
        finally:
            seconds = time.perf_counter() - started
            self._counters.decode(final, seconds)
            utterance, before = self.decoded
            self.decoded = (job.utterance_id, seconds + (before if utterance == job.utterance_id else 0.0))

    def _run_partial(self, job: DecodeJob, agreement: LocalAgreement, complete: bool = False):
        """Decode and emit a partial; return its transcript (None when aborted)."""
        stopping = self._stopping
        transcript = self._decode(self._partial_engine, job, self._partial_options,
                                  lambda: job.abort.is_set() or stopping.is_set(), final=False)
        if transcript is None or job.abort.is_set():
            return None
        tokens = [t for s in transcript.segments for t in s.tokens]
        text, stable, unstable = agreement.update(tokens)
        self._delivery.emit(Partial(text, stable, unstable, job.utterance_id, job.audio_time,
                                    time.monotonic() - job.arrival, complete))
        self.latest_text = (job.utterance_id, text)
        self._complete_text = self.latest_text if complete else None
        return transcript

    @property
    def _complete_partial_is_final(self) -> bool:
        """Whether the final decode would repeat the complete partial's (same engine and options)."""
        final = self._final_options
        same_beams = beam_size_for(final.speed, final.beam_size) == 1
        return self._final_engine is self._partial_engine and final.speed == "fast" and same_beams

    def _run_speculation(self, job: DecodeJob, agreement: LocalAgreement) -> None:
        """The complete partial at once, then the final, held for the utterance's final job."""
        self._counters.speculation()
        transcript = None if job.cancelled else self._run_partial(job, agreement, complete=True)
        if transcript is not None and not self._complete_partial_is_final:
            if job.defer_final:
                self._speculations.hold(job, DEFERRED)
                return
            stopping = self._stopping
            transcript = self._decode(self._final_engine, job, self._final_options,
                                      lambda: job.abort.is_set() or stopping.is_set(), final=True,
                                      on_candidate=self._candidate_hook(job, agreement))
        if transcript is None or job.abort.is_set():
            self._counters.speculation_discarded()  # speech resumed (or the stream stops)
            return
        # Held even when cancelled by now: the final job discards it then, counting it once.
        self._speculations.hold(job, transcript)

    def _run_final(self, job: DecodeJob, agreement: LocalAgreement | None = None) -> None:
        transcript = self._decode(self._final_engine, job, self._final_options,
                                  self._stopping.is_set, final=True,
                                  on_candidate=self._candidate_hook(job, agreement))
        if transcript is None:
            return
        self._emit_final(job, transcript)

    def _candidate_hook(self, job: DecodeJob, agreement: LocalAgreement | None) -> Callable[[str], None]:
        """``on_candidate`` for a final decode: shows a phrase-cache candidate as a complete partial."""
        def show(text: str) -> None:
            if job.cancelled or job.abort.is_set():  # speech resumed: a stale speculation
                return
            partial = candidate_partial(text, agreement, job.utterance_id, job.audio_time, job.arrival)
            # Not re-shown when the complete partial just before says the same; not noted as
            # latest_text either: unverified text never steers the hang-over.
            if partial is not None and self._complete_text != (job.utterance_id, partial.text):
                self._delivery.emit(partial)

        return show

    def _emit_final(self, job: DecodeJob, transcript) -> None:
        self._delivery.emit(Final(transcript.text, on_stream_clock(transcript.segments, job.offset),
                                  job.utterance_id, time.monotonic() - job.arrival, job.start,
                                  job.audio_time, transcript.origin))

    def _drain(self) -> None:
        try:
            while True:
                job = self._jobs.get_nowait()
                if isinstance(job, DecodeJob):
                    self._done(job)
        except queue.Empty:
            pass

    def _drain_until_end(self) -> None:
        """Discard jobs until the pipeline's end marker, so it never blocks on a full queue."""
        while (job := self._jobs.get()) is not _END:
            self._done(job)
