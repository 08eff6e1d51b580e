"""The two speeds of :meth:`Engine.transcribe <lumina.Engine.transcribe>`, never switched silently.

``speed="accurate"`` (default)
    Exactly what whisper.cpp gives with its library defaults and 5 beams
    (:data:`DEFAULT_BEAM_SIZE`, whisper-cli's and faster-whisper's default):
    the encoder sees the full 30 s window, temperature fallback on; its
    tokens equal pywhispercpp's ``Model.transcribe`` with the same strategy
    (the prompt gets one leading space, as OpenAI's whisper gives it).
``speed="fast"``
    The encoder context is cut to the audio's length plus a margin, rounded
    up to whole blocks of :data:`FAST_MIN_AUDIO_CTX` frames (see
    :func:`fast_audio_ctx`), and decoding gets a token budget proportional to
    the duration. This changes what the model sees: on stock weights a short
    context can loop on a phrase, so a result that repeats itself
    (:func:`has_repetition_loop`) or exhausts its budget is decoded again on
    the full window (``Transcript.speed`` then says ``"accurate"``).

    A fast call is one pass at temperature 0 with the call's beams: no
    temperature fallback (``DecodeOptions.temperature_fallback=False``), for
    the cut context and for the full-window decode of a suspect result or of
    audio that fills the window (:func:`full_window_options`). whisper.cpp's
    fallback retries an unsure decode at temperatures 0.2 ... 1.0 with 5
    sampled decoders each, which multiplies the cost of exactly the calls that
    must be cheap. Partials (lumina.streaming) pass ``beam_size=1``.

Beams (``python benchmarks accuracy``, real tiny.en, 192 clips of 32 sentences by
hibari-tts and 5 espeak-ng voices, 2 threads, medians, one interleaved run):

==========================  =====  =======
path                        WER    time
==========================  =====  =======
accurate, greedy            13.2%  619 ms
accurate, 5 beams           10.1%  727 ms
fast, greedy                12.4%  135 ms
fast, 5 beams                9.6%  301 ms
faster-whisper int8 beam 5  11.2%  271 ms
==========================  =====  =======

Both speeds default to 5 beams: the only setting whose default reads the corpus at
least as well as faster-whisper's, and clean hibari speech under 1% WER. What had
kept the default greedy is mended: beams bracket a short answer spoken alone
("[Sure]"), which the speech filter drops as a description of sound, so a decode of
nothing but annotations is decided by a greedy decode
(:func:`lumina.asr.speech_filter.heard_only_sound`); beams place a last segment's end
up to a second past the audio, which the loop rule no longer mistakes for a repeat;
and a fast beam decode gets 1.92 s of right context (0.64 s greedy), without which it
read the test corpus 0.7 point worse than the full window. whisper.cpp's beam search
draws its candidates at random from the token distribution; :mod:`lumina.asr.shared_model`
gives each such call a fresh state so the same audio always reads the same.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from lumina.asr.backend import DecodeOptions, RunResult
from lumina.asr.model_protocol import WhisperDecoder
from lumina.asr.speech_filter import first_reading, seconds_left
from lumina.audio.convert import SAMPLE_RATE
from lumina.errors import ArgumentError

__all__ = ["DEFAULT_BEAM_SIZE", "FAST_MIN_AUDIO_CTX", "SPEEDS", "beam_size_for", "check_speed", "fast_audio_ctx", "fast_options",
           "fast_result_suspect", "full_window_options", "has_repetition_loop"]

#: The values ``speed=`` takes.
SPEEDS = ("accurate", "fast")
FRAMES_PER_SECOND = 50  # encoder positions per second of audio (1500 per 30 s)
#: Smallest encoder context ``speed="fast"`` uses, in 20 ms frames (5.12 s); fast
#: contexts are whole multiples of it.
FAST_MIN_AUDIO_CTX = 256
FAST_MIN_TOKENS = 16
_FAST_MARGIN_FRAMES = 32  # 0.64 s of right context past the end of the audio (greedy)
# Beam search needs more: with 32 frames 5 beams read the test corpus 0.7 point worse than the full
# window (6.5%), with 96 (1.92 s) 0.2 point worse (python benchmarks accuracy; tests/test_real_words).
_FAST_BEAM_MARGIN_FRAMES = 96
_FAST_TOKENS_PER_SECOND = 8  # about twice the rate of fast speech


#: Beams of a call that names none, per speed (1: greedy). Chosen by measurement on the real
#: tiny.en (benchmarks/compare_accuracy.py): see the module documentation. The phrase cache's
#: verification decode and streams' partials and Finals (StreamOptions.final_beam_size) are greedy by default.
DEFAULT_BEAM_SIZE = {"accurate": 5, "fast": 5}


def beam_size_for(speed: str, beam_size: int | None) -> int:
    """``beam_size``, or the speed's default when it is None."""
    return DEFAULT_BEAM_SIZE[speed] if beam_size is None else beam_size


