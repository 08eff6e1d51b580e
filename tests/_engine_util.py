"""Shared helpers for engine tests: random-weight models and the reference path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pywhispercpp.model import Model
import _pywhispercpp as pw

from lumina.audio.files import load_audio


def reference_params(beam_size: int | None = None, **params) -> dict:
    """pywhispercpp Model parameters of an accurate call with ``beam_size`` beams (default the
    accurate default, lumina.asr.speed.DEFAULT_BEAM_SIZE): whisper.cpp's beam-search strategy
    above 1 beam, its greedy one otherwise; ``params`` added."""
    from lumina.asr.speed import beam_size_for

    beams = beam_size_for("accurate", beam_size)
    if beams > 1:
        params = {"params_sampling_strategy": 1,
                  "beam_search": {"beam_size": beams, "patience": -1.0}} | params
    return params


def reference_tokens(model_path, audio: np.ndarray, beam_size: int | None = None,
                     **params) -> list[list[int]]:
    """Token ids per segment from pywhispercpp's own Model.transcribe (the reference path), less
    the segments lumina's speech filter drops (lumina.asr.speech_filter: what nobody said), so
    "equal tokens" means whisper.cpp's own decode, then lumina's documented filter.

    ``beam_size`` defaults to an accurate call's (lumina.asr.speed.DEFAULT_BEAM_SIZE); above 1
    the reference uses whisper.cpp's beam-search parameters with that many beams. Each call makes
    a new Model, so its random generators start at their seeds, as an engine's sampling calls do.
    """
    from lumina.asr.decode_data import SegmentData, TokenData
    from lumina.asr.speech_filter import SpeechFilter

    model = Model(str(model_path), n_threads=2, print_progress=False,
                  **reference_params(beam_size, **params))
    model.transcribe(audio)
    ctx = model._ctx
    eot = pw.whisper_token_eot(ctx)
    speech_filter = SpeechFilter(lambda token: token >= eot, len(audio) / 16000)
    segments = []
    for i in range(pw.whisper_full_n_segments(ctx)):
        tokens = tuple(TokenData(pw.whisper_full_get_token_id(ctx, i, j), _token_text(ctx, i, j),
                                 pw.whisper_full_get_token_p(ctx, i, j), 0.0, 0.0)
                       for j in range(pw.whisper_full_n_tokens(ctx, i)))
        data = SegmentData(pw.whisper_full_get_segment_t0(ctx, i) / 100,
                           pw.whisper_full_get_segment_t1(ctx, i) / 100,
                           pw.whisper_full_get_segment_text(ctx, i).decode("utf-8", "replace"), tokens)
        kept = speech_filter.clean(data).data
        if kept is not None:
            segments.append([t.id for t in kept.tokens if t.id < eot])
    return segments


def _token_text(ctx, i: int, j: int) -> str:
    return pw.whisper_token_to_bytes(ctx, pw.whisper_full_get_token_id(ctx, i, j)).decode("utf-8", "replace")


HELLO_WAV = Path(__file__).resolve().parent.parent / "examples" / "hello.wav"


def hello() -> np.ndarray:
    """The 4.7 s espeak-ng recording shipped in examples/, as float32 16 kHz."""
    return load_audio(HELLO_WAV)
