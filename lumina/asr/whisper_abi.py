"""whisper.cpp's state API through ctypes, in the very library pywhispercpp links.

Why: one whisper.cpp model can serve N threads at once, each with its own
``whisper_state`` (KV caches, compute buffers, results), so N concurrent
decodes need one copy of the weights instead of N. pywhispercpp 1.5.1's
binding has no ``whisper_init_state`` or ``whisper_full_with_state``, but the
libwhisper it links exports them; this module reaches them with ctypes.

Which library: ctypes opens the binding's own extension file
(:func:`lumina.asr.backend.binding_path`). A symbol looked up through that
handle resolves in the extension's dependencies, that is in the libwhisper the
binding itself was linked against (the wheel ships a second, unused copy next
to it), so there is one whisper.cpp in the process: one log callback, one
backend registry. On Linux :func:`library` also checks ``/proc/self/maps``:
exactly one libwhisper file is mapped and the resolved functions lie in it.

Layout: the structures below mirror ``whisper.h`` of whisper.cpp 1.8.x (1.8
added ``carry_initial_prompt`` in the middle of ``whisper_full_params``,
shifting every later field). :func:`check_layout` reads whisper.cpp's own
defaults through them and compares every field with what the binding (built
against the real header) reads for the same defaults; any difference, or a
field the binding has and these structures lack, raises
:class:`~lumina.errors.BackendError` and lumina falls back to one context per
decode. Only the shared-weights path uses this module (:mod:`lumina.asr.shared_model`,
:func:`lumina.asr.model_pool.load_model`).
"""

from __future__ import annotations

import ctypes as C
import functools
import sys
import threading
from pathlib import Path

from lumina.asr import backend
from lumina.errors import BackendError

__all__ = ["ABORT", "ENCODER_BEGIN", "LOGITS_FILTER", "NEW_SEGMENT", "TESTED_VERSIONS", "ContextParams",
           "FullParams", "TokenData", "check_layout", "check_version", "full_params_from", "library",
           "mapped_libwhisper", "whisper_version"]


# --------------------------------------------------------------------------- whisper.h 1.8.x

class _Aheads(C.Structure):
    _fields_ = [("n_heads", C.c_size_t), ("heads", C.c_void_p)]


class ContextParams(C.Structure):
    """``struct whisper_context_params``."""

    _fields_ = [("use_gpu", C.c_bool), ("flash_attn", C.c_bool), ("gpu_device", C.c_int),
                ("dtw_token_timestamps", C.c_bool), ("dtw_aheads_preset", C.c_int),
                ("dtw_n_top", C.c_int), ("dtw_aheads", _Aheads), ("dtw_mem_size", C.c_size_t)]


class _VadParams(C.Structure):
    _fields_ = [("threshold", C.c_float), ("min_speech_duration_ms", C.c_int),
                ("min_silence_duration_ms", C.c_int), ("max_speech_duration_s", C.c_float),
                ("speech_pad_ms", C.c_int), ("samples_overlap", C.c_float)]


class TokenData(C.Structure):
    """``whisper_token_data`` (times in units of 10 ms)."""

    _fields_ = [("id", C.c_int), ("tid", C.c_int), ("p", C.c_float), ("plog", C.c_float),
                ("pt", C.c_float), ("ptsum", C.c_float), ("t0", C.c_int64), ("t1", C.c_int64),
                ("t_dtw", C.c_int64), ("vlen", C.c_float)]


