"""One whisper.cpp model in memory, decoding several audio streams at once.

whisper.cpp keeps a model's weights in a *context* and everything one
decode writes (KV caches, compute buffers, mel, results) in a *state*. A
:class:`SharedModel` loads the weights once (``whisper_init_from_file_with_params_no_state``)
and makes N states (``whisper_init_state``); each call borrows a free state
for its ``whisper_full_with_state`` and gives it back, so up to N calls run
at the same time (ctypes releases the GIL around the call) while the weights
exist once. Measured on tiny.en: about 62 MiB per extra state against 139 MiB
per extra context (``benchmarks/compare_shared_state.py``).

Results equal :class:`lumina.asr.backend.WhisperModel`'s: the parameters are
built by the same function and copied field by field into whisper.cpp's
structure (:func:`lumina.asr.whisper_abi.full_params_from`); the same stage
clock times the call; abort, timings and read-back follow
:meth:`WhisperModel.run <lumina.asr.backend.WhisperModel.run>`. The state path
also reads each segment's ``no_speech_prob``, which pywhispercpp's binding cannot.

The library is reached through ctypes (:mod:`lumina.asr.whisper_abi`); when
its layout check fails, :func:`lumina.asr.model_pool.load_model` falls back to
one context per concurrent call.
"""

from __future__ import annotations

import ctypes as C
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lumina.asr import whisper_abi as abi
from lumina.asr.backend import (_CENTISECOND, _LOG_ERROR, DecodeOptions, RunResult, SegmentData,
                                TokenData, _full_params, _gpu_backend_in, _install_log_capture,
                                _logs, _StageClock)
from lumina.asr.slots import Slots
from lumina.errors import ArgumentError, BackendError

__all__ = ["SharedModel"]


