"""whisper.cpp through pywhispercpp's low-level API.

This is the only module that imports pywhispercpp. It owns whisper.cpp
contexts and turns one inference call into plain Python data.

Why the low-level API: pywhispercpp's ``Model.transcribe(**params)`` keeps the
parameters it was given for later calls. Here every call builds a fresh
``whisper_full_params`` from whisper.cpp's defaults plus the call's options,
so nothing leaks from one call into the next.

Concurrency: a whisper.cpp context must not be used by two threads at once,
and pywhispercpp releases the GIL inside ``whisper_full``, so each
:class:`WhisperModel` serialises its calls with a lock.

Temperature fallback: with whisper.cpp's defaults an unsure greedy decode
(average log-probability under ``logprob_thold`` -1.0, or a repetitive one
under ``entropy_thold`` 2.4) is thrown away and decoded again at
temperatures 0.2, 0.4 ... 1.0 with ``best_of`` 5 sampled decoders each, until
one passes. That can multiply a call's decoder cost by up to 26, and the
samples come from a random generator kept per context and seeded once, so a
retried result depends on the calls made before. ``DecodeOptions(
temperature_fallback=False)`` sets ``temperature_inc`` to 0: one greedy pass,
deterministic and bounded. ``RunResult.decoder_steps`` counts the sampled
token evaluations of all passes, which is how a retry shows.
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lumina.asr import inference
from lumina.asr.decode_data import DecodeOptions, RunResult, SegmentData, TokenData
from lumina.asr.threads import openmp_wait_policy
from lumina.errors import BackendError

# GNU OpenMP (bundled with the binding) reads its wait policy once, when it loads:
# load it with idle workers that sleep instead of spin (see lumina.asr.threads).
with openmp_wait_policy():
    import _pywhispercpp as _pw

__all__ = [
    "DecodeOptions",
    "language_known",
    "RunResult",
    "TokenData",
    "SegmentData",
    "WhisperModel",
    "compiled_gpu_backends",
    "system_info",
]

_log = logging.getLogger("lumina.whisper")
CENTISECOND = 0.01  # whisper.cpp reports times in units of 10 ms


# --------------------------------------------------------------------------- logging

class _LogCapture:
    """Route whisper.cpp's log lines to :mod:`logging`, and let a load read its own lines.

    whisper.cpp reports load failures only through its log (the binding hands
    back a context object even when loading failed), so a load captures the
    lines it produces under a lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[tuple[int, str]] | None = None

    def __call__(self, level: int, text: str) -> None:
        line = text.rstrip("\n")
        if self._lines is not None:
            self._lines.append((level, line))
        if line:
            _log.debug("%s", line)

    def capture(self) -> _Captured:
        return _Captured(self)


class _Captured:
    def __init__(self, sink: _LogCapture) -> None:
        self._sink = sink
        self.lines: list[tuple[int, str]] = []

    def __enter__(self) -> _Captured:
        self._sink._lock.acquire()
        self._sink._lines = self.lines
        return self

    def __exit__(self, *exc: object) -> None:
        self._sink._lines = None
        self._sink._lock.release()


_LOG_ERROR = 4  # GGML_LOG_LEVEL_ERROR
_logs = _LogCapture()
_logs_installed = False
_install_lock = threading.Lock()


def _install_log_capture() -> None:
    """Route whisper.cpp's log through lumina, once, when the first model loads.

    Not at import: whisper.cpp has one process-wide log callback, and merely
    importing lumina must not take it from an application that set its own.
    """
    global _logs_installed
    with _install_lock:
        if _logs_installed:
            return
        _pw.whisper_log_set(_logs)
        # At interpreter exit whisper.cpp may still log (contexts freed late) when no
        # Python thread state exists; hand logging back to whisper.cpp's own printer first.
        atexit.register(_pw.whisper_log_set, None)
        _logs_installed = True


# --------------------------------------------------------------------------- facts

def language_known(code: str) -> bool:
    """Whether whisper.cpp knows the language code (``"auto"`` means detection)."""
    if code == "auto":
        return True
    _install_log_capture()  # whisper_lang_id logs an unknown code; keep it off stderr
    return _pw.whisper_lang_id(code) >= 0


def binding():
    """The pywhispercpp binding module (for :mod:`lumina.asr.whisper_abi`'s layout check)."""
    return _pw


