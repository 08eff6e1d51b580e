"""Temperature fallback only where it can pay, and lumina.testing's unsure and realistic-length models.

whisper.cpp's temperature fallback shows in ``RunResult.decoder_steps``: one
greedy pass samples one token per step; a fallback adds ``best_of`` (5)
sampled decoders per step of every retry.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from _engine_util import hello
from lumina.testing import speechlike
from lumina import Engine
from lumina.asr import backend
from lumina.asr.backend import DecodeOptions, WhisperModel
from lumina.asr.loading import WARMUP_AUDIO_CTX, warmup_audio
from lumina.asr.shared_model import SharedModel
from lumina.testing import make_model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """micro models: confident/unsure x short/realistic."""
    root = tmp_path_factory.mktemp("decoding")
    return {(d, n): make_model(root / f"{d}-{n}.bin", "micro", decoding=d, lengths=n)
            for d in ("confident", "unsure") for n in ("short", "realistic")}


@pytest.fixture(scope="module")
def tiny_realistic(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("decoding") / "tiny-real.bin", "tiny.en",
                      lengths="realistic")


class RunSpy:
    """Records (options, result) of every decode, on a context or a shared model's state."""

    def __init__(self, monkeypatch):
        self.calls: list[tuple[DecodeOptions, backend.RunResult]] = []
        for kind in (WhisperModel, SharedModel):
            monkeypatch.setattr(kind, "run", self._spying(kind.run))

    def _spying(self, real):
        def run(model, audio, options, *args, **kwargs):
            result = real(model, audio, options, *args, **kwargs)
            self.calls.append((options, result))
            return result
        return run


def _steps(path, audio, **options) -> int:
    model = WhisperModel(path)
    try:
        return model.run(audio, DecodeOptions(n_threads=2, language="en", **options)).decoder_steps
    finally:
        model.close()


def _tokens(transcript):
    return [(t.id, t.probability) for s in transcript.segments for t in s.tokens]


# ----------------------------------------------------------------------------- the backend switch

def test_temperature_fallback_false_sets_temperature_inc_to_zero():
    assert backend.full_params(DecodeOptions(n_threads=1)).temperature_inc == pytest.approx(0.2)
    assert backend.full_params(DecodeOptions(n_threads=1, temperature_fallback=False)).temperature_inc == 0.0


@pytest.mark.parametrize("decoding, greedy, with_fallback", [
    ("confident", 3, 3),   # passes the thresholds: no retry either way
    ("unsure", 3, 14),     # fails them: 3 greedy steps, then 5 decoders at temperature 0.2
])
def test_an_unsure_decode_is_retried_only_when_fallback_is_allowed(models, decoding, greedy, with_fallback):
    path = models[(decoding, "short")]
    audio = speechlike(2.0)
    assert _steps(path, audio, temperature_fallback=False) == greedy
    assert _steps(path, audio, temperature_fallback=True) == with_fallback


# ----------------------------------------------------------------------------- the engine's calls

def test_fast_mode_is_one_greedy_pass_and_accurate_mode_keeps_the_fallback(models, monkeypatch):
    spy = RunSpy(monkeypatch)
    audio = speechlike(2.0)
    with Engine(models[("unsure", "short")], threads=2, warmup=False) as engine:
        # greedy (beam_size=1), so that decoder steps count tokens of one decoder
        fast = engine.transcribe(audio, speed="fast", beam_size=1)
        accurate = engine.transcribe(audio, beam_size=1)
    (fast_options, fast_run), (accurate_options, accurate_run) = spy.calls
    assert fast.speed == "fast" and accurate.speed == "accurate"
    assert fast_options.temperature_fallback is False
    assert fast_run.decoder_steps == 3
    assert accurate_options.temperature_fallback is True
    assert accurate_run.decoder_steps == 14


def test_the_warm_up_is_one_greedy_pass(models, monkeypatch):
    path = models[("unsure", "short")]
    spy = RunSpy(monkeypatch)
    with Engine(path, threads=2) as engine:
        engine.wait_ready()
    [(options, result)] = spy.calls
    assert options.temperature_fallback is False
    assert options.audio_ctx == WARMUP_AUDIO_CTX
    # The same call with whisper.cpp's default would have retried at temperature 0.2.
    retried = dataclasses.replace(options, temperature_fallback=True)
    model = WhisperModel(path)
    try:
        assert model.run(warmup_audio(), retried).decoder_steps > result.decoder_steps == 2
    finally:
        model.close()


