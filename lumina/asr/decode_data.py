"""Plain data of one whisper.cpp inference call: its options and what it produced.

These types carry no whisper.cpp state, so every layer above the backend
(engine, shared-weights states, streaming, cache) can use them without
importing pywhispercpp. :mod:`lumina.asr.backend` re-exports them.
"""

from __future__ import annotations

import dataclasses

__all__ = ["DecodeOptions", "TokenData", "SegmentData", "RunResult"]


@dataclasses.dataclass(frozen=True)
class DecodeOptions:
    """Parameters of one inference call; everything else is whisper.cpp's default.

    Attributes
    ----------
    n_threads : int
        CPU threads for this call.
    language : str or None
        Language code or ``"auto"``; ``None`` keeps whisper.cpp's default (``"en"``).
    prompt : str or None
        Initial prompt text.
    audio_ctx : int
        Encoder context in frames of 20 ms (0: the full 30 s window). Cutting
        it changes what the model sees; only the engine's ``speed="fast"`` does.
    max_tokens : int
        Most tokens per segment (0: no limit).
    token_timestamps : bool
        Compute per-token start and end times.
    translate : bool
        Translate to English.
    temperature : float
        First decoding temperature (0: greedy); whisper.cpp's fallback goes up from it.
    temperature_fallback : bool
        Retry an unsure decode at higher temperatures (whisper.cpp's default,
        ``temperature_inc`` 0.2). False: one pass at ``temperature``
        (``temperature_inc`` 0); at temperature 0, one greedy pass,
        deterministic and of bounded cost.
    beam_size : int
        1: greedy decoding (whisper.cpp's default strategy). More: whisper.cpp's
        beam search with that many beams at temperature 0 (its fallback, if
        on, samples as usual).
    """

    n_threads: int
    language: str | None = None
    prompt: str | None = None
    audio_ctx: int = 0
    max_tokens: int = 0
    token_timestamps: bool = False
    translate: bool = False
    temperature: float = 0.0
    temperature_fallback: bool = True
    beam_size: int = 1


@dataclasses.dataclass(frozen=True)
class TokenData:
    """One decoded token: id, text (raw bytes decoded leniently), probability, times in seconds."""

    id: int
    text: str
    p: float
    start: float
    end: float


@dataclasses.dataclass(frozen=True)
class SegmentData:
    """One decoded segment with its tokens (special tokens included).

    ``no_speech_prob`` is None where the backend cannot read it (pywhispercpp's
    binding has no getter; :mod:`lumina.asr.shared_model` reads it).
    """

    start: float
    end: float
    text: str
    tokens: tuple[TokenData, ...]
    no_speech_prob: float | None = None


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What one ``whisper_full`` call produced, with its stage timings in seconds.

    ``decoder_steps`` counts the token distributions whisper.cpp sampled from
    (one per decoder per step, every temperature included): a single greedy
    pass has one per token it produced (end of text included), a temperature
    fallback adds ``best_of`` per step of every retry.
    """

    segments: tuple[SegmentData, ...]
    language: str
    mel_s: float
    encode_s: float
    decode_s: float
    aborted: bool
    decoder_steps: int = 0