def binding_path() -> str:
    """The file of the loaded binding; :mod:`lumina.asr.whisper_abi` reaches libwhisper through it."""
    return _pw.__file__


def system_info() -> str:
    """whisper.cpp's description of the features it was built with."""
    return _pw.whisper_print_system_info()


def compiled_gpu_backends() -> list[str]:
    """GPU backends the installed whisper.cpp was built with (``"cuda"``, ``"vulkan"``, ``"metal"``).

    ggml builds each backend as its own shared library next to the binding,
    so their presence is what decides it.
    """
    import pywhispercpp

    roots = [Path(pywhispercpp.__file__).parent, Path(pywhispercpp.__file__).parent.parent]
    names = {p.name.lower() for root in roots if root.is_dir()
             for p in root.rglob("libggml-*") if p.is_file()}
    found = [kind for kind in ("cuda", "vulkan", "metal") if any(f"ggml-{kind}" in n for n in names)]
    info = system_info().upper()
    for kind in ("CUDA", "VULKAN", "METAL"):
        if f"{kind} =" in info or f"{kind} :" in info:
            if kind.lower() not in found:
                found.append(kind.lower())
    return found


# --------------------------------------------------------------------------- model

class WhisperModel:
    """One whisper.cpp context, used by one thread at a time.

    :mod:`lumina.asr.shared_model` serves several threads from one model.

    Parameters
    ----------
    path : str or Path
        A ggml model file. Validate it first (:func:`lumina.models.validate_model_file`):
        whisper.cpp aborts the process on some malformed files.
    use_gpu : bool
        Let whisper.cpp use a GPU backend if it was built with one.
    gpu_device : int
        Index of the GPU.
    flash_attn : bool
        Use flash attention (whisper.cpp's default).

    Raises
    ------
    BackendError
        whisper.cpp could not load the model; the message carries its error lines.
    """

    shares_weights = False

    def __init__(self, path: str | Path, *, use_gpu: bool = False, gpu_device: int = 0,
                 flash_attn: bool = True, fallback_reason: str | None = None) -> None:
        params = _pw.whisper_context_default_params()
        params.use_gpu = use_gpu
        params.gpu_device = gpu_device
        params.flash_attn = flash_attn
        _install_log_capture()
        with _logs.capture() as captured:
            ctx = _pw.whisper_init_from_file_with_params(str(path), params)
        errors = [text for level, text in captured.lines if level >= _LOG_ERROR and text]
        if ctx is None or errors:
            raise BackendError(f"whisper.cpp could not load {path}: " + ("; ".join(errors) or "unknown error"))
        self._ctx = ctx
        self.concurrency = 1  # calls that may run at once (the lock serialises them)
        self.fallback_reason = fallback_reason
        self._lock = threading.Lock()
        self._running = False
        self.max_busy = 0
        self.path = Path(path)
        self.load_log = tuple(text for _, text in captured.lines)
        self.gpu_backend = _gpu_backend_in(self.load_log) if use_gpu else None
        self.english_only = not _pw.whisper_is_multilingual(ctx)
        self.n_audio_ctx = _pw.whisper_model_n_audio_ctx(ctx)
        # Read once: asking the context after close() would read freed memory (a crash), and
        # the speech filter asks for every token.
        self._eot = _pw.whisper_token_eot(ctx)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has freed the context."""
        return self._ctx is None

    @property
    def busy(self) -> int:
        """1 while a call decodes, else 0."""
        return int(self._running)

    def run(self, audio: np.ndarray, options: DecodeOptions,
            should_abort: Callable[[], bool] | None = None,
            on_segment: Callable[[SegmentData], None] | None = None) -> RunResult:
        """Transcribe float32 mono 16 kHz audio (C-contiguous; it is not copied).

        ``should_abort`` is polled by whisper.cpp during inference; returning
        True stops the call early (``RunResult.aborted``). ``on_segment`` is
        called on this thread with each segment as whisper.cpp finishes it.
        An exception from either stops the call and is raised after it
        (:mod:`lumina.asr.inference`).
        """
        with self._lock:
            if self._ctx is None:
                raise BackendError("the model is closed")
            self._running, self.max_busy = True, 1
            try:
                return inference.run(ContextExecutor(self._ctx), audio, options, full_params(options),
                                     should_abort, on_segment)
            finally:
                self._running = False

    def is_special(self, token_id: int) -> bool:
        """Whether a token id is a special token (end-of-text and above: timestamps, language...)."""
        return token_id >= self._eot

    def close(self) -> None:
        """Free the context; waits for a call in progress. Calling it twice is harmless."""
        with self._lock:
            if self._ctx is not None:
                _pw.whisper_free(self._ctx)
                self._ctx = None


class ContextExecutor:
    """A whisper.cpp context reached through pywhispercpp's binding (:class:`lumina.asr.inference.Executor`)."""

    def __init__(self, ctx) -> None:
        self._ctx = ctx

    def install(self, params, callbacks: inference.CallbackSet):
        _pw.assign_encoder_begin_callback(params, lambda *_: callbacks.encoder_begin())
        _pw.assign_logits_filter_callback(params, lambda *_: callbacks.logits())
        if callbacks.polls_abort:
            _pw.assign_abort_callback(params, callbacks.abort)
        if callbacks.on_segment is not None:
            _pw.assign_new_segment_callback(params, lambda _ctx, n_new: callbacks.new_segments(n_new))
        return params

    def full(self, params, audio: np.ndarray) -> int:
        return _pw.whisper_full(self._ctx, params, audio, len(audio))

    def n_segments(self) -> int:
        return _pw.whisper_full_n_segments(self._ctx)

    def segments(self, with_times: bool) -> tuple[SegmentData, ...]:
        return tuple(self.segment(i, with_times) for i in range(self.n_segments()))

    def segment(self, i: int, with_times: bool) -> SegmentData:
        ctx = self._ctx
        tokens = []
        for j in range(_pw.whisper_full_n_tokens(ctx, i)):
            data = _pw.whisper_full_get_token_data(ctx, i, j)
            start, end = (data.t0 * CENTISECOND, data.t1 * CENTISECOND) if with_times else (0.0, 0.0)
            text = _pw.whisper_token_to_bytes(ctx, data.id).decode("utf-8", "replace")
            tokens.append(TokenData(data.id, text, float(data.p), start, end))
        text = _pw.whisper_full_get_segment_text(ctx, i).decode("utf-8", "replace")
        return SegmentData(_pw.whisper_full_get_segment_t0(ctx, i) * CENTISECOND,
                           _pw.whisper_full_get_segment_t1(ctx, i) * CENTISECOND, text, tuple(tokens))

    def language(self) -> str | None:
        return _pw.whisper_lang_str(_pw.whisper_full_lang_id(self._ctx))


