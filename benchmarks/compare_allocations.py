"""Allocations per second of streamed audio on the per-chunk path: this tree against a baseline tree.

Run:  python benchmarks allocations [--baseline main] [--seconds 20] [--repeats 3]

What is counted: every allocation call (malloc, calloc, realloc) the Python
process makes, by all its threads, with ``PYTHONMALLOC=malloc`` (so Python
objects, NumPy arrays and their data all go through malloc) and a 20-line
counting shim preloaded (``LD_PRELOAD``; compiled here with ``cc``). Counts
are not distorted by a busy machine. Free lists (floats, small tuples,
lists) are not allocations; new int objects past 256 are.

Contenders, each fed 20 ms chunks (320 samples of float32 16 kHz, no resampling):

- ``segmenter``: ``Segmenter.feed`` alone;
- ``push``: the source behind ``Stream.feed()``: one chunk written, one read;
- ``stream-silence``: a whole ``Stream`` over an iterable source, in lockstep,
  with an engine stand-in that answers at once: source -> segmenter ->
  scheduler on every chunk, no decode (the model never runs on silence);
- ``stream-speech``: the same over bursts of noise (2 s on, 2 s off), so
  partial decodes are due every 250 ms and finals every 4 s: the per-chunk
  path plus the scheduling of the decodes (the decodes themselves are free).

Reported: allocations, bytes requested, and allocations of 1 KiB or more
(sample buffers: a 20 ms chunk is 1280 bytes), per second of audio. Each is
measured over ``seconds`` and ``2 * seconds`` of audio and reported as
the difference per second of audio, so start-up and shut-down cancel out.

The baseline is another revision's ``lumina/`` (``git archive``) with this
tree's compiled core (the script refuses when ``src/`` differs between the
two); both run in the same session, interleaved, ``--repeats`` times, and the
medians are printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import tempfile

from benchmarks._helpers import BENCHMARKS, child_command

ROOT = BENCHMARKS.parent
CONTENDERS = ("segmenter", "push", "stream-silence", "stream-speech")
SR = 16000
CHUNK = 320

_SHIM = r"""
#include <stddef.h>
#include <stdint.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static uint64_t n_calls, n_bytes, n_large;
static void note(size_t n) {
    __atomic_add_fetch(&n_calls, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&n_bytes, n, __ATOMIC_RELAXED);
    if (n >= 1024) __atomic_add_fetch(&n_large, 1, __ATOMIC_RELAXED);
}
void *malloc(size_t n) { note(n); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note(a * b); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note(n); return __libc_realloc(p, n); }
uint64_t lumina_alloc_calls(void) { return n_calls; }
uint64_t lumina_alloc_bytes(void) { return n_bytes; }
uint64_t lumina_alloc_large(void) { return n_large; }
"""


def build_shim(directory: pathlib.Path) -> pathlib.Path:
    """Compile the counting allocator; raises RuntimeError without a C compiler."""
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        raise RuntimeError("no C compiler (cc) to build the allocation counter")
    source, lib = directory / "count_alloc.c", directory / "count_alloc.so"
    source.write_text(_SHIM)
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(lib), str(source)], check=True)
    return lib


def measure(shim: pathlib.Path, tree: pathlib.Path | None = None, seconds: float = 20.0) -> dict:
    """Run the contenders in a child process with the counter.

    Returns ``{contender: (allocations/s, bytes/s, allocations of 1 KiB or more/s)}``
    per second of audio; 1 KiB is 256 float32 samples, so the last column counts
    sample buffers (a 20 ms chunk is 1280 bytes).
    """
    env = dict(os.environ, LD_PRELOAD=str(shim), PYTHONMALLOC="malloc")
    if tree is not None:       # a baseline tree; None: the installed lumina
        env["PYTHONPATH"] = str(tree)
    out = subprocess.run(child_command("allocations", "--child", "--seconds", str(seconds)),
                         env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------------- the child


def _signal(seconds: float, speech: bool):
    import numpy as np
    audio = np.zeros(round(seconds * SR), np.float32)
    if speech:
        rng = np.random.default_rng(0)
        for start in range(SR, len(audio) - 2 * SR, 4 * SR):
            audio[start:start + 2 * SR] = 0.1 * rng.standard_normal(2 * SR)
    return [audio[i:i + CHUNK] for i in range(0, len(audio), CHUNK)]


class _Instant:
    """An engine stand-in: the same empty transcript at once, so only lumina's path is counted."""

    def __init__(self) -> None:
        from lumina.asr.transcript import Timings, Transcript
        self._answer = Transcript("", (), "en", "cpu", Timings())

    is_ready, device = True, "cpu"

    def close(self) -> None:
        pass

    def transcribe_samples(self, audio, options, **hooks):   # the engine protocol
        return self._answer

    def transcribe(self, audio, **options):   # what a baseline revision before the protocol calls
        return self._answer


