"""Fuzzy phrase-cache matches are verified by the model on the call's own audio.

Random-weight models (micro here) decode nearly the same tokens whatever the words, so these
tests check the mechanism with exact outcomes: which decodes run, on which samples, with which
options, and that a candidate is accepted exactly when the verification decode of *this*
audio has its words. Whether the cache can put another phrase's text into a Final is judged
with a word-faithful model in test_cache_eval.py.
"""

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pywhispercpp.model import Model

import lumina.evaluation.phrases as su
from _engine_util import reference_tokens
import lumina.asr.cached as cached
import lumina.cache.phrase_cache as phrase_cache
from lumina import ArgumentError, Engine, PhraseCache, TranscriptionAborted
from lumina.asr.shared_model import SharedModel
from lumina.asr.backend import DecodeOptions, WhisperModel
from lumina.asr.cached import agrees, verification_options, words
from lumina.asr.speed import beam_size_for, fast_options


# ----------------------------------------------------------------------------- agreement

@pytest.mark.parametrize(("candidate", "decoded", "expected"), [
    ("Turn on the lights.", "turn on the lights", True),
    ("Turn on the lights.", " Turn on the lights!", True),
    ("\u201cSend it,\u201d she said.", "send it she said", True),
    ("Ｓｅｎｄ ｉｔ", "send it", True),          # NFKC: full-width letters
    ("turn on the lights", "turn off the lights", False),
    ("I can come.", "I can't come.", False),
    ("I can't come", "I cant come", False),       # inner apostrophe counts
    ("wait fifteen minutes", "wait 15 minutes", False),
    ("version 3.5", "version 35", False),         # inner full stop counts
    ("costs $5", "costs 5", False),
    ("5% off", "5 off", False),
    ("twenty-one", "twenty one", False),
    ("- Let me know.", "Let me know.", True),     # whisper's dash before a speaker's turn
    ("Let me know \u2014 now", "let me know now", True),
    ("-5 degrees", "5 degrees", False),           # a minus sign is not a dash on its own
    ("twenty-", "twenty", False),
    ("-", "-", False),                            # a dash alone is no word: never agrees
    ("meet me at seven", "meet me at seven please", False),
    ("", "", False),
    ("...", "...", False),                        # no words: never agrees
])
def test_agreement_is_word_for_word(candidate, decoded, expected):
    assert agrees(candidate, decoded) is expected


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(_TEXT, _TEXT)
def test_agreement_is_symmetric_and_reflexive_on_words(a, b):
    assert agrees(a, a) is bool(words(a))
    assert agrees(a, b) is agrees(b, a)
    assert agrees(a, b) is (bool(words(a)) and words(a) == words(b))


@given(st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=1, max_size=6), st.data())
def test_changing_one_word_breaks_agreement_and_case_or_full_stop_does_not(ws, data):
    text = " ".join(ws)
    assert agrees(text, text.upper() + ".")
    i = data.draw(st.integers(0, len(ws) - 1))
    other = data.draw(st.from_regex(r"[a-z]{1,8}", fullmatch=True).filter(lambda w: w != ws[i]))
    assert not agrees(text, " ".join(ws[:i] + [other] + ws[i + 1:]))


# ----------------------------------------------------------------------------- engine

@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return su.SpeechBank(tmp_path_factory.mktemp("verify-speech"))


@pytest.fixture
def runs(monkeypatch):
    """Every decode of the test, on a context or a shared model's state: (samples, options, result)."""
    seen = []

    def spying(real):
        def spy(self, audio, options, should_abort=None, on_segment=None):
            result = real(self, audio, options, should_abort, on_segment)
            seen.append((np.array(audio, copy=True), options, result))
            return result
        return spy

    for kind in (WhisperModel, SharedModel):
        monkeypatch.setattr(kind, "run", spying(kind.run))
    return seen


