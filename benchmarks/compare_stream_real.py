"""Streams on real speech with the real tiny.en: latency, words and non-speech, beside faster-whisper.

Run (quiet machine):  python benchmarks stream_real [--sentences 12] [--threads 2] [--busy]
                          [--no-peer] [--contenders default,fast,accurate]

What it answers (issue 20's table): how soon the text appears and is final after a person
stops speaking, how many words the Final and the complete partial get wrong, whether the
complete partial drops words the Final has at a pause inside a sentence, how many
utterances and words noise and music produce, and what listening and speaking cost.

The signal: 1 s of silence, then ``--sentences`` sentences of lumina.evaluation's corpus
(hibari-tts and espeak-ng voices alternating; every third sentence is cut at its comma and
its halves joined with 500 ms of silence), 1.5 s of silence between them, over a -60 dB noise
floor, then 10 s of silence. A feeder pushes it through ``Stream.feed`` in 20 ms chunks at
real-time pace (compare_stream's Feeder). Then 40 s of non-speech (music, hum, keyboard clicks,
pink noise, each faded in and out over 300 ms) go through the same stream settings.

Columns, medians over sentences: onset -> first partial (arrival of the first speech sample to
the first partial with text); end -> whole text (arrival of the last speech sample to the first
complete partial or Final of the sentence); end -> Final; WER of the Finals and of the complete
partials (OpenAI's normaliser, jiwer); words of the Final missing from the complete partial,
summed over the paused sentences; splits (Finals beyond one per sentence); CPU while listening
to silence and while speaking (100% = one core); RTF (decode and segmenter time over audio
time); utterances and words from the non-speech scene. ``--busy`` repeats the default row
with another process spinning on one core. faster-whisper's row is the pipeline RealtimeSTT
and WhisperLive use (an energy VAD's end, then the whole utterance with faster-whisper's
defaults; benchmarks/peer_stream.py) on the same CTranslate2 weights.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import pathlib
import statistics
import tempfile

import numpy as np

from benchmarks import peer_stream
from benchmarks.compare_stream import feed_in_real_time, span_index
from lumina import Engine, Final, Partial, SpeechStarted, Stream, StreamOptions
from lumina.audio.convert import SAMPLE_RATE as SR
from lumina.evaluation import (ESPEAK_VOICES, HIBARI_VOICES, SENTENCES, SpeechRenderer, non_speech,
                               normalise, word_errors)
from lumina.models import ModelStore

GOALS = ("goals: onset->1st partial <= 250 ms; end->whole <= 150 ms; end->Final <= 350 ms; "
         "WER Final <= file + 0.5; complete <= Final + 1; 0 from noise; RTF <= 0.15; silence CPU <= 3%")
CONTENDERS = {
    "default": {},
    "fast": {"final_speed": "fast"},
    "accurate": {"final_speed": "accurate"},
    "fast beam 1": {"final_speed": "fast", "final_beam_size": 1},
    "fast beam 5": {"final_speed": "fast", "final_beam_size": 5},
    "accurate beam 5": {"final_speed": "accurate", "final_beam_size": 5},
    "no budget": {"decode_budget": None},   # a partial every step: the baseline of the decode budget
}
NON_SPEECH_SCENE = ("music -25 dB", "mains hum -30 dB", "keyboard clicks -35 dB", "pink noise -30 dB")


def build_signal(speech: SpeechRenderer, n: int):
    """(audio, [(onset, end)], references, paused flags, index where the trailing silence starts)."""
    voices = HIBARI_VOICES[:1] + ESPEAK_VOICES[:1]
    gap = np.zeros(int(1.5 * SR), np.float32)
    parts, spans, refs, paused, pos = [np.zeros(SR, np.float32)], [], [], [], SR
    chosen = [s for s in SENTENCES if "," in s][: n // 3] + [s for s in SENTENCES if "," not in s]
    for i, text in enumerate(chosen[:n]):
        voice = voices[i % len(voices)]
        if "," in text:   # a sentence with a comma: cut there, its halves 500 ms apart
            head, tail = text.split(",", 1)
            audio = np.concatenate([trimmed(speech.render(head + ",", voice)),
                                    np.zeros(SR // 2, np.float32),
                                    trimmed(speech.render(tail.strip(), voice))])
        else:
            audio = trimmed(speech.render(text, voice))
        spans.append((pos, pos + len(audio)))
        refs.append(text)
        paused.append("," in text)
        parts += [audio, gap]
        pos += len(audio) + len(gap)
    parts.append(np.zeros(10 * SR, np.float32))
    audio = np.concatenate(parts)
    floor = non_speech("noise floor -60 dB", len(audio) / SR + 1, seed=9)[:len(audio)]
    return (audio + floor).astype(np.float32), spans, refs, paused, pos


def trimmed(audio: np.ndarray, floor_db: float = -40.0) -> np.ndarray:
    """The clip from its first to its last 10 ms frame within ``floor_db`` of its loudest frame:
    a rendering's own leading and trailing silence would otherwise count as speech, and the
    latencies "after the end of speech" would start too late."""
    frame = SR // 100
    n = len(audio) // frame
    rms = np.sqrt(np.mean(audio[:n * frame].reshape(n, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (floor_db / 20))
    return audio[loud[0] * frame:(loud[-1] + 1) * frame]


def run(engine, audio, spans, quiet_from, options: dict) -> dict:
    """One stream over the signal at real-time pace; the issue's measures per sentence."""
    events, feeder, stats = feed_in_real_time(engine, audio, quiet_from, options)
    text_events = [(t, e) for t, e in events if isinstance(e, (Partial, Final))]
    owner = _owners(text_events, spans)
    rows = []
    for k, (onset, stop) in enumerate(spans):
        mine = [(t, e) for t, e in text_events if owner.get(e.utterance_id) == k]
        partials = [t for t, e in mine if isinstance(e, Partial) and e.text]
        finals = [(t, e) for t, e in mine if isinstance(e, Final)]
        utterances = list(dict.fromkeys(e.utterance_id for _, e in mine))
        # The sentence is whole on screen when its last utterance first shows text decoded up to
        # the end of speech: its Final, or a complete partial whose audio reaches within 300 ms
        # (the sentence-end hang-over) of the spoken end; an eager speculation at a pause inside
        # the sentence is complete too, but not whole.
        whole = [t for t, e in mine if e.utterance_id == utterances[-1] and (
            isinstance(e, Final) or (e.complete and e.audio_time >= stop / SR - 0.3))] \
            if utterances else []
        rows.append({
            "first": partials[0] - feeder.arrival(onset) if partials else float("nan"),
            "whole": min(whole) - feeder.arrival(stop - 1) if whole else float("nan"),
            "final": finals[-1][0] - feeder.arrival(stop - 1) if finals else float("nan"),
            "final_text": " ".join(e.text for _, e in finals),
            # per utterance of the sentence (a pause may split it): its last complete partial,
            # or its Final when it had none
            "complete_text": " ".join(_first_whole_text(mine, u) for u in utterances),
            "finals": len(finals),
        })
    return {"rows": rows, "silence_cpu": feeder.cpu_percent("quiet", "end"),
            "speech_cpu": feeder.cpu_percent("start", "quiet"),
            "rtf": (stats.decode_s + stats.segment_s) / stats.audio_s,
            "utterances": sum(isinstance(e, SpeechStarted) for _, e in events)}


