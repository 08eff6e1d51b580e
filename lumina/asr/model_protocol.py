"""What every loaded whisper.cpp model offers the engine: one interface, three implementations.

:class:`~lumina.asr.backend.WhisperModel` (one context), :class:`~lumina.asr.shared_model.SharedModel`
(one set of weights, N states) and :class:`~lumina.asr.model_pool.ContextPool` (N contexts) all
satisfy :class:`WhisperDecoder`; :func:`lumina.asr.model_pool.load_model` picks one. Code above
the backend (engine, speeds, cache verification, loading) is typed against this protocol,
never against one class.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from lumina.asr.decode_data import DecodeOptions, RunResult, SegmentData

__all__ = ["WhisperDecoder"]


@runtime_checkable
class WhisperDecoder(Protocol):
    """A loaded model that decodes up to :attr:`concurrency` calls at a time.

    Attributes
    ----------
    path : Path
        The model file.
    concurrency : int
        Calls that may decode at the same time (more wait for a free one).
    shares_weights : bool
        Whether those calls share one copy of the weights (whisper.cpp states).
    fallback_reason : str or None
        Why shared weights were asked for but not used, else None.
    english_only : bool
        Whether the model is English-only.
    n_audio_ctx : int
        The encoder's full context in frames (1500: 30 s).
    load_log : tuple of str
        whisper.cpp's log lines while loading.
    gpu_backend : str or None
        The GPU backend whisper.cpp used, None on the CPU.
    """

    path: Path
    concurrency: int
    shares_weights: bool
    fallback_reason: str | None
    english_only: bool
    n_audio_ctx: int
    load_log: tuple[str, ...]
    gpu_backend: str | None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has freed the model."""

    @property
    def busy(self) -> int:
        """Calls decoding right now."""

    @property
    def max_busy(self) -> int:
        """The most calls that have decoded at the same time so far."""

    def run(self, audio: np.ndarray, options: DecodeOptions,
            should_abort: Callable[[], bool] | None = None,
            on_segment: Callable[[SegmentData], None] | None = None) -> RunResult:
        """Decode float32 mono 16 kHz ``audio`` (see :func:`lumina.asr.inference.run`)."""

    def is_special(self, token_id: int) -> bool:
        """Whether a token id is a special token (end-of-text and above)."""

    def close(self) -> None:
        """Free the model after the calls in progress; safe to call again from any thread."""