@pytest.fixture
def fingerprints(monkeypatch):
    calls = []
    real = phrase_cache.fingerprint
    monkeypatch.setattr(phrase_cache, "fingerprint", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


class Relabelling(PhraseCache):
    """Stores ``label`` instead of the model's text: a candidate the model will not decode."""

    label = "turn off the kitchen lights"

    def put(self, audio, key, text, **kwargs):
        super().put(audio, key, self.label, **kwargs)


def retake_of(speech, phrase="turn on the kitchen lights", voice="en-us"):
    original = speech.at_16k(phrase, voice)
    return original, su.gain(speech.at_16k(phrase, voice, speed=165), 4.0)


def tokens_of(transcript):
    return [t.id for s in transcript.segments for t in s.tokens]


@pytest.mark.speech
def test_an_exact_hit_runs_no_model_and_fingerprints_once(micro_model, speech, runs, fingerprints):
    audio, _ = retake_of(speech)
    with Engine(micro_model, threads=1, cache=PhraseCache(), warmup=False) as engine:
        first = engine.transcribe(audio)
        assert (len(runs), len(fingerprints)) == (1, 1)   # a miss: one analysis for match and put
        again = engine.transcribe(audio.copy())
    assert (len(runs), len(fingerprints)) == (1, 2)
    assert (first.origin, again.origin) == ("model", "cache-exact")
    assert (again.device, again.from_cache) == ("cache", True)
    assert again.text == first.text != ""


@pytest.mark.speech
def test_a_fuzzy_match_is_verified_by_one_short_greedy_decode_of_this_audio(micro_model, speech, runs,
                                                                           fingerprints):
    original, retake = retake_of(speech)
    with Engine(micro_model, threads=1, cache=PhraseCache(), warmup=False) as engine:
        first = engine.transcribe(original)
        again = engine.transcribe(retake)
    assert len(runs) == 2 and len(fingerprints) == 2
    samples, options, result = runs[1]
    np.testing.assert_array_equal(samples, retake)
    expected = verification_options(dataclasses.replace(runs[0][1]), len(retake), 1500)[0]
    assert options == expected and options.temperature_fallback is False
    assert options.audio_ctx == 256 and options.max_tokens == 16
    ids = [[t.id for t in s.tokens if t.id < 50256] for s in result.segments]
    assert ids == reference_tokens(micro_model, retake, beam_size=1, audio_ctx=256, max_tokens=16,
                                   temperature_inc=0.0)
    # The micro model decodes the same token for both takes, so the verification agrees.
    assert (again.origin, again.from_cache, again.device, again.text) == ("cache-verified", True, "cpu",
                                                                          first.text)


@pytest.mark.speech
def test_a_candidate_the_decode_contradicts_gives_the_models_own_answer(micro_model, speech, runs,
                                                                       fingerprints):
    original, retake = retake_of(speech)
    cache = Relabelling()
    with Engine(micro_model, threads=1, cache=cache, warmup=False) as engine:
        engine.transcribe(original)
        seen = []
        again = engine.transcribe(retake, on_candidate=seen.append)
    with Engine(micro_model, threads=1, warmup=False) as plain:
        reference = plain.transcribe(retake)
    assert seen == ["turn off the kitchen lights"]
    stages = [(o.audio_ctx, o.temperature_fallback) for _, o, _ in runs]
    assert stages == [(0, True), (256, False), (0, True), (0, True)]  # miss, check, decode, plain
    assert (again.origin, again.from_cache, again.speed) == ("model", False, "accurate")
    assert (again.text, tokens_of(again)) == (reference.text, tokens_of(reference))
    assert [tokens_of(again)] == reference_tokens(micro_model, retake)
    assert len(fingerprints) == 2 and len(cache) == 2   # the retake's own text, under its fingerprint


@pytest.mark.speech
def test_a_fast_call_reuses_the_verification_only_when_it_is_the_fast_decode(micro_model, speech, runs,
                                                                            monkeypatch):
    original, retake = retake_of(speech)
    with Engine(micro_model, threads=1, cache=Relabelling(), warmup=False) as engine:
        engine.transcribe(original, speed="fast")
        del runs[:]
        plain = engine.transcribe(retake, speed="fast")
        base = DecodeOptions(n_threads=engine.threads, language="en",
                             beam_size=beam_size_for("fast", None))
        fast = fast_options(base, len(retake), 1500)[0]
        same = verification_options(base, len(retake), 1500)[0] == fast
        assert len(runs) == (1 if same else 2) and plain.origin == "model" and plain.speed == "fast"
        # When the fast path is greedy without fallback too (the same options), one decode serves.
        monkeypatch.setattr(cached, "fast_options", lambda o, n, c: (
            dataclasses.replace(fast_options(o, n, c)[0], temperature_fallback=False, beam_size=1), 16))
        del runs[:]
        engine.cache.clear()
        engine.transcribe(original, speed="fast")
        del runs[:]
        reused = engine.transcribe(retake, speed="fast")
    assert len(runs) == 1 and (reused.origin, reused.speed) == ("model", "fast")
    assert reused.text == plain.text


@pytest.mark.speech
def test_unverified_trust_is_unsafe_by_name_and_answers_without_the_model(micro_model, speech, runs):
    original, retake = retake_of(speech)

    class Trusting(Relabelling):
        pass

    cache = Trusting(trust_fuzzy_hits_unverified=True)
    with Engine(micro_model, threads=1, cache=cache, warmup=False) as engine:
        engine.transcribe(original)
        wrong = engine.transcribe(retake)
    assert len(runs) == 1
    assert (wrong.origin, wrong.device) == ("cache-unverified", "cache")
    assert wrong.text == "turn off the kitchen lights"   # another phrase's text: why it is opt-in


@pytest.mark.speech
def test_on_candidate_is_called_before_the_verification_and_checked(micro_model, speech, runs):
    original, retake = retake_of(speech)
    order = []
    with Engine(micro_model, threads=1, cache=PhraseCache(), warmup=False) as engine:
        first = engine.transcribe(original)
        engine.transcribe(retake, on_candidate=lambda text: order.append((text, len(runs))))
        with pytest.raises(ArgumentError, match="on_candidate must be a callable, not str"):
            engine.transcribe(retake, on_candidate="print")
        engine.transcribe(original, on_candidate=lambda text: order.append("exact: never called"))
    assert order == [(first.text, 1)]


@pytest.mark.speech
def test_aborting_the_verification_raises(micro_model, speech):
    original, retake = retake_of(speech)
    with Engine(micro_model, threads=1, cache=PhraseCache(), warmup=False) as engine:
        engine.transcribe(original)
        with pytest.raises(TranscriptionAborted):
            engine.transcribe(retake, should_abort=lambda: True)
        assert engine.transcribe(retake).origin == "cache-verified"


@pytest.mark.speech
def test_audio_that_fills_the_window_is_not_verified_but_decoded(micro_model, speech, runs):
    phrase = speech.at_16k("turn on the kitchen lights", "en-us")
    long = np.concatenate([phrase] * int(np.ceil(31 * 16000 / len(phrase))))[:31 * 16000]
    with Engine(micro_model, threads=1, cache=Relabelling(), warmup=False) as engine:
        engine.transcribe(long)
        again = engine.transcribe(su.gain(long, 3.0))
    assert [o.audio_ctx for _, o, _ in runs] == [0, 0] and again.origin == "model"


# ----------------------------------------------------------------------------- what random weights show

class ReferenceDecoder:
    """pywhispercpp's own Model with the verification's parameters (one Model per parameter set)."""

    def __init__(self, model_path) -> None:
        self.path, self.models = str(model_path), {}

    def text(self, audio) -> str:
        planned = verification_options(DecodeOptions(n_threads=2), len(audio), 1500)[0]
        params = dict(audio_ctx=planned.audio_ctx, max_tokens=planned.max_tokens, temperature_inc=0.0)
        key = tuple(sorted(params.items()))
        if key not in self.models:
            self.models[key] = Model(self.path, n_threads=1, print_progress=False, **params)
        return " ".join(s.text.strip() for s in self.models[key].transcribe(audio) if s.text.strip())


@pytest.mark.speech
def test_acceptance_follows_the_reference_decode_of_this_audio_on_random_weights(micro_model, speech):
    """On the minimal pairs with real whisper.cpp: every candidate is accepted exactly when an
    independent decode of the query (pywhispercpp, the verification's parameters) has the
    candidate's words. Random weights decode the same words for different phrases, so here
    that is every candidate, false ones included: the rate is printed, not a safety claim."""
    cached_sides, asked_sides = su.pair_sides(0)
    cache = PhraseCache()
    voices = su.VOICES
    queries = [(p, take) for p in cached_sides + asked_sides for v in voices
               for take in (su.gain(speech.at_16k(p, v), 6.0), speech.at_16k(p, v, speed=192))]
    reference, outcomes = ReferenceDecoder(micro_model), []
    with Engine(micro_model, threads=1, cache=cache, warmup=False) as engine:
        for phrase in cached_sides:
            for voice in voices:
                engine.transcribe(speech.at_16k(phrase, voice))
        for phrase, take in queries:
            seen = []
            got = engine.transcribe(take, on_candidate=seen.append)
            if seen:
                outcomes.append((phrase in cached_sides, got.origin == "cache-verified",
                                 agrees(seen[0], reference.text(take))))
    assert outcomes and all(accepted == ref_agrees for _, accepted, ref_agrees in outcomes)
    false = [o for o in outcomes if not o[0]]
    print(f"\nmicro model: {len(outcomes)} candidates, {sum(o[1] for o in outcomes)} accepted; "
          f"{sum(o[1] for o in false)} of {len(false)} candidates of another phrase decode to the "
          "same words")


@pytest.mark.speech
def test_the_verification_decodes_greedily_and_on_segment_gets_the_answers_segment(micro_model, speech,
                                                                                  runs):
    original, retake = retake_of(speech)
    segments = []
    with Engine(micro_model, threads=1, cache=PhraseCache(), warmup=False) as engine:
        first = engine.transcribe(original, temperature=0.5)
        again = engine.transcribe(retake, temperature=0.5, on_segment=segments.append)
    assert [(o.temperature, o.temperature_fallback, o.audio_ctx) for _, o, _ in runs] == [
        (0.5, True, 0), (0.0, False, 256)]
    assert again.origin == "cache-verified" and again.text == first.text
    assert segments == list(again.segments) and len(segments) == 1