class FullParams(C.Structure):
    """``struct whisper_full_params`` (the ``greedy`` and ``beam_search`` sub-structs flattened)."""

    _fields_ = [
        ("strategy", C.c_int), ("n_threads", C.c_int), ("n_max_text_ctx", C.c_int),
        ("offset_ms", C.c_int), ("duration_ms", C.c_int),
        ("translate", C.c_bool), ("no_context", C.c_bool), ("no_timestamps", C.c_bool),
        ("single_segment", C.c_bool), ("print_special", C.c_bool), ("print_progress", C.c_bool),
        ("print_realtime", C.c_bool), ("print_timestamps", C.c_bool),
        ("token_timestamps", C.c_bool), ("thold_pt", C.c_float), ("thold_ptsum", C.c_float),
        ("max_len", C.c_int), ("split_on_word", C.c_bool), ("max_tokens", C.c_int),
        ("debug_mode", C.c_bool), ("audio_ctx", C.c_int), ("tdrz_enable", C.c_bool),
        ("suppress_regex", C.c_char_p), ("initial_prompt", C.c_char_p),
        ("carry_initial_prompt", C.c_bool),  # new in whisper.cpp 1.8
        ("prompt_tokens", C.POINTER(C.c_int)), ("prompt_n_tokens", C.c_int),
        ("language", C.c_char_p), ("detect_language", C.c_bool),
        ("suppress_blank", C.c_bool), ("suppress_nst", C.c_bool),
        ("temperature", C.c_float), ("max_initial_ts", C.c_float), ("length_penalty", C.c_float),
        ("temperature_inc", C.c_float), ("entropy_thold", C.c_float), ("logprob_thold", C.c_float),
        ("no_speech_thold", C.c_float),
        ("greedy_best_of", C.c_int), ("beam_size", C.c_int), ("beam_patience", C.c_float),
        ("new_segment_callback", C.c_void_p), ("new_segment_callback_user_data", C.c_void_p),
        ("progress_callback", C.c_void_p), ("progress_callback_user_data", C.c_void_p),
        ("encoder_begin_callback", C.c_void_p), ("encoder_begin_callback_user_data", C.c_void_p),
        ("abort_callback", C.c_void_p), ("abort_callback_user_data", C.c_void_p),
        ("logits_filter_callback", C.c_void_p), ("logits_filter_callback_user_data", C.c_void_p),
        ("grammar_rules", C.c_void_p), ("n_grammar_rules", C.c_size_t), ("i_start_rule", C.c_size_t),
        ("grammar_penalty", C.c_float),
        ("vad", C.c_bool), ("vad_model_path", C.c_char_p), ("vad_params", _VadParams),
    ]


# Callback types (whisper.h). ctypes takes the GIL for the duration of each call.
NEW_SEGMENT = C.CFUNCTYPE(None, C.c_void_p, C.c_void_p, C.c_int, C.c_void_p)
ENCODER_BEGIN = C.CFUNCTYPE(C.c_bool, C.c_void_p, C.c_void_p, C.c_void_p)
ABORT = C.CFUNCTYPE(C.c_bool, C.c_void_p)
LOGITS_FILTER = C.CFUNCTYPE(None, C.c_void_p, C.c_void_p, C.c_void_p, C.c_int,
                            C.POINTER(C.c_float), C.c_void_p)

_p, _i, _f = C.c_void_p, C.c_int, C.c_float
_SIGNATURES = {
    "whisper_context_default_params_by_ref": ([], C.POINTER(ContextParams)),
    "whisper_full_default_params_by_ref": ([_i], C.POINTER(FullParams)),
    "whisper_free_context_params": ([_p], None),
    "whisper_free_params": ([_p], None),
    "whisper_init_from_file_with_params_no_state": ([C.c_char_p, ContextParams], _p),
    "whisper_init_state": ([_p], _p),
    "whisper_free_state": ([_p], None),
    "whisper_free": ([_p], None),
    "whisper_full_with_state": ([_p, _p, FullParams, C.POINTER(_f), _i], _i),
    "whisper_full_n_segments_from_state": ([_p], _i),
    "whisper_full_n_tokens_from_state": ([_p, _i], _i),
    "whisper_full_get_token_data_from_state": ([_p, _i, _i], TokenData),
    "whisper_full_get_segment_t0_from_state": ([_p, _i], C.c_int64),
    "whisper_full_get_segment_t1_from_state": ([_p, _i], C.c_int64),
    "whisper_full_get_segment_text_from_state": ([_p, _i], C.c_char_p),
    "whisper_full_get_segment_no_speech_prob_from_state": ([_p, _i], _f),
    "whisper_full_lang_id_from_state": ([_p], _i),
    "whisper_lang_str": ([_i], C.c_char_p),
    "whisper_token_to_str": ([_p, _i], C.c_char_p),
    "whisper_token_eot": ([_p], _i),
    "whisper_is_multilingual": ([_p], _i),
    "whisper_model_n_audio_ctx": ([_p], _i),
    "whisper_version": ([], C.c_char_p),
}

#: whisper.cpp releases whose ``whisper.h`` the structures below mirror and whose behaviour
#: lumina's fast path and warm-up were measured on (tests/test_whisper_assumptions.py).
TESTED_VERSIONS = ("1.8.",)

