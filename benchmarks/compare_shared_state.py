"""Can N whisper.cpp workers share one copy of the weights? Memory of the ways to get N workers.

pywhispercpp 1.5.1's ``_pywhispercpp`` module has no ``whisper_init_state`` or
``whisper_full_with_state``, so N lumina Engines are N contexts: N copies of
the weights. The libwhisper shared library inside the pywhispercpp wheel (the
very library ``_pywhispercpp`` links) does export the state API. This script
reaches it with ctypes and measures, each in a fresh process:

``engines``   N lumina Engines (what ``lumina serve --workers N`` does today)
``contexts``  N ``whisper_init_from_file_with_params`` contexts (ctypes)
``states``    one ``whisper_init_from_file_with_params_no_state`` context and N
              ``whisper_init_state`` states, each run with ``whisper_full_with_state``

RSS is read after loading and after one transcription per worker (whisper.cpp
allocates its compute buffers in the state). The ``states`` run also checks
that every state decodes exactly the tokens a plain context decodes, and times
N states run by N threads at once against one after another.

Run: ``python benchmarks/compare_shared_state.py [--arch tiny.en] [--workers 1,2,4]``.
Counts of bytes are not distorted by a busy machine; the timing line is.
"""

from __future__ import annotations

import argparse
import ctypes as C
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

_MIB = 1024 * 1024


# ---------------------------------------------------------------------- whisper.h (1.8.x) as ctypes

class _Aheads(C.Structure):
    _fields_ = [("n_heads", C.c_size_t), ("heads", C.c_void_p)]


class ContextParams(C.Structure):
    _fields_ = [("use_gpu", C.c_bool), ("flash_attn", C.c_bool), ("gpu_device", C.c_int),
                ("dtw_token_timestamps", C.c_bool), ("dtw_aheads_preset", C.c_int),
                ("dtw_n_top", C.c_int), ("dtw_aheads", _Aheads), ("dtw_mem_size", C.c_size_t)]


class _VadParams(C.Structure):
    _fields_ = [("threshold", C.c_float), ("min_speech_duration_ms", C.c_int),
                ("min_silence_duration_ms", C.c_int), ("max_speech_duration_s", C.c_float),
                ("speech_pad_ms", C.c_int), ("samples_overlap", C.c_float)]


class FullParams(C.Structure):
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
        ("prompt_tokens", C.c_void_p), ("prompt_n_tokens", C.c_int),
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


