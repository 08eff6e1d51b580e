"""lumina against faster-whisper on the same weights: a whole utterance, and end of speech -> final.

Run: python benchmarks peer [--arch tiny.en] [--lengths realistic]
         [--decoding confident] [--repeat 5] [--utterances 4] [--threads 2]

The peer is benchmarks/peer_stream.py (faster-whisper, CTranslate2 int8, the
way RealtimeSTT and WhisperLive stream); it needs faster-whisper, here or in
``$LUMINA_PEER_PYTHON`` / ``.peerenv`` (see ../shared/peer/README.md). Without
it this prints why and exits 0.

1. Whole utterance: each espeak-ng utterance decoded in one call, medians over
   ``--repeat`` rounds, contenders taking turns each round: lumina fast (one
   greedy pass, cut encoder context), lumina accurate (whisper.cpp defaults),
   faster-whisper with its defaults (beam 5, temperature fallback) and
   faster-whisper greedy (beam 1, temperature 0). Tokens decoded are printed
   beside the times: a comparison is fair only where they match, which is why
   the default model is ``lengths="realistic"`` (about three tokens per second
   of sound in both engines; a short model decodes 2-3 tokens in whisper.cpp but
   runs long in faster-whisper, which pads the log-mel, not the audio).
2. Streaming: the utterances with 1.5 s of silence around each, fed in 20 ms
   chunks at real-time pace; end of speech -> final per utterance for lumina's
   Stream (fast finals and accurate finals, 300 ms hang-over) and for the
   peer (energy VAD and faster-whisper's Silero VAD, 300 ms hang-over, then
   faster-whisper's defaults on the whole utterance).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import tempfile
import time

import numpy as np

from benchmarks import peer_stream
from benchmarks.peer_stream import PeerUnavailable
from lumina import Engine, Final, Segmenter, Stream, StreamOptions
from lumina.evaluation.utterances import speak
from lumina.testing import make_model

SR = peer_stream.SR
PHRASES = ["Open the pod bay doors please", "Turn on the kitchen lights",
           "What is the weather like tomorrow in Paris", "Call mom"]


def utterances(n: int, tmp: pathlib.Path) -> list[np.ndarray]:
    return [speak(PHRASES[i % len(PHRASES)], tmp / f"u{i}.wav") for i in range(n)]


def signal(clips: list[np.ndarray], gap_s: float = 1.5):
    gap = np.zeros(round(gap_s * SR), np.float32)
    parts, spans, pos = [gap], [], len(gap)
    for clip in clips:
        parts += [clip, gap]
        spans.append((pos, pos + len(clip)))
        pos += len(clip) + len(gap)
    return np.concatenate(parts), spans


def lumina_whole(engine: Engine, clips, speed: str) -> list[dict]:
    out = []
    for clip in clips:
        started = time.perf_counter()
        t = engine.transcribe(clip, speed=speed)
        out.append({"s": time.perf_counter() - started, "tokens": sum(len(s.tokens) for s in t.segments),
                    "speed": t.speed})
    return out


def lumina_stream(engine: Engine, audio: np.ndarray, spans, final_speed: str) -> list[float]:
    """End of speech -> Final per span, audio fed at real-time pace in 20 ms chunks."""
    finals: list[tuple[float, Final]] = []
    stream = Stream(engine, options=StreamOptions(final_speed=final_speed),
                    segmenter=Segmenter(hangover_ms=peer_stream.HANGOVER_MS),
                    on_event=lambda e: finals.append((time.monotonic(), e)) if isinstance(e, Final) else None)
    stream.start()
    t0 = time.monotonic()
    for i in range(0, len(audio), peer_stream.CHUNK):
        delay = t0 + (i + peer_stream.CHUNK) / SR - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        stream.feed(audio[i:i + peer_stream.CHUNK])
    stream.close_input()
    stream.join()
    out = []
    for k, (_, stop) in enumerate(spans):
        arrival = t0 + ((stop - 1) // peer_stream.CHUNK + 1) * peer_stream.CHUNK / SR
        done = [t for t, e in finals if e.utterance_id == k]
        out.append(done[0] - arrival if done else float("nan"))
    return out


def ms(values) -> str:
    ok = [v for v in values if v == v]
    return f"{1000 * statistics.median(ok):6.0f} ms (max {1000 * max(ok):5.0f})" if ok else "n/a"


def whole_table(clips, engine, model, repeat: int, threads: int) -> None:
    rows = {"lumina fast": [], "lumina accurate": [], "faster-whisper default": [],
            "faster-whisper greedy": []}
    tokens: dict[str, list[int]] = {}
    for _ in range(repeat):
        runs = {"lumina fast": lumina_whole(engine, clips, "fast"),
                "lumina accurate": lumina_whole(engine, clips, "accurate"),
                "faster-whisper default": peer_stream.whole_utterances(clips, model, threads=threads),
                "faster-whisper greedy": peer_stream.whole_utterances(clips, model, preset="greedy",
                                                                      threads=threads)}
        for name, result in runs.items():
            rows[name].append([r["s"] for r in result])
            tokens[name] = [r["tokens"] for r in result]
    lengths = " ".join(f"{len(c) / SR:.2f}" for c in clips)
    print(f"\nwhole utterance, one call each (utterances of {lengths} s; median over {repeat} rounds)")
    for name, per_round in rows.items():
        medians = [statistics.median(r[k] for r in per_round) for k in range(len(clips))]
        print(f"  {name:<24} " + "  ".join(f"{1000 * m:6.0f} ms" for m in medians)
              + f"   tokens {tokens[name]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="tiny.en")
    parser.add_argument("--lengths", default="realistic", choices=("short", "realistic"))
    parser.add_argument("--decoding", default="confident", choices=("confident", "unsure"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--utterances", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vad", default="energy,silero")
    args = parser.parse_args(argv)
    reason = peer_stream.unavailable_reason()
    if reason:
        print(f"faster-whisper peer skipped: {reason}")
        return 0
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="lumina-bench-peer-"))
    model = make_model(tmp / f"{args.arch}-{args.decoding}-{args.lengths}.bin", args.arch,
                       decoding=args.decoding, lengths=args.lengths)
    clips = utterances(args.utterances, tmp)
    print(f"random-weight {args.arch} (f16 in whisper.cpp, int8 in CTranslate2), decoding={args.decoding}, "
          f"lengths={args.lengths}, {args.threads} threads each; load average {os.getloadavg()[0]:.2f}")
    try:
        with Engine(model, threads=args.threads) as engine:
            engine.wait_ready()
            whole_table(clips, engine, model, args.repeat, args.threads)
            audio, spans = signal(clips)
            print(f"\nstreaming, end of speech -> final ({len(spans)} utterances, "
                  f"{peer_stream.HANGOVER_MS} ms hang-over; median and max)")
            for final_speed in ("fast", "accurate"):
                print(f"  lumina Stream, final_speed={final_speed!r:<11} "
                      f"{ms(lumina_stream(engine, audio, spans, final_speed))}", flush=True)
        for vad in args.vad.split(","):
            peer = peer_stream.run_peer(audio, spans, model, vad=vad, threads=args.threads)
            print(f"  faster-whisper, {vad} VAD{'':<13} {ms(peer['end'])}   tokens {peer['tokens']}",
                  flush=True)
    except PeerUnavailable as e:  # pragma: no cover - checked above
        print(f"faster-whisper peer skipped: {e}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0