# Fields the copy leaves alone: callbacks belong to each run, grammars lumina never sets.
_NOT_COPIED = {name for name, _ in FullParams._fields_
               if "callback" in name or name in ("grammar_rules", "n_grammar_rules", "i_start_rule")}
_STRINGS = ("suppress_regex", "initial_prompt", "language", "vad_model_path")
_SUBSTRUCTS = {"greedy_best_of": ("greedy", "best_of"), "beam_size": ("beam_search", "beam_size"),
               "beam_patience": ("beam_search", "patience")}


# --------------------------------------------------------------------------- the library

_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _load() -> C.CDLL:
    lib = C.CDLL(backend.binding_path())
    try:
        for name, (args, result) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = args, result
    except AttributeError as exc:
        raise BackendError(f"the whisper.cpp linked by pywhispercpp lacks the state API ({exc}); "
                           "lumina uses one whisper.cpp context per concurrent decode") from None
    return lib


def library() -> C.CDLL:
    """The libwhisper pywhispercpp links, typed, its layout checked (once per process).

    Raises
    ------
    BackendError
        The state API is missing, a second whisper.cpp library is loaded, or
        the structures here do not match the library (see :func:`check_layout`).
    """
    with _lock:
        lib = _load()
        _check_once(lib)
        return lib


@functools.lru_cache(maxsize=1)
def _check_once(lib: C.CDLL) -> None:
    check_version(lib)
    check_single_library(lib)
    check_layout(lib)


def whisper_version(lib: C.CDLL) -> str:
    """The version libwhisper reports (``whisper_version()``), e.g. ``"1.8.5"``."""
    return (lib.whisper_version() or b"").decode()


def check_version(lib: C.CDLL) -> None:
    """Refuse a libwhisper outside :data:`TESTED_VERSIONS`: its struct layout and the padding
    behaviour the fast path relies on are unverified there, so lumina uses plain contexts."""
    version = whisper_version(lib)
    if not version.startswith(TESTED_VERSIONS):
        raise BackendError(f"whisper.cpp {version or '(unknown version)'} is outside the versions lumina's "
                           f"state API was tested with ({', '.join(v + 'x' for v in TESTED_VERSIONS)}); "
                           "lumina uses one whisper.cpp context per concurrent decode instead")


def mapped_libwhisper() -> list[str]:
    """The distinct libwhisper files mapped into this process (from ``/proc/self/maps``; [] elsewhere)."""
    return sorted({path for _, _, path in _maps() if "libwhisper" in Path(path).name})


def _maps() -> list[tuple[int, int, str]]:
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return []
    rows = []
    for line in maps.read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5].startswith("/"):
            start, end = (int(x, 16) for x in parts[0].split("-"))
            rows.append((start, end, parts[5]))
    return rows


def check_single_library(lib: C.CDLL) -> None:
    """On Linux: exactly one libwhisper is mapped and ``lib``'s state functions lie in it."""
    if not sys.platform.startswith("linux"):
        return  # the handle's own dependency lookup is the guarantee there
    rows = _maps()
    files = mapped_libwhisper()
    address = C.cast(lib.whisper_init_state, C.c_void_p).value
    home = {path for start, end, path in rows if start <= address < end}
    if len(files) != 1 or home != set(files):
        raise BackendError(f"expected one whisper.cpp library in the process, found {files} "
                           f"(the state API resolved in {sorted(home)}); lumina will not mix them")


def _binding_view(params, name: str):
    """A field of the binding's ``whisper_full_params`` as the ctypes copy stores it."""
    if name in _SUBSTRUCTS:
        outer, inner = _SUBSTRUCTS[name]
        return getattr(params, outer)[inner]
    value = getattr(params, name)
    if name in _STRINGS:
        return value.encode() if value else None
    return value


def _copied(params, layout: type[C.Structure] = FullParams) -> list[str]:
    """The fields copied from (and compared with) the binding: the ones it exposes, callbacks aside."""
    return [name for name, _ in layout._fields_
            if name not in _NOT_COPIED and name not in ("prompt_tokens", "vad_params")
            and (name in _SUBSTRUCTS or hasattr(params, name))]


def _value(params, name: str):
    return int(params.strategy) if name == "strategy" else _binding_view(params, name)


