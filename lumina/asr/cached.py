"""Answers from the phrase cache: exact hits at once, fuzzy matches only when the model agrees.

An :class:`~lumina.Engine` with a cache asks it first (:func:`consult`, which fingerprints the
audio once; the same fingerprint stores the transcript after a miss, :func:`remember`).

* **Exact hit** (bit-identical canonical audio): the cached text is the answer at once,
  ``Transcript.origin == "cache-exact"``. The same audio under the same key gives the same
  transcript, so nothing can be wrong that a decode would have got right.
* **Fuzzy match**: similar audio is not proof of the same words ("turn on the lights" and
  "turn off the lights" differ by one short syllable), so the cached text is only a
  *candidate*. The model checks it on this audio (:func:`verify`): one greedy decode with the
  encoder context cut to the audio (:func:`verification_options`) and no temperature fallback.
  The candidate is accepted only when that decode :func:`agrees` with it
  (``origin == "cache-verified"``); otherwise the call goes on as a miss and returns the
  model's own answer, decoded at the speed the call asked for (nothing of the candidate is
  reused). A ``speed="fast"`` call reuses the verification decode as its fast decode when the
  two decodes are the same (same options), since then it *is* the fast answer.
* ``PhraseCache(trust_fuzzy_hits_unverified=True)``: UNSAFE, fuzzy text returned unchecked
  (``origin == "cache-unverified"``).

What "agrees" means
-------------------
The verification decode's text and the candidate have the same :func:`words`: the same
sequence of whitespace-separated words after Unicode NFKC normalisation and case folding,
with sentence punctuation (``. , ! ? ; :``, quotes, brackets, ellipses) stripped from the
ends of each word only, and a word that is nothing but dashes (whisper's "- " before a
speaker's turn) dropped. Inner characters count ("can't" is not "cant", "3.5" is not "35"),
and so do digits against words ("15" is not "fifteen"), hyphens, currency and percent signs.
An empty word sequence never agrees. Comparing words rather than token ids lets an accurate
decode's casing and final full stop differ from the shorter decode's without a miss; the
words a user reads are compared exactly.

So a verified answer never holds a word the model did not hear in *this* audio: the words are
those of a decode of this audio (spelled as the cached accurate decode spelled them). The cache
adds no error of its own; what remains is the verification decode's: if the short decode
mishears "off" as "on" and the cached phrase is "turn on the lights", the answer is wrong the
way ``speed="fast"`` would be.

Why this check (measured, ``benchmarks/compare_cache.py``)
-----------------------------------------------------------
The cost of a decode of a short phrase is almost all encoder (the decoder runs a handful of
tokens), and the encoder's cost follows its context: a 2 s phrase in a 5.12 s context
(:data:`~lumina.asr.speed.FAST_MIN_AUDIO_CTX`) instead of whisper.cpp's 30 s window costs
about a sixth of an accurate decode on tiny.en. Two cheaper-looking checks were ruled out:

* Scoring the cached tokens teacher-forced (one decoder pass, no search) needs the logits,
  and pywhispercpp 1.5.1 exposes none: ``whisper_get_logits`` returns one float (the first
  logit), the logits-filter callback receives one float, ``whisper_decode`` takes a single
  token. Through ctypes it would still pay the same encoder, so it would save only the few
  greedy decoder steps, and a likelihood threshold is a softer test than "the model's own
  best reading is these words".
* A shorter context than the fast floor is cheaper still, but stock weights degrade
  (repetition loops) below it; a verification that misreads is a miss, never a wrong
  answer, yet it would lose most hits.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Callable, Hashable

import numpy as np

from lumina.asr.backend import DecodeOptions, RunResult
from lumina.asr.model_protocol import WhisperDecoder
from lumina.asr.speed import fast_options, fast_result_suspect
from lumina.asr.transcript import Segment, Timings, Transcript, from_run, spoken_text
from lumina.audio.convert import SAMPLE_RATE
from lumina.errors import TranscriptionAborted

__all__ = ["ORIGINS", "Consulted", "Verification", "agrees", "answer", "check_candidate", "consult",
           "consult_or_answer", "decode_or_confirm", "make_cache", "remember",
           "verification_options", "verify", "words"]

#: Values of ``Transcript.origin`` / ``Final.origin``.
ORIGINS = ("model", "cache-exact", "cache-verified", "cache-unverified")

# Stripped from both ends of each word before comparing: sentence punctuation only.
_EDGE_PUNCTUATION = ".,!?;:\"'()[]{}\u2018\u2019\u201c\u201d\u00ab\u00bb\u2026\u00bf\u00a1"
# A "word" made only of these is a dash, not a word: whisper opens a speaker's turn with "- "
# ("- Let me know." and "Let me know." are the same words). A dash inside or at the end of a word
# still counts ("-5" is not "5", "twenty-one" is not "twenty one").
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015")


@dataclasses.dataclass(frozen=True)
class Consulted:
    """What the cache said for one call.

    Attributes
    ----------
    origin : str or None
        ``"cache-exact"`` or ``"cache-unverified"`` when ``text`` is the answer; None when
        it is a candidate to verify (``text`` set) or there was nothing (``text`` None).
    text : str or None
    fingerprint : object or None
        What :func:`remember` stores the transcript under (the query's fingerprint; None
        for a cache without ``match``, which then gets the audio again).
    """

    origin: str | None
    text: str | None
    fingerprint: object | None = None

    @property
    def candidate(self) -> str | None:
        """The text to verify, or None."""
        return self.text if self.origin is None else None


_NOTHING = Consulted(None, None)


def consult(cache, samples: np.ndarray, key: Hashable) -> Consulted:
    """Ask ``cache`` about ``samples`` once (one fingerprint).

    A :class:`~lumina.PhraseCache` (anything with ``match``) gives exact hits, fuzzy
    candidates and the fingerprint. A plain ``get``/``put`` cache is trusted like an exact
    hit: its ``get`` promises to answer only for audio it vouches for.
    """
    if cache is None:
        return _NOTHING
    if not callable(getattr(cache, "match", None)):
        text = cache.get(samples, key)
        return _NOTHING if text is None else Consulted("cache-exact", text)
    found = cache.match(samples, key)
    if found.kind == "exact":
        return Consulted("cache-exact", found.text, found.fingerprint)
    if found.kind == "fuzzy":
        trusted = getattr(cache, "trust_fuzzy_hits_unverified", False) is True
        return Consulted("cache-unverified" if trusted else None, found.text, found.fingerprint)
    return Consulted(None, None, found.fingerprint)


def make_cache(cache):
    """The cache an Engine uses for its ``cache=`` argument: ``True`` a new in-memory
    :class:`~lumina.PhraseCache`, ``False``/None none, anything else as it is."""
    if cache is True:
        from lumina.cache.phrase_cache import PhraseCache
        return PhraseCache()
    if cache is False:
        return None
    return cache


def consult_or_answer(cache, samples: np.ndarray, key: Hashable, language: str,
                      speed: str) -> Transcript | Consulted:
    """The cache's answer as a :class:`Transcript` (an exact hit, or an unverified one where the
    cache was told to trust them), or what :func:`consult` said (a candidate to verify, or nothing)."""
    found = consult(cache, samples, key)
    if found.origin is not None:
        return answer(found.text, len(samples), language, found.origin, "cache", speed)
    return found


def remember(cache, consulted: Consulted, samples: np.ndarray, key: Hashable, text: str) -> None:
    """Store the model's transcript, reusing the fingerprint :func:`consult` made."""
    if cache is not None and text:
        cache.put(samples if consulted.fingerprint is None else consulted.fingerprint, key, text)