def check_speed(speed) -> str:
    """Return ``speed`` if it is one of :data:`SPEEDS`, else raise ArgumentError naming it."""
    if not isinstance(speed, str) or speed not in SPEEDS:
        raise ArgumentError(f"speed must be 'accurate' or 'fast', not {speed!r}")
    return speed


def fast_audio_ctx(n_samples: int, full_ctx: int = 1500, beam_size: int = 1) -> int:
    """Encoder context ``speed="fast"`` uses for ``n_samples`` of 16 kHz audio.

    The audio's own frames plus a margin (0.64 s greedy, 1.92 s with beams),
    rounded up to a multiple of :data:`FAST_MIN_AUDIO_CTX`, at most the
    model's full context.

    Why whole blocks: whisper.cpp (1.8.5, flash attention) pads the encoder's
    and the cross-attention's keys and values to a multiple of 256 frames and
    does not mask the padding rows, which keep what earlier calls on the same
    context wrote there. With a context of, say, 332 frames, 180 of the 512
    rows attended to are left over from the previous call, and the same audio
    gave 49 tokens on a fresh context and 5 after another call (tiny.en
    shape). A context that fills its blocks leaves no such rows, so a fast
    decode depends on its own audio only. The cost is encoder frames: up to
    255 more than the audio needs.
    """
    margin = _FAST_MARGIN_FRAMES if beam_size <= 1 else _FAST_BEAM_MARGIN_FRAMES
    frames = math.ceil(n_samples * FRAMES_PER_SECOND / SAMPLE_RATE) + margin
    blocks = math.ceil(frames / FAST_MIN_AUDIO_CTX)
    return int(min(full_ctx, max(1, blocks) * FAST_MIN_AUDIO_CTX))


def fast_options(options: DecodeOptions, n_samples: int,
                 full_ctx: int) -> tuple[DecodeOptions, int] | None:
    """The options and token budget of a fast decode, or None when the audio fills the window."""
    if n_samples >= full_ctx * SAMPLE_RATE // FRAMES_PER_SECOND:
        return None
    budget = max(FAST_MIN_TOKENS, math.ceil(n_samples / SAMPLE_RATE * _FAST_TOKENS_PER_SECOND))
    fast = dataclasses.replace(options, audio_ctx=fast_audio_ctx(n_samples, full_ctx, options.beam_size),
                               max_tokens=budget, temperature_fallback=False)
    return fast, budget


def full_window_options(options: DecodeOptions, speed: str) -> DecodeOptions:
    """Options of a full-window decode made for ``speed``: greedy when a fast call makes it."""
    if speed == "fast":
        return dataclasses.replace(options, temperature_fallback=False)
    return options


def has_repetition_loop(token_ids: Sequence[int], *, min_repeats: int = 4, max_period: int = 8) -> bool:
    """Whether the token sequence ends in a phrase of up to ``max_period`` tokens repeated ``min_repeats`` times."""
    n = len(token_ids)
    for period in range(1, max_period + 1):
        span = period * min_repeats
        if span > n:
            break
        tail = token_ids[n - span:]
        if all(tail[i] == tail[i % period] for i in range(span)):
            return True
    return False


def fast_result_suspect(result: RunResult, model: WhisperDecoder, budget: int,
                        seconds: float | None = None) -> bool:
    """A fast result that loops or used up its token budget is not trusted.

    With ``seconds`` (the audio's length), a segment that reads one phrase over and over
    faster than the audio could hold it is judged by its first reading, which is what the
    speech filter keeps (:func:`~lumina.asr.speech_filter.first_reading`): greedy decoding of
    a short phrase spoken alone loops into the fast context's padding ("Best regards. Best
    regards. ..." to the budget). The phrase cache's verification passes it (a loop of the
    candidate confirms the candidate); the fast path does not, since a loop that began early
    may hide words after it, which the full window then reads.
    """
    for segment in result.segments:
        words = [t for t in segment.tokens if not model.is_special(t.id)]
        if seconds is not None:
            words = words[:first_reading(words, seconds_left(segment, seconds))]
        ids = [t.id for t in words]
        if len(ids) >= budget or has_repetition_loop(ids):
            return True
    return False
