"""Shared helpers for engine tests: random-weight models and the reference path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pywhispercpp.model import Model
import _pywhispercpp as pw

from lumina.audio.files import load_audio


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Deterministic voiced-sounding audio: harmonics with a syllable envelope and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return (0.2 * voice * envelope + 0.005 * rng.standard_normal(len(t))).astype(np.float32)


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
