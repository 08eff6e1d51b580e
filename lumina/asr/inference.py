"""One inference call, the same for a whisper.cpp context and a whisper.cpp state.

:func:`run` is the skeleton every decode follows: check the audio, build the
parameters (:func:`lumina.asr.backend.full_params`), install the call's
callbacks, run ``whisper_full``, raise what the callbacks kept, read the
segments back. What differs between a context reached through pywhispercpp's
binding and a state reached through ctypes is only *how* each step talks to
whisper.cpp; that is an :class:`Executor` (``ContextExecutor`` in
:mod:`lumina.asr.backend`, ``StateExecutor`` in :mod:`lumina.asr.shared_model`).

The callbacks (:class:`CallbackSet`) run inside whisper.cpp: an exception from
the caller's ``should_abort`` or ``on_segment`` must not unwind through C, so
it is kept, stops the call, and is raised after ``whisper_full`` returns. They
also time the stages: whisper.cpp calls the encoder-begin callback after the
mel spectrogram and the logits-filter callback before each sampled token, so
the first logits callback marks the end of the encoder and counting them
gives the decoder steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from lumina.asr.decode_data import DecodeOptions, RunResult, SegmentData
from lumina.errors import BackendError

__all__ = ["CallbackSet", "Executor", "run"]


class Executor(Protocol):
    """How one whisper.cpp context or state runs a call and reads its result."""

    def install(self, params, callbacks: CallbackSet):
        """Attach ``callbacks`` to the parameters; return what :meth:`full` takes."""

    def full(self, prepared, audio: np.ndarray) -> int:
        """Run ``whisper_full`` (GIL released); return its status."""

    def segments(self, with_times: bool) -> tuple[SegmentData, ...]:
        """Every segment of the result just computed."""

    def segment(self, i: int, with_times: bool) -> SegmentData:
        """Segment ``i`` of the result being computed (from the new-segment callback)."""

    def n_segments(self) -> int:
        """How many segments the result holds so far."""

    def language(self) -> str | None:
        """The language the call decoded."""


class CallbackSet:
    """The callbacks of one call: stage marks, abort polling and segment reporting."""

    def __init__(self, should_abort: Callable[[], bool] | None,
                 on_segment: Callable[[SegmentData], None] | None, with_times: bool) -> None:
        self.should_abort, self.on_segment, self.with_times = should_abort, on_segment, with_times
        self.executor: Executor | None = None
        self.aborted = False
        self.decoder_steps = 0
        self._error: BaseException | None = None
        self._t0 = self._t_encode = self._t_decode = self._t1 = 0.0

    @property
    def polls_abort(self) -> bool:
        """Whether an abort callback is needed (it is polled often, with the GIL: only when asked)."""
        return self.should_abort is not None or self.on_segment is not None

    def encoder_begin(self) -> bool:
        if not self._t_encode:
            self._t_encode = time.perf_counter()
        return not self.aborted

    def logits(self) -> None:
        self.decoder_steps += 1
        if not self._t_decode:
            self._t_decode = time.perf_counter()

    def abort(self) -> bool:
        if not self.aborted and self.should_abort is not None:
            try:
                self.aborted = bool(self.should_abort())
            except BaseException as exc:  # kept and raised after the call
                self._error, self.aborted = exc, True
        return self.aborted

    def new_segments(self, n_new: int) -> None:
        if self._error is not None or self.on_segment is None:
            return
        try:
            n = self.executor.n_segments()
            for i in range(n - n_new, n):
                self.on_segment(self.executor.segment(i, self.with_times))
        except BaseException as exc:  # kept and raised after the call
            self._error, self.aborted = exc, True

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def stop(self) -> None:
        self._t1 = time.perf_counter()

    def raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def stages(self) -> tuple[float, float, float]:
        """Seconds of mel, encoder and decoder."""
        encode_start = self._t_encode or self._t1
        decode_start = self._t_decode or self._t1
        return encode_start - self._t0, decode_start - encode_start, self._t1 - decode_start


def run(executor: Executor, audio: np.ndarray, options: DecodeOptions, params,
        should_abort: Callable[[], bool] | None = None,
        on_segment: Callable[[SegmentData], None] | None = None) -> RunResult:
    """Transcribe float32 mono 16 kHz ``audio`` on ``executor`` with whisper.cpp parameters ``params``.

    The caller holds the executor alone for the call (a lock or a lent slot).
    An aborted call returns no segments (``RunResult.aborted``).
    """
    if audio.dtype != np.float32 or audio.ndim != 1 or not audio.flags.c_contiguous:
        raise BackendError("audio must be a C-contiguous 1-D float32 array")
    callbacks = CallbackSet(should_abort, on_segment, options.token_timestamps)
    callbacks.executor = executor
    prepared = executor.install(params, callbacks)
    callbacks.start()
    status = executor.full(prepared, audio)
    callbacks.stop()
    callbacks.raise_error()
    if status != 0 and not callbacks.aborted:
        raise BackendError(f"whisper.cpp's inference failed with status {status}")
    segments = () if callbacks.aborted else executor.segments(options.token_timestamps)
    return RunResult(segments, executor.language(), *callbacks.stages(), callbacks.aborted,
                     callbacks.decoder_steps)