def _first_whole_text(events, utterance_id) -> str:
    """The text an utterance first showed whole: its last complete partial, else its Final."""
    own = [e for _, e in events if e.utterance_id == utterance_id]
    complete = [e.text for e in own if isinstance(e, Partial) and e.complete]
    return complete[-1] if complete else " ".join(e.text for e in own if isinstance(e, Final))


def _owners(text_events, spans) -> dict[int, int]:
    """Stream utterance id -> the spoken sentence it overlaps most (from its Final's times)."""
    return {e.utterance_id: span_index(spans, e.start, e.end) for _, e in text_events
            if isinstance(e, Final)}


def non_speech_scene(engine, options: dict) -> tuple[int, int]:
    """(utterances opened, words written) on 40 s of music, hum, clicks and noise."""
    audio = np.concatenate([_faded(non_speech(name, 10.0, seed=5)) for name in NON_SPEECH_SCENE])
    events = list(Stream(engine, source=[audio[i:i + 320] for i in range(0, len(audio), 320)],
                         options=StreamOptions(**options, lockstep=True)))
    words = sum(len(normalise(e.text).split()) for e in events if isinstance(e, (Partial, Final)))
    return sum(isinstance(e, SpeechStarted) for e in events), words


def _faded(x: np.ndarray, seconds: float = 0.3) -> np.ndarray:
    """``x`` faded in and out, as sounds start and stop in a room (no cut from one to the next)."""
    ramp = np.linspace(0.0, 1.0, int(seconds * SR), dtype=np.float32)
    out = x.copy()
    out[:len(ramp)] *= ramp
    out[-len(ramp):] *= ramp[::-1]
    return out


