"""Loading an engine's model: find it, choose the device, load it, warm it up.

:class:`~lumina.asr.engine.Engine` calls :func:`load_engine_model` on its
background thread; everything here runs there, before any call may use the
model.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path

import numpy as np

from lumina.asr.backend import DecodeOptions
from lumina.asr.model_protocol import WhisperDecoder
from lumina.asr.device import choose_device
from lumina.asr.model_pool import load_model
from lumina.asr.speed import FAST_MIN_TOKENS
from lumina.audio.convert import SAMPLE_RATE
from lumina.models.store import ModelStore

__all__ = ["LoadedModel", "WARMUP_AUDIO_CTX", "default_language", "load_engine_model", "warmup_audio"]

WARMUP_SECONDS = 1.0
# Measured: first call within ~1.1x of steady state. 220, not 256: whisper.cpp keeps the
# cross-attention keys of a full window in rows of 1536 (1500 padded) per layer and attends
# to the 36 padding rows unmasked; a 256-frame run lays layers out every 256 rows and, with
# six layers or more, writes its sixth layer's frames 220-255 exactly there, which changed
# every later accurate decode on the base.en shape. 220 frames never reach those rows.
WARMUP_AUDIO_CTX = 220


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A loaded model with its device, its file's identity (cache keys) and its load time."""

    model: WhisperDecoder
    device: str
    identity: tuple
    load_s: float


def load_engine_model(name: str, *, store: ModelStore, download: bool, device: str,
                      concurrency: int, shared_weights: bool | None,
                      warmup_threads: int | None) -> LoadedModel:
    """Find, validate, load and (with ``warmup_threads``) warm up the model ``name``.

    A GPU that fails to initialise leaves the model on the CPU with a
    :class:`RuntimeWarning` when ``device`` asked for one that should have worked.
    """
    started = time.perf_counter()
    path = _find_model(name, store, download)
    plan = choose_device(device)
    model = load_model(path, concurrency=concurrency, shared_weights=shared_weights,
                       use_gpu=plan.use_gpu)
    backend = model.gpu_backend or "cpu"
    if plan.use_gpu and backend == "cpu" and plan.warn_on_cpu:
        warnings.warn(f"GPU initialisation failed ({plan.reason}); running on the CPU",
                      RuntimeWarning, stacklevel=2)
    if warmup_threads is not None:
        for _ in range(model.concurrency):  # free slots are lent in turn: each warms once
            _warm_up(model, warmup_threads)
    stat = path.stat()
    identity = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return LoadedModel(model, backend, identity, time.perf_counter() - started)


def _find_model(name: str, store: ModelStore, download: bool) -> Path:
    if download and name in store.registry and not store.path(name).is_file():
        return store.download(name)
    return store.find(name)


def default_language(model: WhisperDecoder) -> str:
    """The language a call without one decodes: English on English-only models, else detection."""
    return "en" if model.english_only else "auto"


def _warm_up(model: WhisperDecoder, threads: int) -> None:
    """One short inference so the first real call pays no first-use costs.

    What is cold after loading is the thread pool, the weights in the CPU
    caches and first-touch page faults of the compute buffers (whisper.cpp
    reserves them at load for the full context). A run with a short encoder
    context touches all of that at a fraction of a full window's cost; the
    run's parameters are built for it alone, so nothing carries over. It is
    one greedy pass: on audio the model is unsure of, whisper.cpp's temperature
    fallback would decode it again with 5 sampled decoders at each of up to
    five temperatures, for nothing.
    """
    options = DecodeOptions(n_threads=threads, language=default_language(model),
                            audio_ctx=WARMUP_AUDIO_CTX, max_tokens=FAST_MIN_TOKENS,
                            temperature_fallback=False)
    model.run(warmup_audio(), options)


def warmup_audio() -> np.ndarray:
    """1 s of quiet noise: long enough that whisper.cpp runs encoder and decoder."""
    rng = np.random.default_rng(0)
    return (rng.standard_normal(int(WARMUP_SECONDS * SAMPLE_RATE)) * 0.01).astype(np.float32)