def _run_segmenter(chunks) -> None:
    from lumina import Segmenter
    seg = Segmenter()
    for chunk in chunks:
        seg.feed(chunk)


def _push_source():
    try:
        from lumina.audio.push import PushSource
        return PushSource(10.0, reuse_chunks=True)
    except ImportError:  # the baseline: the push source lived inside stream.py
        from lumina.streaming.stream import _PushSource
        return _PushSource(10.0)


def _run_push(chunks) -> None:
    source = _push_source()
    for chunk in chunks:
        source.write(chunk)
        next(source)


def _run_stream(chunks) -> None:
    import lumina
    if hasattr(lumina, "StreamOptions"):
        stream = lumina.Stream(_Instant(), source=chunks, options=lumina.StreamOptions(lockstep=True))
    else:  # a baseline revision, before the stream's options were grouped
        stream = lumina.Stream(engine=_Instant(), source=chunks, lockstep=True)
    for _ in stream:
        pass


def _count(run, chunks) -> tuple[int, int, int]:
    import ctypes
    lib = ctypes.CDLL(None)
    counters = (lib.lumina_alloc_calls, lib.lumina_alloc_bytes, lib.lumina_alloc_large)
    for counter in counters:
        counter.restype = ctypes.c_uint64
    before = [counter() for counter in counters]
    run(chunks)
    return tuple(counter() - b for counter, b in zip(counters, before))


def child(seconds: float) -> None:
    import lumina  # noqa: F401  # imported before counting
    runs = {"segmenter": (_run_segmenter, True), "push": (_run_push, True),
            "stream-silence": (_run_stream, False), "stream-speech": (_run_stream, True)}
    result = {}
    for name, (run, speech) in runs.items():
        run(_signal(2.0, speech))                        # warm-up: imports, caches, pools
        short, long = _count(run, _signal(seconds, speech)), _count(run, _signal(2 * seconds, speech))
        result[name] = tuple((b - a) / seconds for a, b in zip(short, long))
    print(json.dumps(result))


# ---------------------------------------------------------------------- the parent


def baseline_tree(ref: str, directory: pathlib.Path) -> pathlib.Path:
    """``ref``'s lumina/ with the installed compiled core (refused when src/ differs)."""
    if subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", ref, "--", "src"]).returncode:
        raise SystemExit(f"src/ differs between {ref} and this tree: build {ref} and pass its tree instead")
    tree = directory / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "lumina"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    for name in ("fingerprint", "pcm", "pool", "ringbuffer", "vad"):
        lib = pathlib.Path(importlib.util.find_spec(f"lumina._core.{name}").origin)
        shutil.copy2(lib, tree / "lumina" / "_core" / lib.name)
    return tree


def main(argv: list[str] | None = None) -> int | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git revision to compare with (default main)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.seconds)
        return
    with tempfile.TemporaryDirectory(prefix="lumina-alloc-") as tmp:
        tmp = pathlib.Path(tmp)
        shim = build_shim(tmp)
        trees = {args.baseline: baseline_tree(args.baseline, tmp), "installed": None}
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        for _ in range(args.repeats):            # interleaved: baseline, this tree, baseline...
            for name, tree in trees.items():
                runs[name].append(measure(shim, tree, args.seconds))
    print(f"allocations per second of 16 kHz audio in 20 ms chunks (median of {args.repeats}; "
          f"{args.seconds:g} s vs {2 * args.seconds:g} s of audio)")
    print(f"{'':<16}" + "".join(f"{name:>40}" for name in trees))
    print(f"{'contender':<16}" + f"{'allocs/s':>14}{'bytes/s':>14}{'>=1KiB/s':>12}" * len(trees))
    for contender in CONTENDERS:
        row = f"{contender:<16}"
        for name in trees:
            calls, size, large = (statistics.median(r[contender][k] for r in runs[name]) for k in range(3))
            row += f"{calls:>14.0f}{size:>14.0f}{large:>12.1f}"
        print(row)

