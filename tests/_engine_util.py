"""Shared helpers for engine tests: random-weight models and the reference path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pywhispercpp.model import Model
import _pywhispercpp as pw

from lumina.audio.files import load_audio


def reference_tokens(model_path, audio: np.ndarray, **params) -> list[list[int]]:
    """Token ids per segment from pywhispercpp's own Model.transcribe (the reference path)."""
    model = Model(str(model_path), n_threads=2, print_progress=False, **params)
    model.transcribe(audio)
    ctx = model._ctx
    eot = pw.whisper_token_eot(ctx)
    segments = []
    for i in range(pw.whisper_full_n_segments(ctx)):
        ids = (pw.whisper_full_get_token_id(ctx, i, j) for j in range(pw.whisper_full_n_tokens(ctx, i)))
        segments.append([t for t in ids if t < eot])
    return segments


HELLO_WAV = Path(__file__).resolve().parent.parent / "examples" / "hello.wav"


def hello() -> np.ndarray:
    """The 4.7 s espeak-ng recording shipped in examples/, as float32 16 kHz."""
    return load_audio(HELLO_WAV)
