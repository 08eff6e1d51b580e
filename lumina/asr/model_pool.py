"""Loading the model an :class:`~lumina.Engine` decodes on, for one or several calls at a time.

========================  =====================================================
``shared_weights=True``    one :class:`~lumina.asr.shared_model.SharedModel`:
(the default)              the weights once, one whisper.cpp state per call
                           that may run at the same time; it also reads each
                           segment's ``no_speech_prob``, which the
                           non-speech filter needs (:mod:`lumina.asr.speech_filter`)
``shared_weights=False``   one :class:`~lumina.asr.backend.WhisperModel` (one
                           whisper.cpp context) for ``concurrency=1``, else a
                           :class:`ContextPool` of N contexts (N copies of the
                           weights); also the fallback when the state API
                           cannot be used safely (the reason is logged on
                           ``lumina.whisper`` and kept in ``fallback_reason``)
========================  =====================================================

All three have the same ``run(audio, options, should_abort, on_segment)``
and decode the same tokens; a call that finds every state busy waits for one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lumina.asr.backend import DecodeOptions, RunResult, SegmentData, WhisperModel
from lumina.asr.slots import Slots
from lumina.errors import BackendError

__all__ = ["ContextPool", "load_model"]

_log = logging.getLogger("lumina.whisper")


def load_model(path: str | Path, *, concurrency: int = 1, shared_weights: bool | None = None,
               use_gpu: bool = False):
    """The model for ``concurrency`` simultaneous calls (see the module documentation).

    Raises
    ------
    BackendError
        whisper.cpp could not load the model (a failed layout check of the
        state API is not an error: it falls back to contexts).
    """
    if shared_weights is None:  # the state API also reads no_speech_prob (lumina.asr.speech_filter)
        shared_weights = True
    reason = None
    if shared_weights:
        from lumina.asr import whisper_abi
        from lumina.asr.shared_model import SharedModel
        try:
            whisper_abi.library()
        except BackendError as exc:
            reason = str(exc)
            _log.warning("one model with %d states is not possible here, loading %d contexts "
                         "instead: %s", concurrency, concurrency, exc)
        else:
            return SharedModel(path, concurrency, use_gpu=use_gpu)
    if concurrency == 1:
        return WhisperModel(path, use_gpu=use_gpu, fallback_reason=reason)
    return ContextPool(path, concurrency, use_gpu=use_gpu, fallback_reason=reason)


class ContextPool:
    """N whisper.cpp contexts of one model file (N copies of the weights), one call each at a time.

    Parameters
    ----------
    path : str or Path
        A validated ggml model file.
    concurrency : int
        Contexts, i.e. calls that may run at the same time.
    use_gpu : bool
        As in :class:`~lumina.asr.backend.WhisperModel`.
    fallback_reason : str, optional
        Why shared weights were not used (None when contexts were asked for).
    """

    shares_weights = False

    def __init__(self, path: str | Path, concurrency: int, *, use_gpu: bool = False,
                 fallback_reason: str | None = None) -> None:
        models: list[WhisperModel] = []
        try:
            for _ in range(concurrency):
                models.append(WhisperModel(path, use_gpu=use_gpu))
        except BaseException:
            for model in models:
                model.close()
            raise
        first = models[0]
        self._models = models
        self._slots = Slots(models)
        self._close_lock = threading.Lock()
        self.concurrency = concurrency
        self.fallback_reason = fallback_reason
        self.path, self.load_log, self.gpu_backend = first.path, first.load_log, first.gpu_backend
        self.english_only, self.n_audio_ctx = first.english_only, first.n_audio_ctx

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has freed the contexts."""
        return all(m.closed for m in self._models)

    @property
    def busy(self) -> int:
        """Contexts decoding right now."""
        return self._slots.busy

    @property
    def max_busy(self) -> int:
        """The most contexts that have decoded at the same time so far."""
        return self._slots.max_busy

    def run(self, audio: np.ndarray, options: DecodeOptions,
            should_abort: Callable[[], bool] | None = None,
            on_segment: Callable[[SegmentData], None] | None = None) -> RunResult:
        """:meth:`WhisperModel.run <lumina.asr.backend.WhisperModel.run>` on a free context."""
        with self._slots.lend() as model:
            return model.run(audio, options, should_abort, on_segment)

    def is_special(self, token_id: int) -> bool:
        """Whether a token id is a special token."""
        return self._models[0].is_special(token_id)

    def close(self) -> None:
        """Free every context after the calls in progress; a second call, from any thread,
        returns once the first has freed them."""
        with self._close_lock:
            for model in self._slots.close():
                model.close()
