"""Results of a transcription: frozen dataclasses, times in float seconds."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from lumina.asr.speech_filter import SpeechFilter
from lumina.audio.convert import SAMPLE_RATE

if TYPE_CHECKING:
    from lumina.asr.backend import RunResult, SegmentData

__all__ = ["MIN_SAMPLES", "Segment", "Timings", "Token", "Transcript", "from_run", "segment_from", "spoken_text",
           "too_short", "with_timings", "word_tokens"]

MIN_SAMPLES = SAMPLE_RATE // 10  # whisper.cpp returns nothing for less than 100 ms


@dataclasses.dataclass(frozen=True)
class Token:
    """One text token of a segment.

    Attributes
    ----------
    id : int
        Token id in the model's vocabulary.
    text : str
        The token's text (a token may hold part of a multi-byte character;
        such bytes are shown as U+FFFD).
    probability : float
        Probability the decoder gave the token.
    start, end : float
        Seconds from the start of the audio; both 0.0 unless word
        timestamps were asked for.
    """

    id: int
    text: str
    probability: float
    start: float
    end: float


@dataclasses.dataclass(frozen=True)
class Segment:
    """A stretch of transcribed speech.

    Attributes
    ----------
    start, end : float
        Seconds from the start of the audio.
    text : str
        The segment's text.
    tokens : tuple of Token
        Its text tokens (special tokens such as timestamps left out).
    no_speech_prob : float or None
        whisper's probability that the segment's window holds no speech;
        None where the backend cannot read it (a single whisper.cpp context
        through pywhispercpp; ``Engine(shared_weights=True)`` reads it).
    """

    start: float
    end: float
    text: str
    tokens: tuple[Token, ...]
    no_speech_prob: float | None = None


@dataclasses.dataclass(frozen=True)
class Timings:
    """Where the time of one transcription went, in seconds.

    Attributes
    ----------
    load : float
        Waiting for the model to be loaded and warmed up (0.0 once it is ready).
    audio : float
        Decoding and resampling the input audio.
    encode : float
        Mel spectrogram and encoder.
    decode : float
        Token decoding.
    total : float
        The whole call, from entry to return.
    """

    load: float = 0.0
    audio: float = 0.0
    encode: float = 0.0
    decode: float = 0.0
    total: float = 0.0


@dataclasses.dataclass(frozen=True)
class Transcript:
    """The result of :meth:`lumina.Engine.transcribe`.

    Attributes
    ----------
    text : str
        The whole text, segments joined, outer whitespace stripped.
    segments : tuple of Segment
        The segments in order.
    language : str
        Language code the model decoded in.
    device : str
        What ran the model: ``"cpu"``, ``"cuda"``, ``"vulkan"``, ``"metal"``;
        ``"cache"`` when the phrase cache answered without the model; ``"none"``
        when nothing had to run (see ``reason``).
    timings : Timings
        Stage timings of this call.
    reason : str or None
        Why the transcript is empty without the model having run
        (for example audio shorter than 100 ms); None otherwise.
    speed : str
        ``"accurate"`` or ``"fast"``: the decoding mode that produced the text
        (a fast call whose fast decode was suspect says ``"accurate"``); a long
        transcription whose windows ran at both says ``"mixed"``
        (:meth:`lumina.asr.long_form.SegmentIterator.transcript`).
    origin : str
        What answered: ``"model"`` (a decode, or nothing to decode: see
        ``reason``), ``"cache-exact"`` (the phrase cache, bit-identical audio)
        or ``"cache-verified"`` (a fuzzy phrase-cache match confirmed by the model);
        ``"cache-unverified"`` only with the unsafe
        ``PhraseCache(trust_fuzzy_hits_unverified=True)``.
    model : str or None
        The model of the engine that answered, as it was loaded: a registry
        or imported name, or a path (the chosen one with ``model="auto"``);
        None for a transcript no engine made.
    """

    text: str
    segments: tuple[Segment, ...]
    language: str
    device: str
    timings: Timings
    reason: str | None = None
    speed: str = "accurate"
    origin: str = "model"
    model: str | None = None

    @property
    def from_cache(self) -> bool:
        """True when the text came from the phrase cache (``origin`` starts with ``"cache-"``);
        for ``"cache-verified"`` the model ran a short check."""
        return self.origin.startswith("cache-")


def word_tokens(tokens: Iterable[Token]) -> list[list[Token]]:
    """``tokens`` grouped into words: a token whose text starts with whitespace (or the first
    token) starts a word, and the tokens after it up to the next such token belong to it."""
    words: list[list[Token]] = []
    for token in tokens:
        if words and not token.text[:1].isspace():
            words[-1].append(token)
        else:
            words.append([token])
    return words


def from_run(result: RunResult, is_special: Callable[[int], bool], device: str, speed: str,
             duration: float) -> Transcript:
    """The :class:`Transcript` of one backend run: what nobody said removed
    (:mod:`lumina.asr.speech_filter`), special tokens dropped, times clamped.

    whisper.cpp reports nonsense times (e.g. -1007 s) for a segment decoded
    without timestamp tokens, so times outside ``[0, duration]`` are clamped
    into it. A transcript left empty says why in ``reason``.
    """
    speech_filter = SpeechFilter(is_special, duration)
    cleaned = [speech_filter.clean(s) for s in result.segments]
    segments = tuple(_segment(c.data, is_special, duration) for c in cleaned if c.data is not None)
    text = " ".join(s.text for s in segments if s.text).strip()
    removed = [c.removed for c in cleaned if c.removed is not None]
    reason = None if text else f"no speech: {removed[0] if removed else 'whisper wrote nothing'}"
    return Transcript(text, segments, result.language, device, Timings(), reason=reason, speed=speed)


def spoken_text(result: RunResult, is_special: Callable[[int], bool], duration: float) -> str:
    """The text of a run as its transcript would hold it (what nobody said removed)."""
    speech_filter = SpeechFilter(is_special, duration)
    segments = (segment_from(s, speech_filter) for s in result.segments)
    return " ".join(s.text for s in segments if s is not None and s.text).strip()


def segment_from(data: SegmentData, speech_filter: SpeechFilter) -> Segment | None:
    """The :class:`Segment` of the decode's next backend segment, or None when it holds nothing
    anybody said (:class:`lumina.asr.speech_filter.SpeechFilter`); special tokens dropped, times
    clamped."""
    cleaned = speech_filter.clean(data)
    return None if cleaned.data is None else _segment(cleaned.data, speech_filter.is_special,
                                                      speech_filter.duration)


def _segment(data: SegmentData, is_special: Callable[[int], bool], duration: float) -> Segment:
    def clamp(t: float) -> float:
        return min(max(t, 0.0), duration)

    return Segment(clamp(data.start), clamp(data.end), data.text.strip(),
                   tuple(Token(t.id, t.text, t.p, t.start, t.end)
                         for t in data.tokens if not is_special(t.id)),
                   data.no_speech_prob)


def too_short(n_samples: int, language: str) -> Transcript:
    """The empty transcript of audio too short for whisper (under :data:`MIN_SAMPLES`), with why."""
    reason = f"audio is {n_samples / SAMPLE_RATE * 1000:.0f} ms long; whisper needs at least 100 ms"
    return Transcript("", (), language, "none", Timings(), reason=reason)


def with_timings(t: Transcript, load: float, audio: float, encode: float, decode: float,
                 started: float, *, model: str | None = None) -> Transcript:
    """``t`` with its :class:`Timings` (and the ``model`` that answered); ``total`` runs from
    ``started`` (``perf_counter``) to now."""
    timings = Timings(load=load, audio=audio, encode=encode, decode=decode,
                      total=time.perf_counter() - started)
    return dataclasses.replace(t, timings=timings, model=model if model is not None else t.model)