def test_fast_decodes_of_the_same_audio_are_identical_whatever_ran_before(models):
    # 5 s needs 282 frames: whisper.cpp attends to 512 rows and, before fast contexts were
    # whole blocks, 230 of them held keys from the previous call (13, 16 or 26 steps here).
    audio = speechlike(5.0)
    with Engine(models[("unsure", "realistic")], threads=2) as engine:
        first = engine.transcribe(audio, speed="fast")
        engine.transcribe(hello())  # accurate: a fallback that samples from the context's generator
        after_accurate = engine.transcribe(audio, speed="fast")
        engine.transcribe(speechlike(9.0, seed=2), speed="fast")  # a longer context first
        after_fast = engine.transcribe(audio, speed="fast")
    assert first.speed == after_accurate.speed == after_fast.speed == "fast"
    assert len(_tokens(first)) == 12
    assert _tokens(first) == _tokens(after_accurate) == _tokens(after_fast)


# ----------------------------------------------------------------------------- realistic lengths

def _text_tokens(engine, seconds: float, speed: str) -> int:
    transcript = engine.transcribe(speechlike(seconds), speed=speed)
    assert transcript.speed == speed
    return sum(len(s.tokens) for s in transcript.segments)


def test_realistic_lengths_follow_the_duration_as_documented(tiny_realistic):
    # The numbers lumina.models.synthetic_decoding documents for the tiny.en shape (seed 0).
    with Engine(tiny_realistic, threads=2) as engine:
        fast = [_text_tokens(engine, s, "fast") for s in (1, 2, 5, 10)]
        accurate = _text_tokens(engine, 5, "accurate")
    assert fast == [4, 7, 15, 28]
    assert accurate == 15


def test_short_models_stop_after_a_few_tokens_whatever_the_duration(tiny_en_model):
    with Engine(tiny_en_model, threads=2) as engine:
        assert [_text_tokens(engine, s, "fast") for s in (1, 10)] == [3, 3]


def test_realistic_lengths_count_sound_not_padding(models):
    # Digital silence after the speech is flat, like whisper.cpp's own padding: it adds no tokens.
    path = models[("confident", "realistic")]
    speech = speechlike(3.0)
    padded = np.concatenate([speech, np.zeros(16000 * 3, np.float32)])
    with Engine(path, threads=2) as engine:
        alone = engine.transcribe(speech)
        with_silence = engine.transcribe(padded)
    assert sum(len(s.tokens) for s in alone.segments) == sum(len(s.tokens) for s in with_silence.segments)


def test_the_full_window_decodes_of_a_fast_call_are_greedy_too(models, monkeypatch):
    spy = RunSpy(monkeypatch)
    with Engine(models[("unsure", "short")], threads=2, warmup=False) as engine:
        # beam_size=1: decoder steps then count the tokens of one greedy decoder
        long = engine.transcribe(np.tile(speechlike(2.0), 16), speed="fast", beam_size=1)  # fills the window
        monkeypatch.setattr("lumina.asr.engine.fast_result_suspect", lambda *a: True)
        redone = engine.transcribe(speechlike(2.0), speed="fast", beam_size=1)
    assert long.speed == redone.speed == "accurate"
    assert [options.temperature_fallback for options, _ in spy.calls] == [False, False, False]
    assert [options.audio_ctx for options, _ in spy.calls] == [0, 256, 0]
    assert spy.calls[-1][1].decoder_steps == 3  # 14 with the fallback (see above)


def test_the_warm_up_leaves_accurate_decodes_as_a_fresh_context_gives_them(tmp_path):
    # Six decoder layers: a 256-frame warm-up would write cross-attention rows that a full
    # window then attends to as padding (0.9556 -> 0.9563 for the token here).
    path = make_model(tmp_path / "base.bin", "base.en", decoding="unsure")
    audio = hello()
    fresh = WhisperModel(path)
    try:
        expected = [(t.id, t.p) for s in fresh.run(audio, DecodeOptions(n_threads=2, language="en")).segments
                    for t in s.tokens if not fresh.is_special(t.id)]
    finally:
        fresh.close()
    with Engine(path, threads=2) as engine:
        got = _tokens(engine.transcribe(audio))
    assert got == expected and len(got) == 1


def test_the_shared_weights_backend_counts_steps_and_skips_the_fallback_alike(models):
    from lumina.asr.model_pool import load_model

    audio = speechlike(2.0)
    model = load_model(models[("unsure", "short")], concurrency=2, shared_weights=True)
    try:
        greedy = model.run(audio, DecodeOptions(n_threads=2, language="en", temperature_fallback=False))
        retried = model.run(audio, DecodeOptions(n_threads=2, language="en"))
    finally:
        model.close()
    assert (greedy.decoder_steps, retried.decoder_steps) == (3, 14)
