"""Helpers of the shared-weights tests: whisper.cpp's low-level decode as an independent reference
for ``no_speech_prob``, and a model whose no-speech token is as likely as its best text token."""

from __future__ import annotations

import ctypes as C
import shutil
from pathlib import Path

import numpy as np

from lumina.asr import whisper_abi
from lumina.asr.shared_model import _context_params
from lumina.models.modelfile import tensor_table
from lumina.models.synthetic import SHAPES

_LOW_LEVEL = {
    "whisper_init_from_file_with_params": ([C.c_char_p, whisper_abi.ContextParams], C.c_void_p),
    "whisper_pcm_to_mel": ([C.c_void_p, C.POINTER(C.c_float), C.c_int, C.c_int], C.c_int),
    "whisper_encode": ([C.c_void_p, C.c_int, C.c_int], C.c_int),
    "whisper_decode": ([C.c_void_p, C.POINTER(C.c_int), C.c_int, C.c_int, C.c_int], C.c_int),
    "whisper_get_logits": ([C.c_void_p], C.POINTER(C.c_float)),
    "whisper_token_nosp": ([C.c_void_p], C.c_int),
    "whisper_token_sot": ([C.c_void_p], C.c_int),
    "whisper_n_vocab": ([C.c_void_p], C.c_int),
}


def _lib():
    lib = whisper_abi.library()
    for name, (args, result) in _LOW_LEVEL.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, result
    return lib


def first_step(path, audio: np.ndarray) -> tuple[np.ndarray, int]:
    """(probabilities of the first token after <|startoftranscript|>, the no-speech token id).

    Computed with whisper.cpp's step-by-step API (mel, encode, one decode of
    the English-only prompt), not through whisper_full: what
    ``whisper_full_get_segment_no_speech_prob`` must report for the first window.
    """
    lib = _lib()
    ctx = lib.whisper_init_from_file_with_params(str(path).encode(), _context_params(lib, False, 0, True))
    try:
        assert lib.whisper_pcm_to_mel(ctx, audio.ctypes.data_as(C.POINTER(C.c_float)), len(audio), 1) == 0
        assert lib.whisper_encode(ctx, 0, 1) == 0
        prompt = (C.c_int * 1)(lib.whisper_token_sot(ctx))
        assert lib.whisper_decode(ctx, prompt, 1, 0, 1) == 0
        n = lib.whisper_n_vocab(ctx)
        logits = np.ctypeslib.as_array(lib.whisper_get_logits(ctx), (n,)).astype(np.float64)
        nosp = lib.whisper_token_nosp(ctx)
    finally:
        lib.whisper_free(ctx)
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum(), nosp


def with_likely_no_speech(src, dst, arch: str, audio: np.ndarray) -> Path:
    """A copy of the English-only model ``src`` whose no-speech token ties with the best first token.

    The output layer is the token embedding, so copying the embedding row of
    the most likely first token into the no-speech token's row gives both the
    same logit: ``no_speech_prob`` becomes about half the best token's
    probability instead of underflowing to 0. whisper never samples the
    no-speech token, so the transcript's tokens stay as they were.
    """
    probs, nosp = first_step(src, audio)
    best = int(np.argmax(probs))
    dst = Path(dst)
    shutil.copyfile(src, dst)
    name, _, data_at, nbytes = next(t for t in tensor_table(dst) if t[0] == "decoder.token_embedding.weight")
    row = nbytes // SHAPES[arch].n_vocab
    with open(dst, "r+b") as f:
        f.seek(data_at + best * row)
        data = f.read(row)
        f.seek(data_at + nosp * row)
        f.write(data)
    return dst
