"""What lumina assumes about the installed whisper.cpp, in one place: run this module first after
upgrading pywhispercpp. Each assumption is checked against the library itself; where lumina
guards against a violation (a version outside the tested range, a struct layout that moved), the
guard's fallback is checked too."""

import ctypes as C

import numpy as np
import pytest
from lumina.testing import speechlike

from lumina.asr import whisper_abi
from lumina.asr.backend import DecodeOptions, WhisperModel
from lumina.asr.model_pool import ContextPool, load_model
from lumina.asr.model_protocol import WhisperDecoder
from lumina.asr.shared_model import SharedModel
from lumina.asr.speed import FAST_MIN_AUDIO_CTX, fast_audio_ctx
from lumina.errors import BackendError


def test_the_installed_whisper_cpp_is_a_tested_version():
    version = whisper_abi.whisper_version(whisper_abi.library())
    assert version.startswith(whisper_abi.TESTED_VERSIONS), version


def test_an_untested_version_falls_back_to_contexts(micro_model, monkeypatch):
    lib = whisper_abi.library()
    monkeypatch.setattr(whisper_abi, "whisper_version", lambda _lib: "1.9.0")
    with pytest.raises(BackendError, match=r"whisper.cpp 1.9.0 is outside the versions .* \(1.8.x\)"):
        whisper_abi.check_version(lib)
    monkeypatch.setattr(whisper_abi, "library", lambda: whisper_abi.check_version(lib))
    model = load_model(micro_model)
    try:
        assert type(model) is WhisperModel and "1.9.0" in model.fallback_reason
    finally:
        model.close()


def test_the_ctypes_layout_matches_the_binding():
    whisper_abi.check_layout(whisper_abi.library())  # raises naming the fields that differ


def test_exactly_one_libwhisper_is_mapped():
    lib = whisper_abi.library()
    assert len(whisper_abi.mapped_libwhisper()) == 1
    assert C.cast(lib.whisper_full_with_state, C.c_void_p).value


@pytest.mark.parametrize("make", [lambda p: WhisperModel(p), lambda p: SharedModel(p, 2),
                                  lambda p: ContextPool(p, 2)])
def test_every_model_class_is_a_whisper_decoder(micro_model, make):
    model = make(micro_model)
    try:
        assert isinstance(model, WhisperDecoder)
        assert model.busy == 0 and model.max_busy == 0 and model.fallback_reason is None
        model.run(speechlike(1.0), DecodeOptions(n_threads=1, language="en"))
        assert model.busy == 0 and model.max_busy == 1
        assert model.shares_weights is isinstance(model, SharedModel)
    finally:
        model.close()
    assert model.closed


def test_fast_contexts_are_whole_blocks_of_256_frames():
    # whisper.cpp 1.8.5 pads the encoder's and cross-attention's rows to 256 and leaves the
    # padding unmasked: a context of another size reads rows an earlier call wrote.
    for seconds in (0.2, 1.0, 4.4, 9.9, 20.0):
        ctx = fast_audio_ctx(int(seconds * 16000))
        assert ctx % FAST_MIN_AUDIO_CTX == 0 or ctx == 1500


def test_a_fast_decode_depends_on_its_own_audio_only(tiny_en_model):
    """The guarantee whole blocks buy: a fast decode gives the same tokens after any other call."""
    model = SharedModel(tiny_en_model, 1)
    audio = speechlike(3.0, seed=5)
    options = DecodeOptions(n_threads=2, language="en", audio_ctx=fast_audio_ctx(len(audio)),
                            temperature_fallback=False)
    try:
        first = model.run(audio, options)
        model.run(speechlike(9.0, seed=6), DecodeOptions(n_threads=2, language="en"))
        again = model.run(audio, options)
    finally:
        model.close()
    assert [t.id for s in again.segments for t in s.tokens] == \
        [t.id for s in first.segments for t in s.tokens]
    assert np.isfinite(again.encode_s)
