"""What whisper.cpp's temperature fallback costs where lumina now skips it (warm-up, fast decodes).

Run: python benchmarks decoding [--arch tiny.en] [--repeat 5]

On a confident and an unsure ``lumina.testing`` model (``decoding="unsure"``:
greedy decodes fail whisper.cpp's log-probability threshold), each with
short and realistic transcript lengths, in one run with the contenders taking
turns:

- ready: load + warm-up as the Engine does it now (one greedy pass) against
  load + the same warm-up call with whisper.cpp's default fallback (what the
  Engine did before), in fresh contexts;
- fast decode of a 2 s clip: one greedy pass (now) against the same call with
  the fallback allowed (before);
- accurate decode of the same clip, which keeps the fallback;
- the price of fast contexts in whole 256-frame blocks (now; whisper.cpp
  attends to the padding of a partial block, which holds rows earlier calls
  wrote) against audio + 0.64 s (before), on 5 s and 8 s clips of the
  confident short model.

Medians of wall time, and the decoder steps whisper.cpp sampled (a count, not
distorted by a busy machine): a fallback adds 5 sampled decoders per step.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

from lumina.asr.backend import DecodeOptions, WhisperModel
from lumina.asr.loading import WARMUP_AUDIO_CTX, warmup_audio
from lumina.asr.speed import FAST_MIN_TOKENS, fast_options
from lumina.audio.convert import SAMPLE_RATE
from lumina.testing import make_model, speechlike

THREADS = 2


def ready(path: Path, fallback: bool) -> tuple[float, int]:
    started = time.perf_counter()
    model = WhisperModel(path)
    options = DecodeOptions(n_threads=THREADS, language="en", audio_ctx=WARMUP_AUDIO_CTX,
                            max_tokens=FAST_MIN_TOKENS, temperature_fallback=fallback)
    steps = model.run(warmup_audio(), options).decoder_steps
    elapsed = time.perf_counter() - started
    model.close()
    return elapsed, steps


def decode(model: WhisperModel, audio, options: DecodeOptions) -> tuple[float, int]:
    started = time.perf_counter()
    steps = model.run(audio, options).decoder_steps
    return time.perf_counter() - started, steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="tiny.en")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="lumina-bench-decoding-"))
    audio = speechlike(args.seconds)
    accurate = DecodeOptions(n_threads=THREADS, language="en")
    fast, _ = fast_options(accurate, len(audio), 1500)
    contenders = {
        "ready, greedy warm-up (now)": lambda p, m: ready(p, False),
        "ready, warm-up with fallback (before)": lambda p, m: ready(p, True),
        "fast, greedy (now)": lambda p, m: decode(m, audio, fast),
        "fast, with fallback (before)": lambda p, m: decode(
            m, audio, dataclasses.replace(fast, temperature_fallback=True)),
        "accurate (fallback kept)": lambda p, m: decode(m, audio, accurate),
    }
    print(f"{args.arch}, {THREADS} threads, {args.seconds} s speech-like clip, {args.repeat} rounds; "
          f"load average {os.getloadavg()[0]:.2f}")
    for lengths in ("short", "realistic"):
        for decoding in ("confident", "unsure"):
            path = make_model(tmp / f"{decoding}-{lengths}.bin", args.arch, decoding=decoding, lengths=lengths)
            model = WhisperModel(path)
            decode(model, audio, fast)  # first-use costs
            samples = {name: [] for name in contenders}
            for _ in range(args.repeat):
                for name, run in contenders.items():
                    samples[name].append(run(path, model))
            model.close()
            print(f"\n{decoding}, lengths={lengths}")
            for name, values in samples.items():
                wall = statistics.median(v[0] for v in values)
                steps = sorted({v[1] for v in values})
                print(f"  {name:<40} {1000 * wall:7.0f} ms   decoder steps {steps}")
    block_price(make_model(tmp / "blocks.bin", args.arch), args.repeat)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    return 0


def block_price(path: Path, repeat: int) -> None:
    model = WhisperModel(path)
    print("\nfast context: whole blocks (now) vs audio + 0.64 s (before)")
    for seconds in (5.0, 8.0):
        clip = speechlike(seconds)
        now, _ = fast_options(DecodeOptions(n_threads=THREADS, language="en"), len(clip), 1500)
        before = dataclasses.replace(now, audio_ctx=int(seconds * 50) + 32)
        times = {"now": [], "before": []}
        decode(model, clip, now)
        for _ in range(repeat):
            times["now"].append(decode(model, clip, now)[0])
            times["before"].append(decode(model, clip, before)[0])
        print(f"  {len(clip) / SAMPLE_RATE:.0f} s: {now.audio_ctx} frames "
              f"{1000 * statistics.median(times['now']):5.0f} ms, {before.audio_ctx} frames "
              f"{1000 * statistics.median(times['before']):5.0f} ms")
    model.close()

