"""The phrase cache with the real tiny.en on natural speech (hibari-tts): an answer from the cache
has the words the model itself reads in that audio, and re-takes are answered.

``python benchmarks cache_real`` measures the whole phrase set; these tests check a few phrases
with exact outcomes.
"""

import numpy as np
import pytest

import lumina.evaluation.phrases as su
from lumina.evaluation.phrases import FrozenCache
from lumina import Engine, PhraseCache
from lumina.asr.backend import DecodeOptions, WhisperModel
from lumina.asr.cached import verify, words
from lumina.audio.convert import to_mono
from lumina.cache import DEFAULT_THRESHOLD, UNVERIFIED_THRESHOLD
from lumina.evaluation import HIBARI_VOICES

pytestmark = pytest.mark.real

PHRASES = ("close the window", "thank you very much", "best regards", "call me back")


def _original(speech, phrase):
    return speech.render(phrase, HIBARI_VOICES[0])


@pytest.fixture(scope="module")
def answered(real_tiny_en, real_engine, speech):
    """Every hibari re-take of PHRASES: (phrase, kind, the cached engine's transcript, the
    model's own transcript). The cache holds the originals only (it learns nothing from re-takes)."""
    cache = FrozenCache()
    rows = []
    with Engine(real_tiny_en, threads=2, cache=cache) as engine:
        for phrase in PHRASES:
            assert engine.transcribe(_original(speech, phrase)).origin == "model"
        cache.frozen = True
        for i, phrase in enumerate(PHRASES):
            for take in su.hibari_retakes(speech, phrase, seed=i):
                rows.append((phrase, take.label, engine.transcribe(take.audio, sample_rate=take.sr),
                             real_engine.transcribe(take.audio, sample_rate=take.sr)))
    return rows


def test_every_answer_from_the_cache_has_the_models_own_words(answered):
    from_cache = [(p, kind, got.text, own.text) for p, kind, got, own in answered if got.origin != "model"]
    assert len(answered) == 15 * len(PHRASES)
    assert [r for r in from_cache if words(r[2]) != words(r[3])] == []
    assert {got.origin for *_, got, _ in answered} <= {"model", "cache-verified", "cache-exact"}


def test_single_changes_are_answered_from_the_cache(answered):
    """Gain, noise, padding, sample rate, channels, tempo and pitch: every re-take of these four
    phrases that changes one thing comes from the cache but one ("best regards" 10% slower: the
    greedy check misreads it, "Wester Guards", so the model's own reading answers). The take with every change at once (pitch, tempo, gain, noise, padding, 48 kHz
    stereo) is too far from the original for the fingerprint."""
    missed = [(p, kind) for p, kind, got, _ in answered if got.origin == "model"]
    assert missed == [("close the window", "combined"), ("thank you very much", "combined"),
                      ("best regards", "tempo -10%"), ("best regards", "combined"),
                      ("call me back", "combined")]


def test_a_greedy_loop_on_the_cached_phrase_confirms_it(real_tiny_en, speech):
    """Louder by 6 dB, "close the window" makes the greedy fast decode loop ("Close the window.
    Close the window. Close the window. Close the window", 15 tokens in 1.5 s of audio). The
    speech filter keeps the first reading, so the verification confirms the cached text; before,
    it dropped the whole segment and the re-take was a miss with an empty text."""
    take = su.hibari_retakes(speech, "close the window", seed=0)[4]
    assert take.label == "gain +6 dB"
    samples = np.ascontiguousarray(to_mono(take.audio, take.sr))
    model = WhisperModel(real_tiny_en)
    try:
        options = DecodeOptions(n_threads=2, language="en")
        looped = verify(model, samples, options, "Close the window.")
        other = verify(model, samples, options, "Close the door.")
        read = [t.text for s in looped.result.segments for t in s.tokens if not model.is_special(t.id)]
    finally:
        model.close()
    assert read.count(" window") == 4 and len(read) == 15
    assert (looped.text, looped.suspect, looped.agreed) == ("Close the window.", False, True)
    assert other.agreed is False


def test_the_calibration_of_the_verified_threshold_holds(speech):
    """The numbers lumina.cache.phrase_cache's docstring quotes for the hibari-tts set, at the
    fingerprint stage (which entry each re-take and near miss is offered as a candidate)."""
    key = ("tiny.en", "en")
    found = {}
    for threshold in (DEFAULT_THRESHOLD, UNVERIFIED_THRESHOLD):
        cache = PhraseCache(threshold=threshold)
        for phrase in su.PHRASES:
            cache.put(_original(speech, phrase), key, phrase)
        offered = [(phrase, cache.match(take.audio, key, sample_rate=take.sr).text)
                   for i, phrase in enumerate(su.PHRASES) for take in su.hibari_retakes(speech, phrase, seed=i)]
        near = [cache.match(_original(speech, miss), key).text for miss in su.NEAR_MISSES]
        found[threshold] = (len(offered), sum(p == got for p, got in offered),
                            sum(got not in (None, p) for p, got in offered), sum(got is not None for got in near))
    assert found == {0.30: (660, 605, 4, 5), 0.44: (660, 459, 1, 1)}
