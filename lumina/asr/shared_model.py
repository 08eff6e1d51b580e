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

Calls that sample get a fresh state. whisper.cpp's beam search draws its candidates
from the token distribution (``whisper_sample_token_topk``), and its temperature
fallback samples too, with a random generator per decoder; the generators of
decoders 1..n are re-seeded at every call but decoder 0's is seeded once, when the
state is made, and runs on from call to call. Reusing a state, the same audio then gave
different text depending on the calls before (11 of 24 espeak-ng sentences at
``beam_size=5``). A state made for the call starts every generator at its seed, so the
same audio and options give the same text, as in a fresh whisper.cpp process. Making
one costs about 2-10 ms on tiny.en (:func:`samples_tokens` says which calls pay it).

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
from lumina.asr import inference
from lumina.asr.backend import (_LOG_ERROR, CENTISECOND, DecodeOptions, RunResult, SegmentData,
                                TokenData, _gpu_backend_in, _install_log_capture, _logs, full_params)
from lumina.asr.slots import Slots
from lumina.errors import ArgumentError, BackendError

__all__ = ["SharedModel", "samples_tokens"]


def samples_tokens(options: DecodeOptions) -> bool:
    """Whether whisper.cpp may draw random tokens in this call (beam search, temperature > 0
    or the temperature fallback), so that its result depends on the state's random generators."""
    return options.beam_size > 1 or options.temperature > 0 or options.temperature_fallback


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
        self._slots = Slots([StateSlot(state) for state in states])
        self._close_lock = threading.Lock()
        self.fallback_reason = None
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

        Same contract as :meth:`lumina.asr.backend.WhisperModel.run` (one skeleton,
        :func:`lumina.asr.inference.run`); segments carry ``no_speech_prob``.
        """
        # The binding's parameters, built by the same function as a context's, copied into
        # whisper.cpp's structure field by field (callbacks are the call's own).
        params = abi.full_params_from(self._lib, full_params(options))
        with self._slots.lend() as slot:
            if samples_tokens(options):
                slot.renew(self._lib, self._ctx)
            return inference.run(StateExecutor(self._lib, self._ctx, slot.state), audio, options,
                                 params, should_abort, on_segment)

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
            slots = self._slots.close()  # waits for the decodes in progress
            _free(self._lib, self._ctx, [slot.state for slot in slots])
            self._ctx = None

    def __repr__(self) -> str:
        return f"SharedModel({str(self.path)!r}, concurrency={self.concurrency})"


class StateSlot:
    """One of a model's whisper.cpp states; :meth:`renew` swaps it for a fresh one."""

    def __init__(self, state) -> None:
        self.state = state

    def renew(self, lib, ctx) -> None:
        """Replace the state by a new one (made first, so a failure leaves the old one usable).

        Raises
        ------
        BackendError
            whisper.cpp could not make a state (out of memory).
        """
        fresh = lib.whisper_init_state(ctx)
        if not fresh:
            raise BackendError("whisper.cpp could not make a fresh state for a sampling decode "
                               "(beam search or temperature fallback): out of memory?")
        lib.whisper_free_state(self.state)
        self.state = fresh


class StateExecutor:
    """A whisper.cpp state reached through ctypes (:class:`lumina.asr.inference.Executor`).

    The ctypes callback objects are kept for the call's length (whisper.cpp holds their addresses).
    """

    def __init__(self, lib, ctx, state) -> None:
        self._lib, self._ctx, self._state = lib, ctx, state
        self._keep: list = []

    def install(self, params: abi.FullParams, callbacks: inference.CallbackSet) -> abi.FullParams:
        params.encoder_begin_callback = self._c(abi.ENCODER_BEGIN, lambda *_: callbacks.encoder_begin())
        params.logits_filter_callback = self._c(abi.LOGITS_FILTER, lambda *_: callbacks.logits())
        if callbacks.polls_abort:
            params.abort_callback = self._c(abi.ABORT, lambda _user_data: callbacks.abort())
        if callbacks.on_segment is not None:
            params.new_segment_callback = self._c(
                abi.NEW_SEGMENT, lambda _ctx, _state, n_new, _user_data: callbacks.new_segments(n_new))
        return params

    def _c(self, kind, fn) -> int:
        made = kind(fn)
        self._keep.append(made)
        return C.cast(made, C.c_void_p).value

    def full(self, params: abi.FullParams, audio: np.ndarray) -> int:
        samples = audio.ctypes.data_as(C.POINTER(C.c_float))
        return self._lib.whisper_full_with_state(self._ctx, self._state, params, samples, len(audio))

    def n_segments(self) -> int:
        return self._lib.whisper_full_n_segments_from_state(self._state)

    def segments(self, with_times: bool) -> tuple[SegmentData, ...]:
        return tuple(self.segment(i, with_times) for i in range(self.n_segments()))

    def segment(self, i: int, with_times: bool) -> SegmentData:
        return _segment(self._lib, self._ctx, self._state, i, with_times)

    def language(self) -> str | None:
        return _language(self._lib, self._state)


def _segment(lib, ctx, state, i: int, with_times: bool) -> SegmentData:
    """Segment ``i`` of a state's result, read as :func:`lumina.asr.backend._segment` reads a context's."""
    tokens = []
    for j in range(lib.whisper_full_n_tokens_from_state(state, i)):
        data = lib.whisper_full_get_token_data_from_state(state, i, j)
        start, end = (data.t0 * CENTISECOND, data.t1 * CENTISECOND) if with_times else (0.0, 0.0)
        text = (lib.whisper_token_to_str(ctx, data.id) or b"").decode("utf-8", "replace")
        tokens.append(TokenData(data.id, text, float(data.p), start, end))
    text = (lib.whisper_full_get_segment_text_from_state(state, i) or b"").decode("utf-8", "replace")
    return SegmentData(lib.whisper_full_get_segment_t0_from_state(state, i) * CENTISECOND,
                       lib.whisper_full_get_segment_t1_from_state(state, i) * CENTISECOND,
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