class SharedModel:
    """One set of weights, ``concurrency`` whisper.cpp states; each state serves one thread at a time.

    Parameters
    ----------
    path : str or Path
        A ggml model file, validated first (:func:`lumina.models.validate_model_file`).
    concurrency : int
        States, i.e. calls that may run at the same time (at least 1).
    use_gpu, gpu_device, flash_attn :
        As in :class:`~lumina.asr.backend.WhisperModel`.

    Raises
    ------
    BackendError
        The state API is unusable (see :func:`lumina.asr.whisper_abi.library`),
        or whisper.cpp could not load the model or make a state.
    """

    shares_weights = True

    def __init__(self, path: str | Path, concurrency: int, *, use_gpu: bool = False,
                 gpu_device: int = 0, flash_attn: bool = True) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ArgumentError(f"concurrency must be an int >= 1, got {concurrency!r}")
        lib = abi.library()
        params = _context_params(lib, use_gpu, gpu_device, flash_attn)
        _install_log_capture()  # whisper.cpp reports load failures only through its log
        with _logs.capture() as captured:
            ctx = lib.whisper_init_from_file_with_params_no_state(os.fsencode(path), params)
            states = [lib.whisper_init_state(ctx) for _ in range(concurrency)] if ctx else []
        errors = [text for level, text in captured.lines if level >= _LOG_ERROR and text]
        if not ctx or not all(states) or errors:
            _free(lib, ctx, states)
            raise BackendError(f"whisper.cpp could not load {path} with {concurrency} states: "
                               + ("; ".join(errors) or "unknown error"))
        self._lib = lib
        self._ctx = ctx
        self._slots = Slots(states)
        self._close_lock = threading.Lock()
        self.concurrency = concurrency
        self.path = Path(path)
        self.load_log = tuple(text for _, text in captured.lines)
        self.gpu_backend = _gpu_backend_in(self.load_log) if use_gpu else None
        self.english_only = not lib.whisper_is_multilingual(ctx)
        self.n_audio_ctx = lib.whisper_model_n_audio_ctx(ctx)
        self._eot = lib.whisper_token_eot(ctx)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has freed the model."""
        return self._ctx is None

    @property
    def busy(self) -> int:
        """States decoding right now."""
        return self._slots.busy

    @property
    def max_busy(self) -> int:
        """The most states that have decoded at the same time so far."""
        return self._slots.max_busy

    def run(self, audio: np.ndarray, options: DecodeOptions,
            should_abort: Callable[[], bool] | None = None,
            on_segment: Callable[[SegmentData], None] | None = None) -> RunResult:
        """Transcribe float32 mono 16 kHz audio on a free state (waiting for one if all are busy).

        Same contract as :meth:`lumina.asr.backend.WhisperModel.run`; segments
        carry ``no_speech_prob``.
        """
        if audio.dtype != np.float32 or audio.ndim != 1 or not audio.flags.c_contiguous:
            raise BackendError("audio must be a C-contiguous 1-D float32 array")
        params = _full_params(options)
        marks = _StageClock(params)  # driven by the ctypes callbacks below, not by the binding's
        call = _Callbacks(self._lib, marks, should_abort, on_segment, options.token_timestamps)
        cparams = abi.full_params_from(self._lib, params)
        call.install(cparams)
        samples = audio.ctypes.data_as(C.POINTER(C.c_float))
        with self._slots.lend() as state:
            marks.start()
            status = self._lib.whisper_full_with_state(self._ctx, state, cparams, samples, len(audio))
            marks.stop()
            call.raise_error()
            if status != 0 and not call.aborted:
                raise BackendError(f"whisper_full_with_state failed with status {status}")
            segments = () if call.aborted else self._segments(state, options.token_timestamps)
            language = _language(self._lib, state)
        return RunResult(segments, language, *marks.stages(), call.aborted, marks.decoder_steps)

    def _segments(self, state, with_times: bool) -> tuple[SegmentData, ...]:
        n = self._lib.whisper_full_n_segments_from_state(state)
        return tuple(_segment(self._lib, self._ctx, state, i, with_times) for i in range(n))

    def is_special(self, token_id: int) -> bool:
        """Whether a token id is a special token (end-of-text and above)."""
        return token_id >= self._eot

    def close(self) -> None:
        """Free the states and the model after the calls in progress.

        Calling it again, from any thread, returns once the first call has freed everything;
        nothing is freed twice.
        """
        with self._close_lock:
            if self._ctx is None:
                return
            states = self._slots.close()  # waits for the decodes in progress
            _free(self._lib, self._ctx, states)
            self._ctx = None

    def __repr__(self) -> str:
        return f"SharedModel({str(self.path)!r}, concurrency={self.concurrency})"


class _Callbacks:
    """whisper.cpp's callbacks of one call, as ctypes functions kept alive for the call's length.

    A Python exception must not unwind through whisper.cpp: one raised by
    ``should_abort`` or ``on_segment`` is kept, stops the call, and is raised
    after it returns (:meth:`raise_error`).
    """

    def __init__(self, lib, marks: _StageClock, should_abort, on_segment, with_times: bool) -> None:
        self._lib = lib
        self._marks = marks
        self._should_abort = should_abort
        self._on_segment = on_segment
        self._with_times = with_times
        self._error: BaseException | None = None
        self._keep: list = []
        self.aborted = False

    def install(self, params: abi.FullParams) -> None:
        params.encoder_begin_callback = self._c(abi.ENCODER_BEGIN, self._encoder_begin)
        params.logits_filter_callback = self._c(abi.LOGITS_FILTER, self._logits)
        if self._should_abort is not None or self._on_segment is not None:
            params.abort_callback = self._c(abi.ABORT, self._abort)  # polled often: only when needed
        if self._on_segment is not None:
            params.new_segment_callback = self._c(abi.NEW_SEGMENT, self._new_segment)

    def _c(self, kind, fn) -> int:
        made = kind(fn)
        self._keep.append(made)
        return C.cast(made, C.c_void_p).value

    def _encoder_begin(self, ctx, state, user_data) -> bool:
        self._marks._on_encode()
        return not self.aborted

    def _logits(self, *_: object) -> None:
        self._marks._on_logits()

    def _abort(self, user_data) -> bool:
        if not self.aborted and self._should_abort is not None:
            try:
                self.aborted = bool(self._should_abort())
            except BaseException as exc:  # kept and raised after the call
                self._error, self.aborted = exc, True
        return self.aborted

    def _new_segment(self, ctx, state, n_new: int, user_data) -> None:
        if self._error is not None:
            return
        try:
            n = self._lib.whisper_full_n_segments_from_state(state)
            for i in range(n - n_new, n):
                self._on_segment(_segment(self._lib, ctx, state, i, self._with_times))
        except BaseException as exc:  # kept and raised after the call
            self._error, self.aborted = exc, True

    def raise_error(self) -> None:
        if self._error is not None:
            raise self._error


def _segment(lib, ctx, state, i: int, with_times: bool) -> SegmentData:
    """Segment ``i`` of a state's result, read as :func:`lumina.asr.backend._segment` reads a context's."""
    tokens = []
    for j in range(lib.whisper_full_n_tokens_from_state(state, i)):
        data = lib.whisper_full_get_token_data_from_state(state, i, j)
        start, end = (data.t0 * _CENTISECOND, data.t1 * _CENTISECOND) if with_times else (0.0, 0.0)
        text = (lib.whisper_token_to_str(ctx, data.id) or b"").decode("utf-8", "replace")
        tokens.append(TokenData(data.id, text, float(data.p), start, end))
    text = (lib.whisper_full_get_segment_text_from_state(state, i) or b"").decode("utf-8", "replace")
    return SegmentData(lib.whisper_full_get_segment_t0_from_state(state, i) * _CENTISECOND,
                       lib.whisper_full_get_segment_t1_from_state(state, i) * _CENTISECOND,
                       text, tuple(tokens),
                       float(lib.whisper_full_get_segment_no_speech_prob_from_state(state, i)))


def _language(lib, state) -> str | None:
    code = lib.whisper_lang_str(lib.whisper_full_lang_id_from_state(state))
    return code.decode() if code is not None else None


def _context_params(lib, use_gpu: bool, gpu_device: int, flash_attn: bool) -> abi.ContextParams:
    ref = lib.whisper_context_default_params_by_ref()
    try:
        params = abi.ContextParams.from_buffer_copy(ref.contents)
    finally:
        lib.whisper_free_context_params(ref)
    params.use_gpu, params.gpu_device, params.flash_attn = use_gpu, gpu_device, flash_attn
    return params


def _free(lib, ctx, states) -> None:
    for state in states:
        if state:
            lib.whisper_free_state(state)
    if ctx:
        lib.whisper_free(ctx)
