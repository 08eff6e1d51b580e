"""Engine + PhraseCache: repeated phrases are answered from the cache, never with wrong text."""

import lumina.evaluation.phrases as su
import numpy as np
import pytest

from lumina.cache import UNVERIFIED_THRESHOLD
from lumina import Engine, PhraseCache

pytestmark = pytest.mark.speech


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return su.SpeechBank(tmp_path_factory.mktemp("engine-cache-speech"))


def test_identical_audio_is_an_exact_hit_with_the_models_text(micro_model, speech):
    audio = speech.at_16k("send the email", "en-us")
    cache = PhraseCache()
    with Engine(micro_model, cache=cache) as engine:
        first = engine.transcribe(audio)
        second = engine.transcribe(audio.copy())
    assert (first.from_cache, second.from_cache) == (False, True)
    assert (first.origin, second.origin) == ("model", "cache-exact")
    assert second.text == first.text != ""
    stats = cache.stats()
    assert (stats.lookups, stats.exact_hits, stats.fuzzy_hits, stats.misses) == (2, 1, 0, 1)


def test_a_retake_at_another_speed_and_gain_is_a_verified_fuzzy_hit(micro_model, speech):
    cache = PhraseCache()
    with Engine(micro_model, cache=cache) as engine:
        first = engine.transcribe(speech.at_16k("new paragraph", "en-us"))
        retake = su.gain(speech.at_16k("new paragraph", "en-us", speed=160), 4.0)
        again = engine.transcribe(retake)
    # The micro model decodes the retake (short context, greedy) to the cached words.
    assert (again.from_cache, again.origin, again.text) == (True, "cache-verified", first.text)
    assert cache.stats().fuzzy_hits == 1


def test_a_different_phrase_or_other_options_run_the_model(micro_model, speech):
    # At the fingerprint-only bar, "send the emails" is no candidate for "send the email". (At the
    # default bar it is, and random weights, which decode the same words for both, would confirm
    # it: whether the model tells them apart is tested with a word-faithful model, test_cache_eval.)
    cache = PhraseCache(threshold=UNVERIFIED_THRESHOLD)
    with Engine(micro_model, cache=cache) as engine:
        engine.transcribe(speech.at_16k("send the email", "en-us"))
        other = engine.transcribe(speech.at_16k("send the emails", "en-us"))
        prompted = engine.transcribe(speech.at_16k("send the email", "en-us"), prompt="Dear Sam")
        fast = engine.transcribe(speech.at_16k("send the email", "en-us"), speed="fast")
    assert [t.from_cache for t in (other, prompted, fast)] == [False, False, False]
    assert cache.stats().misses == 4


def test_cache_true_makes_an_in_memory_cache(micro_model, speech):
    audio = speech.at_16k("full stop", "en-gb")
    with Engine(micro_model, cache=True) as engine:
        assert isinstance(engine.cache, PhraseCache)
        engine.transcribe(audio)
        assert engine.transcribe(audio).from_cache


def test_a_persistent_cache_answers_a_new_engine(micro_model, speech, tmp_path):
    audio = speech.at_16k("sign off", "en-us")
    with Engine(micro_model, cache=PhraseCache(path=tmp_path / "cache" / "phrases.db")) as engine:
        text = engine.transcribe(audio).text
    with Engine(micro_model, cache=PhraseCache(path=tmp_path / "cache" / "phrases.db")) as engine:
        again = engine.transcribe(audio)
    assert again.from_cache and again.text == text


def test_silence_does_not_match_a_cached_phrase(micro_model, speech):
    cache = PhraseCache()
    with Engine(micro_model, cache=cache) as engine:
        engine.transcribe(speech.at_16k("send it", "en-us"))
        silent = engine.transcribe(np.zeros(16000, np.float32))
    assert not silent.from_cache
