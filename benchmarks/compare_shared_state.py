"""N whisper.cpp workers on one copy of the weights: memory of the ways to get N workers.

pywhispercpp 1.5.1's ``_pywhispercpp`` module has no ``whisper_init_state`` or
``whisper_full_with_state``; the libwhisper it links does, and lumina reaches
it with ctypes (:mod:`lumina.asr.whisper_abi`, :mod:`lumina.asr.shared_model`).
Each row runs in a fresh process:

``engines``   N lumina Engines (what ``lumina serve --workers N`` did before: N copies)
``engine``    one ``Engine(concurrency=N, shared_weights=True)``: one model, N states
              (what ``lumina serve --workers N`` does now)
``contexts``  N ``whisper_init_from_file_with_params`` contexts (raw ctypes)
``states``    one ``whisper_init_from_file_with_params_no_state`` context and N
              ``whisper_init_state`` states, each run with ``whisper_full_with_state``

RSS is read after loading and after one transcription per worker (whisper.cpp
allocates its compute buffers in the state; the ``engine`` row runs its N
transcriptions at once). The ``engine``, ``engines`` and ``states`` rows check
that they decode exactly the tokens a plain context decodes; ``states`` also
times N states run by N threads at once against one after another.

Run: ``python benchmarks shared_state [--arch tiny.en] [--workers 1,2,4]``.
Counts of bytes are not distorted by a busy machine; the timing line is.
"""

from __future__ import annotations

import argparse
import ctypes as C
import json
import resource
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from benchmarks._helpers import child_command

_MIB = 1024 * 1024


# ---------------------------------------------------------------------- whisper.cpp through lumina's ctypes layer

_EXTRA = {  # what lumina.asr.whisper_abi does not declare: the plain-context calls
    "whisper_init_from_file_with_params": ([C.c_char_p, "ContextParams"], C.c_void_p),
    "whisper_full": ([C.c_void_p, "FullParams", C.POINTER(C.c_float), C.c_int], C.c_int),
    "whisper_full_n_segments": ([C.c_void_p], C.c_int),
    "whisper_full_n_tokens": ([C.c_void_p, C.c_int], C.c_int),
    "whisper_full_get_token_id": ([C.c_void_p, C.c_int, C.c_int], C.c_int),
    "whisper_full_get_token_id_from_state": ([C.c_void_p, C.c_int, C.c_int], C.c_int),
}


def libwhisper() -> C.CDLL:
    """The libwhisper pywhispercpp links, as lumina reaches it (layout checked), plus the plain calls."""
    from lumina.asr import whisper_abi

    lib = whisper_abi.library()
    for name, (args, result) in _EXTRA.items():
        fn = getattr(lib, name)
        fn.argtypes = [getattr(whisper_abi, a) if isinstance(a, str) else a for a in args]
        fn.restype = result
    return lib


def params(lib, threads: int = 1):
    from lumina.asr import whisper_abi

    p = whisper_abi._defaults(lib, 0)
    p.n_threads, p.print_progress, p.print_realtime, p.print_timestamps = threads, False, False, False
    p.language = b"en"
    return p


def ctx_params(lib):
    from lumina.asr.shared_model import _context_params

    return _context_params(lib, False, 0, True)


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
    from lumina.testing import speechlike

    audio = speechlike(2.0)
    ptr = audio.ctypes.data_as(C.POINTER(C.c_float))
    base = rss_mib()
    out: dict = {"mode": mode, "workers": n}
    if mode in ("engines", "engine"):
        from lumina import Engine
        if mode == "engines":
            engines = [Engine(model, threads=1, warmup=False) for _ in range(n)]
        else:
            engines = [Engine(model, threads=1, warmup=False, concurrency=n, shared_weights=True)] * n
        for e in engines:
            e.wait_ready()
        out["loaded"] = rss_mib() - base
        results = [None] * n
        runners = [threading.Thread(target=lambda i=i: results.__setitem__(i, engines[i].transcribe(audio)))
                   for i in range(n)]
        for t in runners:
            t.start()
        for t in runners:
            t.join()
        out["tokens_per_state"] = [[[t.id for t in s.tokens] for s in r.segments] for r in results]
    else:
        lib = libwhisper()
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
    done = subprocess.run(child_command("shared_state", "--child", mode, str(n), str(model)),
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="tiny.en", help="random-weight model shape (lumina.testing)")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.child[2])))
        return
    from lumina.testing import make_model

    with tempfile.TemporaryDirectory() as tmp:
        model = make_model(Path(tmp) / f"{args.arch}.bin", args.arch)
        size = model.stat().st_size / _MIB
        print(f"{args.arch} (random weights), file {size:.0f} MiB; RSS growth in MiB over the "
              "process before loading (fresh process per row)")
        print(f"{'workers':>7}  {'way':<9} {'after load':>10} {'after 1 run each':>16} {'peak RSS':>9}"
              "  tokens = plain context")
        for n in (int(x) for x in args.workers.split(",")):
            rows = {mode: run(mode, n, model) for mode in ("contexts", "engines", "engine", "states")}
            reference = rows["contexts"]["tokens"]
            for mode, r in rows.items():
                decoded = r.get("tokens_per_state", []) + r.get("tokens_after_parallel", [])
                same = "" if mode == "contexts" else str(all(t == reference for t in decoded))
                print(f"{n:>7}  {mode:<9} {r['loaded']:>10.0f} {r['ran']:>16.0f} {r['peak']:>9.0f}"
                      f"  {same}")
            states = rows["states"]
            print(f"{'':>7}  states: {n} decodes one after another {states['sequential_s']:.2f} s, "
                  f"all at once on {n} threads {states['parallel_s']:.2f} s (busy machine: indicative)")

