"""When a stream's decodes are due: pure, thread-free, allocation-free per chunk.

The :class:`Scheduler` reads a :class:`~lumina.streaming.segmenter.Segmenter`'s
events and stream positions and answers, after each chunk, what to decode:
finals of utterances that ended (:class:`FinalDue`), speculative decodes of an
utterance whose speech has just stopped (:class:`SpeculationDue`) and their
cancellation when it resumes (:class:`SpeculationCancelled`), and whether a
partial decode of the open utterance is due now. It knows nothing of threads,
engines or clocks: the caller says whether a decode is running (``busy``), when
a chunk arrived, and what text the decodes produced (:meth:`Scheduler.note_text`),
so tests drive it directly and get exactly the stream's schedule.

The rules
---------
* An utterance opens at its :class:`~lumina.streaming.segmenter.SpeechStart`.
  Its first partial is due ``first_step`` after its first speech sample (as
  soon as the segmenter has confirmed the speech, by default), the next ones
  every ``step`` of audio fed since the previous one; until the utterance has
  shown text (:meth:`Scheduler.note_text`), every ``first_step``, for at most
  :data:`FIRST_WORDS_S` of its speech (a sound that stays wordless, a cough or a
  hum Silero took for speech, then costs no more than any utterance). On real tiny.en
  a decode of the first 100-150 ms of speech is mostly empty (8 of 12 sentences at
  150 ms), and waiting a whole ``step`` for the next one put the first words
  about 460 ms after the onset (``python benchmarks stream_real``).
* Eager end of utterance (``eager=True``): when speech stops inside an open
  utterance (:class:`~lumina.streaming.pauses.SpeechPause`), a speculation is
  due at once: the utterance up to that point decoded for a complete partial
  and for its final, before the hang-over has confirmed the end. If speech
  resumes first, the speculation is cancelled and the utterance goes on; when
  the hang-over confirms the end, its :class:`FinalDue` says ``speculated``
  and the final is the speculation's. No partial is due while speech is paused.
* Adaptive hang-over: :meth:`Scheduler.note_text` sets the open utterance's
  hang-over from the latest decoded text (:class:`~lumina.streaming.hangover.HangoverPolicy`).
* Live (``lockstep=False``): while a decode is running the due partial is
  skipped, never queued; each step interval spent waiting counts once in
  :attr:`Scheduler.skipped_steps`. A final or a speculation asks to abort the
  utterance's partial decode still running, so it starts at once; a partial
  aborted for a speculation (:meth:`Scheduler.partial_aborted`) is made up
  for by one due as soon as speech resumes.
* Decode budget (live mode, ``decode_budget``): once an utterance is past its
  first words (text shown, or :data:`FIRST_WORDS_S` of speech), a due partial is
  held back while the decodes of that utterance since then (:meth:`Scheduler.note_decoding`:
  partials and speculations) have taken more than ``decode_budget`` of the
  audio fed since then, so partials on a slow CPU come less often than ``step``
  instead of keeping a core busy. The first words and the ends of utterances
  (speculations, finals) are never held back: they are what the user waits for.
* Lockstep: a due partial is always due (the caller waits for the running
  decode first) and nothing is aborted, so the events depend only on the audio;
  the decode budget, which reads the clock, does not apply.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lumina.streaming.hangover import HangoverPolicy
from lumina.streaming.pauses import SpeechPause, SpeechResume
from lumina.streaming.segmenter import Segmenter, SpeechEnd, SpeechStart

__all__ = ["ArrivalLog", "FinalDue", "Scheduler", "SpeculationCancelled", "SpeculationDue"]

_NOTHING: tuple = ()          # returned when nothing is due: allocates nothing
FIRST_STEP_S = 0.1            # the first partial: as soon as 100 ms of speech opened the utterance
#: How long into an utterance partials keep coming every ``first_step`` while none has words.
FIRST_WORDS_S = 0.6
DEFAULT_HANGOVER = HangoverPolicy()   # frozen: one instance serves every scheduler


@dataclasses.dataclass(frozen=True)
class FinalDue:
    """An utterance ended: decode its final (or use its speculation).

    Attributes
    ----------
    end : SpeechEnd
        The segmenter's event (its audio, ids and stream positions).
    arrival : float
        When the chunk holding the utterance's last sample arrived (the
        caller's clock; ``time.monotonic()`` in a stream).
    abort_partial : bool
        True when the partial decode of this utterance still running should
        be aborted (live mode only).
    speculated : bool
        True when a :class:`SpeculationDue` of exactly this audio (same
        utterance, same end) was issued and not cancelled: its final answers.
    input_ended : bool
        True when :meth:`Scheduler.flush` (the end of the input) ended it.
    """

    end: SpeechEnd
    arrival: float
    abort_partial: bool
    speculated: bool = False
    input_ended: bool = False


@dataclasses.dataclass(frozen=True)
class SpeculationDue:
    """Speech stopped in an open utterance: decode it up to here now, before the hang-over ends it.

    Attributes
    ----------
    utterance_id : int
    end_sample : int
        The tentative end (:attr:`Segmenter.tentative_end`): decode the
        utterance's audio up to this stream position.
    arrival : float
        When the chunk holding the last sample before ``end_sample`` arrived.
    abort_partial : bool
        True when the utterance's partial decode still running should be
        aborted (live mode only): the speculation covers more audio.
    """

    utterance_id: int
    end_sample: int
    arrival: float
    abort_partial: bool


@dataclasses.dataclass(frozen=True)
class SpeculationCancelled:
    """Speech resumed: discard the speculation of this utterance ending at ``end_sample``."""

    utterance_id: int
    end_sample: int


class ArrivalLog:
    """When the chunk holding each recent stream position arrived (a fixed-size ring, no allocation).

    Parameters
    ----------
    capacity : int, default 4096
        Chunks remembered (minutes of 20 ms chunks); older positions answer
        with the oldest arrival kept.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self._ends = np.zeros(capacity, dtype=np.int64)    # stream position one past each chunk
        self._times = np.zeros(capacity, dtype=np.float64)
        self._capacity = capacity
        self._next = 0
        self._count = 0

    def note(self, end: int, arrival: float) -> None:
        """Record that the chunk ending at stream position ``end`` arrived at ``arrival``."""
        i = self._next
        self._ends[i] = end
        self._times[i] = arrival
        j = i + 1                     # one int object, not two
        self._next = 0 if j == self._capacity else j
        if self._count < self._capacity:
            self._count += 1

    def arrival_of(self, position: int, default: float) -> float:
        """Arrival of the first chunk that reached past ``position - 1`` (``default`` if none is kept)."""
        found = default
        i = self._next
        for _ in range(self._count):
            i = (i - 1) % self._capacity
            if self._ends[i] < position:
                break
            found = float(self._times[i])
        return found

    def clear(self) -> None:
        """Forget every arrival (a new stream of positions starts)."""
        self._next = self._count = 0