def answer(text: str, n_samples: int, language: str, origin: str, device: str,
           speed: str) -> Transcript:
    """The transcript of a cache answer: one segment spanning the audio."""
    segment = Segment(0.0, n_samples / SAMPLE_RATE, text, ())
    return Transcript(text, (segment,), language, device, Timings(), speed=speed, origin=origin)


def words(text: str) -> tuple[str, ...]:
    """The words :func:`agrees` compares (see the module documentation)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return tuple(w for w in (w.strip(_EDGE_PUNCTUATION) for w in folded.split())
                 if w and not _DASHES.issuperset(w))


def agrees(candidate: str, decoded: str) -> bool:
    """Whether a decode of the audio confirms the candidate text: the same non-empty :func:`words`."""
    expected = words(candidate)
    return bool(expected) and words(decoded) == expected


def verification_options(options: DecodeOptions, n_samples: int,
                         full_ctx: int) -> tuple[DecodeOptions, int] | None:
    """The options of the verification decode and its token budget.

    Those of ``speed="fast"`` (encoder context cut to the audio plus a margin, never below
    the fast floor; a token budget), greedy (temperature 0 and one beam whatever the call
    asked: the model's best reading at the lowest cost) and with temperature fallback off: one pass, so the cost is bounded
    and the result depends on nothing but the audio and the options. None
    when the audio fills the window (nothing to save: such a call runs as a miss).
    """
    fast = fast_options(options, n_samples, full_ctx)
    if fast is None:
        return None
    return dataclasses.replace(fast[0], temperature=0.0, temperature_fallback=False, beam_size=1), fast[1]


@dataclasses.dataclass(frozen=True)
class Verification:
    """One verification decode and its verdict.

    Attributes
    ----------
    result : RunResult
        The decode of the call's audio.
    options : DecodeOptions
        What it ran with.
    agreed : bool
        Whether it confirmed the candidate (:func:`agrees`, and the decode did not loop or
        use up its token budget).
    suspect : bool
        Whether it looped or used up its budget (:func:`~lumina.asr.speed.fast_result_suspect`).
    text : str
        Its text (segments joined).
    fast_answer : bool
        Whether it is also the answer of a ``speed="fast"`` call: a fast call, a decode that is
        not suspect, made with exactly the options the fast path uses
        (:func:`~lumina.asr.speed.fast_options`), so running the fast path would repeat it.
    """

    result: RunResult
    options: DecodeOptions
    agreed: bool
    suspect: bool
    text: str
    fast_answer: bool = False


def verify(model: WhisperDecoder, samples: np.ndarray, options: DecodeOptions, candidate: str,
           should_abort: Callable[[], bool] | None = None) -> Verification | None:
    """Decode ``samples`` with :func:`verification_options` and compare with ``candidate``.

    Returns None when no verification is cheaper than the call itself (audio of 30 s or
    more). An aborted decode is returned as it is (``result.aborted``); the caller raises.
    """
    planned = verification_options(options, len(samples), model.n_audio_ctx)
    if planned is None:
        return None
    verify_options, budget = planned
    result = model.run(samples, verify_options, should_abort)
    if result.aborted:
        return Verification(result, verify_options, False, True, "")
    text = spoken_text(result, model.is_special, len(samples) / SAMPLE_RATE)
    suspect = fast_result_suspect(result, model, budget, len(samples) / SAMPLE_RATE)
    return Verification(result, verify_options, not suspect and agrees(candidate, text), suspect, text)


def check_candidate(model: WhisperDecoder, samples: np.ndarray, options: DecodeOptions, speed: str,
                    candidate: str, should_abort: Callable[[], bool] | None = None,
                    on_candidate: Callable[[str], None] | None = None) -> Verification | None:
    """The engine's step for a fuzzy candidate: announce it, :func:`verify` it, mark a fast answer.

    Raises
    ------
    TranscriptionAborted
        ``should_abort`` stopped the verification decode.
    """
    if on_candidate is not None:
        on_candidate(candidate)
    check = verify(model, samples, options, candidate, should_abort)
    if check is None:
        return None
    if check.result.aborted:
        raise TranscriptionAborted("the transcription was stopped by should_abort")
    fast = fast_options(options, len(samples), model.n_audio_ctx) if speed == "fast" else None
    reusable = fast is not None and not check.suspect and check.options == fast[0]
    return dataclasses.replace(check, fast_answer=reusable)


def decode_or_confirm(model: WhisperDecoder, device: str, samples: np.ndarray,
                      options: DecodeOptions, speed: str, found: Consulted, should_abort,
                      on_candidate, run) -> tuple[Transcript, list[RunResult]]:
    """A cache candidate the model confirms, or the model's own transcript; with the runs made.

    ``run(model, samples, options, speed, should_abort) -> (RunResult, used_speed)`` is the
    engine's decode at the asked speed; it runs unless the verification settled the call.
    """
    runs: list[RunResult] = []
    result = None
    if found.candidate is not None:
        check = check_candidate(model, samples, options, speed, found.candidate, should_abort,
                                on_candidate)
        if check is not None:
            runs.append(check.result)
            if check.agreed:
                return answer(found.candidate, len(samples), options.language, "cache-verified",
                              device, speed), runs
            if check.fast_answer:
                result, used_speed = check.result, "fast"  # the fast path would repeat it
    if result is None:
        result, used_speed = run(model, samples, options, speed, should_abort)
        runs.append(result)
    return from_run(result, model.is_special, device, used_speed, len(samples) / SAMPLE_RATE), runs
