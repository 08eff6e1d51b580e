"""The phrase cache on real (synthetic) speech: hit rate on re-takes, zero false hits.

Speech comes from espeak-ng (tests/_speech_util.py), rendered once per session.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _speech_util as su
from lumina import PhraseCache, fingerprint

KEY = ("tiny.en", "sha256:0", "en")


@pytest.fixture(scope="session")
def bank(tmp_path_factory):
    return su.SpeechBank(tmp_path_factory.mktemp("speech"))


@pytest.fixture(scope="session")
def filled(bank):
    cache = PhraseCache()
    for i, phrase in enumerate(su.PHRASES):
        cache.put(bank.at_16k(phrase, su.VOICES[i % len(su.VOICES)]), KEY, phrase)
    return cache


@pytest.fixture(scope="session")
def retake_results(bank, filled):
    results = []
    for i, phrase in enumerate(su.PHRASES):
        for take in su.retakes(bank, phrase, su.VOICES[i % len(su.VOICES)], seed=i):
            results.append((phrase, take.label, filled.get(take.audio, KEY, sample_rate=take.sr)))
    return results


confusables = su.confusables


def test_phrase_set_is_large_enough():
    assert len(su.PHRASES) >= 40 and len(set(su.PHRASES)) == len(su.PHRASES)
    assert not set(su.NEAR_MISSES) & set(su.PHRASES)


@pytest.mark.speech
def test_retakes_never_return_another_phrase(retake_results):
    wrong = [(p, lab, got) for p, lab, got in retake_results if got is not None and got != p]
    assert wrong == []


@pytest.mark.speech
def test_retake_hit_rate_is_at_least_90_percent(retake_results):
    hits = sum(got == p for p, _, got in retake_results)
    assert len(retake_results) == 15 * len(su.PHRASES)
    assert hits / len(retake_results) >= 0.90


@pytest.mark.speech
@pytest.mark.parametrize("label", ["gain +6 dB", "gain -6 dB", "8 kHz", "22.05 kHz", "44.1 kHz",
                                   "48 kHz", "stereo", "padding 500/200 ms", "padding 100/500 ms"])
def test_every_take_of_these_kinds_hits(retake_results, label):
    results = [(p, got) for p, lab, got in retake_results if lab == label]
    assert len(results) == len(su.PHRASES)
    assert [p for p, got in results if got != p] == []


@pytest.mark.speech
def test_zero_false_hits_on_the_confusable_set(bank, filled):
    false_hits = [(name, got) for name, audio in confusables(bank)
                  if (got := filled.get(audio, KEY)) is not None]
    assert false_hits == []


@pytest.mark.speech
def test_identical_audio_is_always_an_exact_hit(bank):
    cache = PhraseCache()
    for i, phrase in enumerate(su.PHRASES[:10]):
        audio, sr = bank.render(phrase, su.VOICES[i % 4])
        cache.put(audio, KEY, phrase, sample_rate=sr)
    for i, phrase in enumerate(su.PHRASES[:10]):
        audio, sr = bank.render(phrase, su.VOICES[i % 4])
        assert cache.get(audio.copy(), KEY, sample_rate=sr) == phrase
    assert (cache.stats().exact_hits, cache.stats().fuzzy_hits) == (10, 0)


_TAKE_INDEX = st.integers(0, 14)
_PHRASE_INDEX = st.integers(0, len(su.PHRASES) - 1)


@pytest.mark.speech
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(i=_PHRASE_INDEX, j=_PHRASE_INDEX, t=_TAKE_INDEX)
def test_similarity_properties(bank, i, j, t):
    voice = su.VOICES[i % 4]
    ref = fingerprint(bank.at_16k(su.PHRASES[i], voice))
    take = su.retakes(bank, su.PHRASES[i], voice, seed=i)[t]
    again = fingerprint(take.audio, take.sr)
    other = fingerprint(bank.at_16k(su.PHRASES[j], su.VOICES[j % 4]))
    assert ref.similarity(ref) == 1.0
    assert ref.similarity(again) == again.similarity(ref)
    assert ref.similarity(other) == other.similarity(ref)
    assert 0.0 <= ref.similarity(other) <= 1.0
    if j != i and take.label != "combined":
        # Every single perturbation (noise included) leaves a take closer to its own phrase
        # than any different phrase is; the combined take (all at once) does not always:
        # 5 of its 44 takes fall below some other phrase (see lumina.cache's docstring).
        assert ref.similarity(again) > ref.similarity(other)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1, 1, width=32), min_size=0, max_size=3000), st.integers(0, 2**32 - 1))
def test_similarity_is_symmetric_and_bounded_on_arbitrary_audio(samples, seed):
    a = np.array(samples, dtype=np.float32)
    b = np.random.default_rng(seed).standard_normal(max(len(samples), 1)).astype(np.float32)
    fa, fb = fingerprint(a), fingerprint(b)
    assert fa.similarity(fa) == 1.0
    assert fa.similarity(fb) == fb.similarity(fa)
    assert 0.0 <= fa.similarity(fb) <= 1.0


@pytest.mark.speech
def test_report_calibration(bank, filled, retake_results, capsys):
    """Prints the numbers the module docstring quotes (always passes only if they hold)."""
    refs = {p: fingerprint(bank.at_16k(p, su.VOICES[i % 4])) for i, p in enumerate(su.PHRASES)}
    true = [refs[p].similarity(fingerprint(t.audio, t.sr))
            for i, p in enumerate(su.PHRASES) for t in su.retakes(bank, p, su.VOICES[i % 4], seed=i)]
    conf = [max(f.similarity(fingerprint(a)) for f in refs.values()) for _, a in confusables(bank)]
    hits = sum(got == p for p, _, got in retake_results) / len(retake_results)
    with capsys.disabled():
        hitting = min(s for s in true if s >= filled.threshold)
        print(f"\ncalibration: lowest re-take {min(true):.3f}, lowest hitting re-take {hitting:.3f}, "
              f"highest confusable {max(conf):.3f}, threshold {filled.threshold:.3f}, "
              f"hit rate {hits:.3f}, confusables {len(conf)}")
    assert max(conf) < filled.threshold