def _prompt_text(prompt: str) -> str:
    """The prompt as whisper was trained to see it: one leading space, as OpenAI's whisper and
    faster-whisper pass it. whisper.cpp tokenizes the string as given, and a prompt without the
    space ends in a token that the first word of the audio may fuse with ("fromLumina", tiny.en
    with 5 beams on examples/hello.wav)."""
    return " " + prompt.strip()


def full_params(options: DecodeOptions):
    """The binding's ``whisper_full_params`` of one call: whisper.cpp's defaults plus ``options``."""
    if options.beam_size > 1:
        params = _pw.whisper_full_default_params(_pw.WHISPER_SAMPLING_BEAM_SEARCH)
        params.beam_search = {"beam_size": options.beam_size, "patience": -1.0}
    else:
        params = _pw.whisper_full_default_params(_pw.WHISPER_SAMPLING_GREEDY)
    params.n_threads = options.n_threads
    params.print_progress = False
    params.print_realtime = False
    params.print_timestamps = False
    if options.language is not None:
        params.language = options.language
    params.translate = options.translate
    params.temperature = options.temperature
    params.audio_ctx = options.audio_ctx
    params.max_tokens = options.max_tokens
    params.token_timestamps = options.token_timestamps
    if not options.temperature_fallback:
        params.temperature_inc = 0.0  # whisper.cpp then tries temperature 0 only
    if options.prompt and options.prompt.strip():
        params.initial_prompt = _prompt_text(options.prompt)
    return params


_GPU_LINE = re.compile(r"using (\w+?)\d* backend", re.IGNORECASE)


def _gpu_backend_in(lines: tuple[str, ...]) -> str | None:
    """The GPU backend whisper.cpp reports using while loading, if any."""
    for line in lines:
        match = _GPU_LINE.search(line)
        if match and match.group(1).lower() in ("cuda", "vulkan", "metal"):
            return match.group(1).lower()
    return None