class Scheduler:
    """The decode schedule of one stream, driven by a segmenter.

    Parameters
    ----------
    segmenter : Segmenter
        The scheduler's own: fed by :meth:`feed`, its ``report_pauses`` turned
        on with ``eager`` and its open utterance's hang-over set by
        :meth:`note_text`, so give it one nobody else uses (a
        :class:`~lumina.Stream` gives it a :meth:`~lumina.Segmenter.copy` of
        the segmenter it was given).
    step : float
        Seconds of new audio between partial decodes of an open utterance.
    lockstep : bool, default False
        See the module documentation.
    eager : bool, default True
        Speculate when speech stops (see the module documentation).
    first_step : float, optional
        Seconds after an utterance's first speech sample when its first partial
        is due; default ``min(step, 0.1)``.
    hangover : HangoverPolicy or None, default HangoverPolicy()
        How :meth:`note_text` sets the open utterance's hang-over; None keeps
        the segmenter's fixed.
    decode_budget : float or None, default None
        Live mode: the share of real time an utterance's decodes may take
        before its next partial is held back (see the module documentation);
        None holds nothing back.

    Notes
    -----
    Per chunk, :meth:`feed` and :meth:`partial_due` allocate no arrays and no
    lists; they return a shared empty tuple and a bool when nothing is due.
    """

    def __init__(self, segmenter: Segmenter, step: float, *, lockstep: bool = False,
                 eager: bool = True, first_step: float | None = None,
                 hangover: HangoverPolicy | None = DEFAULT_HANGOVER,
                 decode_budget: float | None = None) -> None:
        self.segmenter = segmenter
        rate = segmenter.sample_rate
        self.step_samples = round(step * rate)
        self.first_step_samples = round((min(step, FIRST_STEP_S) if first_step is None else first_step)
                                        * rate)
        self.lockstep = lockstep
        self.eager = eager
        self.hangover = hangover
        self.decode_budget = decode_budget
        segmenter.report_pauses = eager
        self.arrivals = ArrivalLog()
        self.skipped_steps = 0
        self._open_utterance = -1
        self._last_partial = 0        # stream position of the last partial (or where the step clock starts)
        self._last_skip = 0
        self._partial_utterance = -1  # utterance of the last partial made due
        self._text_shown = False      # the open utterance has had a partial with text
        self._utterance_start = 0     # stream position of the open utterance's first speech sample
        self._first_words_samples = round(FIRST_WORDS_S * rate)
        self._pause: tuple[int, int] | None = None        # (utterance, tentative end) while paused
        self._speculated: tuple[int, int] | None = None   # the speculation in force
        self._make_up = False         # a partial aborted for a speculation is owed after a resume
        self._aborted_for_pause = False
        self._decoded_s = 0.0         # seconds the open utterance's decodes have taken (note_decoding)
        self._budget_from: tuple[int, float] | None = None   # (position, _decoded_s) past the first words

    @property
    def open_utterance(self) -> int:
        """Id of the utterance the next partial belongs to (-1 before the first)."""
        return self._open_utterance

    def feed(self, chunk, arrival: float = 0.0) -> tuple:
        """Feed a chunk to the segmenter; return what it made due (usually nothing).

        Returns
        -------
        tuple of SpeechStart, FinalDue, SpeculationDue and SpeculationCancelled, in stream order
            The segmenter's :class:`SpeechStart` of each utterance that opened
            (so the caller can announce it), then what became due.
        """
        events = self.segmenter.feed(chunk)
        self.arrivals.note(self.segmenter.samples_fed, arrival)
        if not events:
            return _NOTHING
        return self._on_events(events, arrival)

    def flush(self, arrival: float = 0.0) -> tuple:
        """End of the stream: the open utterance's final, if any."""
        due = self._on_events(self.segmenter.flush(), arrival, input_ended=True)
        self.arrivals.clear()
        return due

    def partial_due(self, busy: bool) -> bool:
        """Whether a partial decode of the open utterance is due now (call after :meth:`feed`).

        Parameters
        ----------
        busy : bool
            Whether a decode is running or queued. Live mode skips the step
            then (and counts it); lockstep ignores it (the caller waits).
        """
        seg = self.segmenter
        # Eager: no partial in a silence, a pause or one not long enough to be a pause yet (it would
        # hold up the speculation a pause brings a frame later: an encoder cannot be aborted).
        if not seg.in_speech or (self.eager and seg.tentative_end is not None):
            return False
        fed = seg.samples_fed
        waiting_for_words = (not self._text_shown
                             and fed - self._utterance_start < self._first_words_samples)
        step = self.first_step_samples if waiting_for_words else self.step_samples
        if self._make_up and not (busy and not self.lockstep):
            self._make_up = False
        elif fed - self._last_partial < step:
            return False
        elif not waiting_for_words and self._over_budget(fed):
            return False
        elif busy and not self.lockstep:
            # Count each step interval spent waiting once, not every chunk of it.
            if fed - max(self._last_partial, self._last_skip) >= step:
                self._last_skip = fed
                self.skipped_steps += 1
            return False
        self._last_partial = fed
        self._partial_utterance = self._open_utterance
        return True

    def _over_budget(self, fed: int) -> bool:
        """Whether the open utterance's decodes since its first words exceed the decode budget."""
        if self.decode_budget is None or self.lockstep:
            return False
        if self._budget_from is None:   # the first words are over: the budget starts now
            self._budget_from = (fed, self._decoded_s)
        start, spent_before = self._budget_from
        return self._decoded_s - spent_before > self.decode_budget * (fed - start) / self.segmenter.sample_rate

    def note_decoding(self, utterance_id: int, seconds: float) -> None:
        """Seconds the decodes of ``utterance_id`` have taken so far (live mode's decode budget)."""
        if utterance_id == self._open_utterance:
            self._decoded_s = seconds

    def partial_aborted(self) -> None:
        """The caller aborted a partial decode that had not finished, for a speculation.

        If speech resumes, a partial is due at once to make up for it (live mode).
        """
        self._aborted_for_pause = True

    def note_text(self, utterance_id: int, text: str) -> None:
        """The latest text decoded for ``utterance_id`` (a partial, complete or not).

        Sets the open utterance's hang-over from it (see ``hangover``), and once
        it is not empty, partials come every ``step`` (before, every
        ``first_step``); text of an utterance that is no longer open changes nothing.
        """
        seg = self.segmenter
        if utterance_id == self._open_utterance and text.strip():
            self._text_shown = True
        if self.hangover is None or utterance_id != self._open_utterance or not seg.in_speech:
            return
        seg.utterance_hangover_ms = self.hangover.for_text(text, seg.hangover_ms)

    def _on_events(self, events, arrival: float, input_ended: bool = False) -> tuple:
        due: list = []
        for event in events:
            if isinstance(event, SpeechStart):
                due.append(event)
                # The step clock starts so that the first partial comes first_step in.
                self._last_partial = event.start_sample + self.first_step_samples - self.step_samples
                self._open_utterance = event.utterance_id
                self._text_shown = False
                self._utterance_start = event.start_sample
                self._pause = self._speculated = None
                self._make_up = self._aborted_for_pause = False
                self._decoded_s, self._budget_from = 0.0, None
            elif isinstance(event, SpeechPause):
                self._pause = (event.utterance_id, event.end_sample)
            elif isinstance(event, SpeechResume):
                if self._speculated is not None:
                    due.append(SpeculationCancelled(*self._speculated))
                    self._speculated = None
                self._make_up, self._aborted_for_pause = self._aborted_for_pause, False
                self._pause = None
            elif isinstance(event, SpeechEnd):
                utterance = event.utterance_id
                speculated = self._speculated == (utterance, event.end_sample)
                abort = not self.lockstep and self._partial_utterance == utterance
                due.append(FinalDue(event, self.arrivals.arrival_of(event.end_sample, arrival),
                                    abort, speculated, input_ended))
                self._pause = self._speculated = None
        if self.eager and self._pause is not None and self._speculated != self._pause:
            due.append(self._speculate(arrival))
        return tuple(due)

    def _speculate(self, arrival: float) -> SpeculationDue:
        utterance, end = self._speculated = self._pause
        abort = not self.lockstep and self._partial_utterance == utterance
        return SpeculationDue(utterance, end, self.arrivals.arrival_of(end, arrival), abort)