def full_params_from(lib: C.CDLL, params) -> FullParams:
    """A ctypes copy of the binding's ``whisper_full_params`` (values only, no callbacks).

    It starts from whisper.cpp's defaults for the same strategy (so a field
    the binding does not expose keeps whisper.cpp's default there too) and
    takes every field the binding exposes. Every field lumina sets goes
    through :func:`lumina.asr.backend.full_params` first, so the shared-state
    path decodes with exactly the plain path's parameters.
    """
    out = _defaults(lib, int(params.strategy))
    for name in _copied(params):
        setattr(out, name, _value(params, name))
    for name, _ in _VadParams._fields_:
        setattr(out.vad_params, name, getattr(params.vad_params, name))
    tokens = tuple(params.prompt_tokens)
    if tokens:
        out.prompt_tokens = (C.c_int * len(tokens))(*tokens)
        out.prompt_n_tokens = len(tokens)
    return out


def _defaults(lib: C.CDLL, strategy: int, layout: type[C.Structure] = FullParams):
    ref = lib.whisper_full_default_params_by_ref(strategy)
    try:
        return layout.from_buffer_copy(C.cast(ref, C.POINTER(layout)).contents)
    finally:
        lib.whisper_free_params(ref)


def check_layout(lib: C.CDLL, layout: type[C.Structure] = FullParams) -> None:
    """Compare whisper.cpp's defaults read through the ctypes structures with the binding's view.

    The binding was compiled against the real ``whisper.h``, so a field whose
    offset or type is wrong here reads a different value. Both sampling
    strategies are compared (their defaults differ), and the binding must
    expose no field these structures lack. ``layout`` is the structure
    checked (tests pass an outdated one).

    Raises
    ------
    BackendError
        Naming the fields that differ.
    """
    pw = backend.binding()
    bad = []
    for strategy in (pw.WHISPER_SAMPLING_GREEDY, pw.WHISPER_SAMPLING_BEAM_SEARCH):
        theirs = pw.whisper_full_default_params(strategy)
        bad += _mismatches(_defaults(lib, int(strategy), _raw(layout)), theirs, layout)
        if not bad:  # only a layout right so far may be read through its string pointers
            bad += _mismatches(_defaults(lib, int(strategy), layout), theirs, layout, strings=True)
    exposed = {n for n in dir(theirs) if not n.startswith("_") and not callable(getattr(type(theirs), n, None))
               and "callback" not in n and n not in ("greedy", "beam_search", "progress_callback")}
    known = {name for name, _ in layout._fields_} | set(_SUBSTRUCTS)
    bad += [f"{name} (unknown to lumina's layout)" for name in sorted(exposed - known)]
    bad += _context_mismatches(lib, pw)
    if bad:
        raise BackendError("lumina's ctypes layout of whisper.h does not match the installed "
                           "whisper.cpp; fields that read differently: " + ", ".join(dict.fromkeys(bad))
                           + "; lumina uses one whisper.cpp context per concurrent decode instead")


def _raw(layout: type[C.Structure]) -> type[C.Structure]:
    """``layout`` with every pointer read as a plain address: a wrong layout must not be dereferenced."""
    def plain(kind):
        return C.c_void_p if kind is C.c_char_p or issubclass(kind, C._Pointer) else kind
    return type(f"Raw{layout.__name__}", (C.Structure,),
                {"_fields_": [(name, plain(kind)) for name, kind in layout._fields_]})


def _mismatches(ours, theirs, layout, *, strings: bool = False) -> list[str]:
    """Fields that differ: the scalars and whether each string is NULL (``ours`` read raw),
    or with ``strings`` the text of the strings."""
    bad = []
    for name in _copied(theirs, layout):
        if strings and name not in _STRINGS:
            continue
        mine, seen = getattr(ours, name), _value(theirs, name)
        same = mine == seen if strings or name not in _STRINGS else (mine is None) == (seen is None)
        if not same:
            bad.append(name)
    if not strings:
        bad += [f"vad_params.{n}" for n, _ in _VadParams._fields_
                if getattr(ours.vad_params, n) != getattr(theirs.vad_params, n)]
    return bad


def _context_mismatches(lib: C.CDLL, pw) -> list[str]:
    ref = lib.whisper_context_default_params_by_ref()
    try:
        ours = ContextParams.from_buffer_copy(ref.contents)
    finally:
        lib.whisper_free_context_params(ref)
    theirs = pw.whisper_context_default_params()
    names = ("use_gpu", "flash_attn", "gpu_device", "dtw_token_timestamps", "dtw_aheads_preset",
             "dtw_n_top", "dtw_mem_size")
    return [f"context {n}" for n in names if getattr(ours, n) != int(getattr(theirs, n))]