def libwhisper() -> C.CDLL:
    """The libwhisper that _pywhispercpp itself loaded (found in this process's memory map)."""
    import _pywhispercpp  # noqa: F401  (loads the library)

    for line in Path("/proc/self/maps").read_text().splitlines():
        path = line.split()[-1]
        if "libwhisper" in Path(path).name:
            lib = C.CDLL(path)
            break
    else:
        raise RuntimeError("libwhisper is not mapped; is pywhispercpp installed?")
    p, i, f = C.c_void_p, C.c_int, C.POINTER(C.c_float)
    sigs = {
        "whisper_context_default_params_by_ref": ([], C.POINTER(ContextParams)),
        "whisper_full_default_params_by_ref": ([i], C.POINTER(FullParams)),
        "whisper_init_from_file_with_params": ([C.c_char_p, ContextParams], p),
        "whisper_init_from_file_with_params_no_state": ([C.c_char_p, ContextParams], p),
        "whisper_init_state": ([p], p),
        "whisper_full": ([p, FullParams, f, i], i),
        "whisper_full_with_state": ([p, p, FullParams, f, i], i),
        "whisper_full_n_segments": ([p], i), "whisper_full_n_tokens": ([p, i], i),
        "whisper_full_get_token_id": ([p, i, i], i),
        "whisper_full_n_segments_from_state": ([p], i),
        "whisper_full_n_tokens_from_state": ([p, i], i),
        "whisper_full_get_token_id_from_state": ([p, i, i], i),
        "whisper_token_eot": ([p], i),
        "whisper_free": ([p], None), "whisper_free_state": ([p], None),
        "whisper_log_set": ([p, p], None),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    lib.whisper_log_set(_SILENT, None)
    return lib


_SILENT = C.CFUNCTYPE(None, C.c_int, C.c_char_p, C.c_void_p)(lambda *a: None)


def check_layout(lib) -> dict:
    """Read whisper.cpp's own defaults through the ctypes layout; every one must be as documented."""
    fp = lib.whisper_full_default_params_by_ref(0).contents
    cp = lib.whisper_context_default_params_by_ref().contents
    seen = {"n_max_text_ctx": fp.n_max_text_ctx, "thold_pt": round(fp.thold_pt, 4),
            "temperature_inc": round(fp.temperature_inc, 4), "entropy_thold": round(fp.entropy_thold, 4),
            "logprob_thold": fp.logprob_thold, "greedy_best_of": fp.greedy_best_of,
            "vad_threshold": round(fp.vad_params.threshold, 4),
            "vad_min_speech_ms": fp.vad_params.min_speech_duration_ms,
            "vad_speech_pad_ms": fp.vad_params.speech_pad_ms,
            "vad_overlap": round(fp.vad_params.samples_overlap, 4),
            "dtw_n_top": cp.dtw_n_top, "dtw_mem_size": cp.dtw_mem_size}
    expected = {"n_max_text_ctx": 16384, "thold_pt": 0.01, "temperature_inc": 0.2, "entropy_thold": 2.4,
                "logprob_thold": -1.0, "greedy_best_of": 5, "vad_threshold": 0.5,
                "vad_min_speech_ms": 250, "vad_speech_pad_ms": 30, "vad_overlap": 0.1,
                "dtw_n_top": -1, "dtw_mem_size": 128 * _MIB}
    if seen != expected:
        raise RuntimeError(f"the ctypes layout does not match this libwhisper: {seen} != {expected}")
    return seen


def params(lib, threads: int = 1) -> FullParams:
    p = FullParams.from_buffer_copy(lib.whisper_full_default_params_by_ref(0).contents)
    p.n_threads, p.print_progress, p.print_realtime, p.print_timestamps = threads, False, False, False
    p.language = b"en"
    return p


def ctx_params(lib) -> ContextParams:
    cp = ContextParams.from_buffer_copy(lib.whisper_context_default_params_by_ref().contents)
    cp.use_gpu = False
    return cp


def tokens(lib, handle, eot: int, from_state: bool) -> list[list[int]]:
    n_seg = (lib.whisper_full_n_segments_from_state if from_state else lib.whisper_full_n_segments)
    n_tok = (lib.whisper_full_n_tokens_from_state if from_state else lib.whisper_full_n_tokens)
    tok = (lib.whisper_full_get_token_id_from_state if from_state else lib.whisper_full_get_token_id)
    return [[t for t in (tok(handle, s, j) for j in range(n_tok(handle, s))) if t < eot]
            for s in range(n_seg(handle))]


# ---------------------------------------------------------------------- one scenario per process

def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, n: int, model: str) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from _engine_util import speechlike

    audio = speechlike(2.0)
    ptr = audio.ctypes.data_as(C.POINTER(C.c_float))
    base = rss_mib()
    out: dict = {"mode": mode, "workers": n}
    if mode == "engines":
        from lumina import Engine
        engines = [Engine(model, threads=1, warmup=False) for _ in range(n)]
        for e in engines:
            e.wait_ready()
        out["loaded"] = rss_mib() - base
        for e in engines:
            e.transcribe(audio)
    else:
        lib = libwhisper()
        check_layout(lib)
        base = rss_mib()
        p = params(lib)
        if mode == "contexts":
            ctxs = [lib.whisper_init_from_file_with_params(model.encode(), ctx_params(lib)) for _ in range(n)]
            out["loaded"] = rss_mib() - base
            for c in ctxs:
                assert lib.whisper_full(c, p, ptr, len(audio)) == 0
            out["tokens"] = tokens(lib, ctxs[0], lib.whisper_token_eot(ctxs[0]), False)
        else:
            ctx = lib.whisper_init_from_file_with_params_no_state(model.encode(), ctx_params(lib))
            states = [lib.whisper_init_state(ctx) for _ in range(n)]
            out["loaded"] = rss_mib() - base
            eot = lib.whisper_token_eot(ctx)
            out["tokens_per_state"] = []
            started = time.perf_counter()
            for s in states:
                assert lib.whisper_full_with_state(ctx, s, p, ptr, len(audio)) == 0
                out["tokens_per_state"].append(tokens(lib, s, eot, True))
            out["sequential_s"] = time.perf_counter() - started
            out["parallel_s"] = _parallel(lib, ctx, states, p, ptr, len(audio))
            out["tokens_after_parallel"] = [tokens(lib, s, eot, True) for s in states]
    out["ran"] = rss_mib() - base
    out["peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _parallel(lib, ctx, states, p, ptr, n) -> float:
    """All states decode at once, one thread each (ctypes releases the GIL during the call)."""
    codes = []
    threads = [threading.Thread(target=lambda s=s: codes.append(lib.whisper_full_with_state(ctx, s, p, ptr, n)))
               for s in states]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [0] * len(states)
    return time.perf_counter() - started


def run(mode: str, n: int, model: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", mode, str(n), str(model)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="tiny.en", help="random-weight model shape (lumina.testing)")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.child[2])))
        return
    from lumina.testing import make_model

    with tempfile.TemporaryDirectory() as tmp:
        model = make_model(Path(tmp) / f"{args.arch}.bin", args.arch)
        size = model.stat().st_size / _MIB
        print(f"{args.arch} (random weights), file {size:.0f} MiB; RSS growth in MiB over the "
              "process before loading (fresh process per row)")
        print(f"{'workers':>7}  {'way':<9} {'after load':>10} {'after 1 run each':>16} {'peak RSS':>9}")
        reference = None
        for n in (int(x) for x in args.workers.split(",")):
            for mode in ("engines", "contexts", "states"):
                r = run(mode, n, model)
                print(f"{n:>7}  {mode:<9} {r['loaded']:>10.0f} {r['ran']:>16.0f} {r['peak']:>9.0f}")
                if mode == "contexts":
                    reference = r["tokens"]
                if mode == "states":
                    same = all(t == reference for t in r["tokens_per_state"] + r["tokens_after_parallel"])
                    print(f"{'':>7}  states decode the tokens of a plain context: {same}; "
                          f"{n} decodes one after another {r['sequential_s']:.2f} s, "
                          f"all at once on {n} threads {r['parallel_s']:.2f} s")


if __name__ == "__main__":
    main()
