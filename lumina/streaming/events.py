"""Events a :class:`~lumina.Stream` delivers: frozen dataclasses, times in float seconds.

One clock for every time in an event: *stream time*, seconds of 16 kHz audio
since the stream started (``SpeechStarted.start``, ``Partial.audio_time``,
``SpeechStopped.end``, ``Final.start``/``end``, the ``start``/``end`` of each
segment in ``Final.segments``, ``Dropped.audio_time``).

The events of one utterance come in this order: one :class:`SpeechStarted`, its
:class:`Partial` events, one :class:`SpeechStopped`, one :class:`Final`; the
next utterance's :class:`SpeechStarted` comes after that ``Final``.
Latencies are wall-clock seconds from the moment the last sample an event
covers reached lumina to the moment the event was emitted.
"""

from __future__ import annotations

import dataclasses
import typing

from lumina.asr.transcript import Segment

__all__ = ["DeviceLost", "Dropped", "Final", "Partial", "SpeechStarted", "SpeechStopped",
           "StreamEvent"]


@dataclasses.dataclass(frozen=True)
class SpeechStarted:
    """The voice activity detector confirmed speech: an utterance opened.

    Attributes
    ----------
    utterance_id : int
        The utterance (counts from 0 over the stream); its partials and final carry it.
    start : float
        Stream time of its first speech sample.
    audio_start : float
        Stream time of the first sample decoded for it: the segmenter's
        pre-roll before ``start`` (``pre_roll_ms``, less where the stream or
        the previous utterance began later).
    """

    utterance_id: int
    start: float
    audio_start: float


@dataclasses.dataclass(frozen=True)
class SpeechStopped:
    """The utterance ended; its :class:`Final` follows.

    It ends when a silence lasts the hang-over (``end`` is where the speech
    stopped, the hang-over earlier), when it reaches the segmenter's
    ``max_utterance_s`` (the next utterance starts at ``end``), or when the
    input ends (:meth:`~lumina.Stream.close_input`, the end of a file).

    Attributes
    ----------
    utterance_id : int
    start, end : float
        Stream times of its first and one past its last speech sample (the
        ``start`` and ``end`` of its :class:`Final`).
    input_ended : bool
        True when the end of the input closed it: speech was still going on,
        or its hang-over had not yet passed.
    """

    utterance_id: int
    start: float
    end: float
    input_ended: bool = False


@dataclasses.dataclass(frozen=True)
class Partial:
    """Text so far of an utterance that is still open.

    Attributes
    ----------
    text : str
        The whole hypothesis; always ``stable + unstable``.
    stable : str
        The prefix three consecutive hypotheses agreed on (LocalAgreement-3,
        :mod:`lumina.streaming.agreement`). Later partials of the same utterance
        start with it: it never changes or shrinks.
    unstable : str
        The tail that may still change.
    utterance_id : int
        The utterance (counts from 0 over the stream).
    audio_time : float
        Stream time of the end of the audio this hypothesis covers.
    latency : float
        Seconds from the arrival of that audio to the emission of this event.
    complete : bool
        True when the hypothesis covers the whole utterance (the end of speech
        was seen): the provisional text of progressive refinement, shown until
        the utterance's :class:`Final` replaces it.
    """

    text: str
    stable: str
    unstable: str
    utterance_id: int
    audio_time: float
    latency: float
    complete: bool = False


@dataclasses.dataclass(frozen=True)
class Final:
    """The text of a finished utterance, decoded once by the final path (``StreamOptions.final_speed``).

    Every utterance gets exactly one ``Final``, after its partials. Its ``text`` is
    authoritative and may differ from the last partial (another model or speed
    decoded it); it is ``""`` when the model heard no words in the utterance.

    Attributes
    ----------
    text : str
        The transcript of the utterance.
    segments : tuple of Segment
        Its segments, with tokens (empty when ``text`` is empty). Their
        ``start`` and ``end`` are stream time, like ``start`` and ``end``
        here; the first may begin up to the segmenter's pre-roll (200 ms by
        default) before ``start``, because the decoder heard the utterance
        from there. Token times are 0.0 (a stream asks for no word timestamps).
        A phrase-cache answer is one segment spanning the decoded audio.
    utterance_id : int
        The utterance.
    latency : float
        Seconds from the arrival of the utterance's last sample (the end the
        VAD found, ``hangover_ms`` before it could know) to the emission.
    start, end : float
        Stream times of the first and one past the last speech sample.
    origin : str
        What answered: ``"model"`` (a decode), ``"cache-exact"`` (the phrase
        cache, identical audio) or ``"cache-verified"`` (a fuzzy cache match
        that the model confirmed); ``"cache-unverified"`` only with the unsafe
        ``PhraseCache(trust_fuzzy_hits_unverified=True)``. See
        :attr:`lumina.Transcript.origin`.
    """

    text: str
    segments: tuple[Segment, ...]
    utterance_id: int
    latency: float
    start: float = 0.0
    end: float = 0.0
    origin: str = "model"

    @property
    def from_cache(self) -> bool:
        """True when the text came from the phrase cache (``origin`` starts with ``"cache-"``).

        For ``"cache-verified"`` the model ran a short check.
        """
        return self.origin.startswith("cache-")


@dataclasses.dataclass(frozen=True)
class Dropped:
    """Audio was lost because the pipeline fell behind a live source.

    Audio is dropped only at the ring buffer between the source and the
    pipeline (the oldest unread samples are overwritten).

    Attributes
    ----------
    samples : int
        Samples (16 kHz) lost since the previous ``Dropped`` event.
    total : int
        Samples lost since the stream started.
    audio_time : float
        Stream time at which the loss was noticed.
    """

    samples: int
    total: int
    audio_time: float


@dataclasses.dataclass(frozen=True)
class DeviceLost:
    """The audio device stopped delivering audio.

    Attributes
    ----------
    device : str
        What was lost (the device name, or the source's description).
    reason : str
        The error that ended the capture.
    attempt : int
        Reconnection attempts made so far for this loss (0 on the first report).
    retry_in : float or None
        Seconds until the next reconnection attempt; None when the source
        cannot be reopened and the stream ends.
    """

    device: str
    reason: str
    attempt: int
    retry_in: float | None


StreamEvent = typing.Union[SpeechStarted, Partial, SpeechStopped, Final, Dropped, DeviceLost]
StreamEvent.__doc__ = """Any event a :class:`~lumina.Stream` delivers (a type for annotations and ``isinstance``).

One of :class:`SpeechStarted`, :class:`Partial`, :class:`SpeechStopped`,
:class:`Final`, :class:`Dropped` and :class:`DeviceLost`; see the module
documentation for their order.
"""