def _spin(stop) -> None:
    while not stop.is_set():
        pass


def summarise(name: str, result: dict, refs, paused, scene) -> str:
    rows = result["rows"]
    med = lambda key: statistics.median(r[key] for r in rows if r[key] == r[key]) * 1000  # noqa: E731
    wer_final = word_errors(refs, [r["final_text"] for r in rows]).rate
    wer_complete = word_errors(refs, [r["complete_text"] for r in rows]).rate
    dropped = sum(len(set(normalise(r["final_text"]).split()) - set(normalise(r["complete_text"]).split()))
                  for r, p in zip(rows, paused) if p)
    splits = sum(max(0, r["finals"] - 1) for r in rows)
    return (f"| {name} | {med('first'):.0f} | {med('whole'):.0f} | {med('final'):.0f} | "
            f"{wer_final * 100:.1f}% | {wer_complete * 100:.1f}% | {dropped} | {splits} | "
            f"{result['silence_cpu']:.1f}% | {result['speech_cpu']:.0f}% | {result['rtf']:.3f} | "
            f"{scene[0]} / {scene[1]} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--contenders", default="default,fast,accurate",
                        help=f"comma-separated, from {', '.join(CONTENDERS)}")
    parser.add_argument("--busy", action="store_true", help="add the default row with one core kept busy")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--models", default="tiny.en",
                        help="comma-separated store names; several take turns row by row (tiny.en,tiny.en-q8_0)")
    parser.add_argument("--cache", default=str(pathlib.Path(tempfile.gettempdir()) / "lumina-eval"))
    args = parser.parse_args(argv)
    speech = SpeechRenderer(args.cache)
    store = ModelStore(pathlib.Path(args.cache) / "models", offline=True)
    models = [m.strip() for m in args.models.split(",")]
    audio, spans, refs, paused, quiet_from = build_signal(speech, args.sentences)
    names = [n.strip() for n in args.contenders.split(",")]
    print(f"{len(spans)} sentences ({sum(paused)} with a 500 ms pause at a comma), {len(audio) / SR:.0f} s, "
          f"real tiny.en, {args.threads} threads\n{GOALS}")
    print("| stream | onset->1st partial ms | end->whole ms | end->Final ms | WER Final | WER complete | "
          "words dropped at pauses | splits | CPU silence | CPU speech | RTF | noise: utterances / words |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    with contextlib.ExitStack() as stack:
        engines = {m: stack.enter_context(Engine(store.find(m), threads=args.threads)) for m in models}
        for engine in engines.values():
            engine.wait_ready()
        runs = [(n, CONTENDERS[n], False) for n in names] + ([("default, one core busy", {}, True)]
                                                           if args.busy else [])
        # Several models take turns on each row, so a slow moment of the machine hits them alike.
        runs = [(name if len(models) == 1 else f"{name} [{m}]", options, busy, engines[m])
                for name, options, busy in runs for m in models]
        for name, options, busy, engine in runs:
            stop = multiprocessing.Event()
            spinner = multiprocessing.Process(target=_spin, args=(stop,)) if busy else None
            if spinner:
                spinner.start()
            try:
                result = run(engine, audio, spans, quiet_from, options)
            finally:
                if spinner:
                    stop.set()
                    spinner.join()
            print(summarise(name, result, refs, paused, non_speech_scene(engine, options)), flush=True)
    if not args.no_peer:
        try:
            peer = peer_stream.run_peer(audio, spans, store.provenance("tiny.en")["source"],
                                        threads=args.threads)
        except peer_stream.PeerUnavailable as exc:
            print(f"faster-whisper pipeline skipped: {exc}")
        else:
            end = statistics.median(x for x in peer["end"] if x == x) * 1000
            wer = word_errors(refs, peer["texts"]).rate
            print(f"| faster-whisper pipeline (energy VAD, whole utterance, beam 5) | n/a | {end:.0f} | "
                  f"{end:.0f} | {wer * 100:.1f}% | n/a | n/a | {peer['utterances'] - len(spans)} | | | | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
