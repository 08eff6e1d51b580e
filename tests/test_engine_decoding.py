"""Engine.transcribe(translate=..., temperature=...): whisper's translate task and starting
temperature, token for token what pywhispercpp's Model.transcribe decodes with the same parameters,
on one context and on a shared model's state alike."""

import math

import _pywhispercpp as pw
import pytest
from _engine_util import hello, reference_params
from lumina.testing import speechlike
from pywhispercpp.model import Model

from lumina import ArgumentError, Engine, PhraseCache


def _decoded(transcript):
    return [[(t.id, t.probability) for t in s.tokens] for s in transcript.segments]


def reference(path, audio, **params):
    """(token ids and probabilities per segment, language) from pywhispercpp's Model.transcribe."""
    model = Model(str(path), n_threads=2, print_progress=False, **reference_params(**params))
    model.transcribe(audio)
    ctx = model._ctx
    eot = pw.whisper_token_eot(ctx)
    segments = []
    for i in range(pw.whisper_full_n_segments(ctx)):
        data = (pw.whisper_full_get_token_data(ctx, i, j) for j in range(pw.whisper_full_n_tokens(ctx, i)))
        segments.append([(d.id, d.p) for d in data if d.id < eot])
    return segments, pw.whisper_lang_str(pw.whisper_full_lang_id(ctx))


def _fresh(path, shared):
    # No warm-up: whisper.cpp seeds a sampling generator once per context (or state) and sampling
    # at temperature > 0 draws from it, so a reference comparison needs both sides fresh.
    return Engine(path, threads=2, warmup=False, shared_weights=shared)


@pytest.fixture(scope="module")
def translated_reference(tiny_model):
    return reference(tiny_model, hello(), translate=True, language="de")


@pytest.mark.parametrize("shared", [False, True])
def test_translate_runs_whispers_translate_task(tiny_model, translated_reference, shared):
    with _fresh(tiny_model, shared) as engine:
        translated = engine.transcribe(hello(), translate=True, language="de")
    want, language = translated_reference
    assert _decoded(translated) == want and want[0]
    assert translated.language == language == "de"


def test_without_translate_the_decoder_writes_something_else(tiny_model, translated_reference):
    with Engine(tiny_model, threads=2, warmup=False) as engine:
        transcribed = engine.transcribe(hello(), language="de")
    assert _decoded(transcribed) != translated_reference[0]  # the task token changed the decode


def test_an_english_only_model_ignores_translate(micro_model):
    audio = hello()
    with Engine(micro_model, threads=2) as engine:
        assert _decoded(engine.transcribe(audio, translate=True)) == _decoded(engine.transcribe(audio))


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("temperature", [0.3, 0.7])
def test_temperature_is_whispers_starting_temperature(micro_model, shared, temperature):
    audio = hello()
    with _fresh(micro_model, shared) as engine:
        warm = engine.transcribe(audio, temperature=temperature)
    with _fresh(micro_model, shared) as engine:
        greedy = engine.transcribe(audio)
    want, _ = reference(micro_model, audio, temperature=temperature)
    assert _decoded(warm) == want
    # Sampling divides the logits by the temperature before the softmax, so below 1 the chosen
    # tokens are more probable than under greedy decoding (which uses the logits as they are).
    pairs = [(w.probability, g.probability) for ws, gs in zip(warm.segments, greedy.segments)
             for w, g in zip(ws.tokens, gs.tokens)]
    assert pairs and all(w > g for w, g in pairs)


def test_temperature_zero_is_the_default_decode(micro_model):
    audio = speechlike(2.0)
    with Engine(micro_model, threads=2) as engine:
        assert _decoded(engine.transcribe(audio, temperature=0)) == _decoded(engine.transcribe(audio))


def test_the_cache_keeps_translations_and_temperatures_apart(micro_model):
    audio = hello()
    with Engine(micro_model, threads=2, cache=PhraseCache()) as engine:
        engine.transcribe(audio)
        assert engine.transcribe(audio).from_cache
        assert not engine.transcribe(audio, translate=True).from_cache
        assert not engine.transcribe(audio, temperature=0.5).from_cache


@pytest.mark.parametrize("temperature", [-0.1, 1.01, math.nan, "0.5", True, None])
def test_a_temperature_outside_0_to_1_is_refused(micro_model, temperature):
    with Engine(micro_model, preload=False) as engine:
        with pytest.raises(ArgumentError, match="temperature"):
            engine.transcribe(hello(), temperature=temperature)


@pytest.mark.parametrize("translate", ["yes", 1, None])
def test_translate_must_be_a_bool(micro_model, translate):
    with Engine(micro_model, preload=False) as engine:
        with pytest.raises(ArgumentError, match="translate"):
            engine.transcribe(hello(), translate=translate)
