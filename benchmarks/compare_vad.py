"""Compare the voice activity detectors: accuracy on a labelled corpus, CPU, throughput.

Run:  python benchmarks vad [--seeds 2] [--policy] [--silence-skip] [--no-throughput]
                                                    [--no-listen] [--quick]

1. Accuracy (energy, webrtc, silero), on a corpus made now with espeak-ng
   (:mod:`lumina.evaluation.scenes`): speech with known boundaries over white and pink
   noise, babble, a music-like tone mix and keyboard-like clicks at SNR 20,
   10, 5 and 0 dB. Per background and SNR: frame-level (10 ms) precision,
   recall and F1 of "inside an utterance", median onset and offset error of
   the utterances found, utterances missed, and utterances opened on noise
   alone. Then each background alone (30 s per seed at -40, -30 and -20 dBFS,
   and digital silence): the utterances opened. Then CPU per second of audio.
   Detectors are run scene by scene in turn, so machine load hits all alike.
2. ``--policy``: Silero's state policy (reset after K quiet windows, at
   speech R seconds after the last reset, priming a reset state with the
   last P seconds) on the same corpus and on the noise-swell scenes that
   motivated it (``lumina.audio.vad.silero`` explains the choice).
3. ``--silence-skip``: Silero with and without its near-silence skip on the corpus turned
   down as a quiet microphone records it (speech found, CPU), and on a -60 dBFS floor alone.
4. Throughput of the energy VAD against a numpy baseline, and CPU while
   listening to a silent PulseAudio monitor (as before).
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import shutil
import statistics
import tempfile
import time

import numpy as np

from benchmarks._helpers import median_time
from benchmarks.bench_vad import _signal, numpy_vad
from lumina import MicrophoneSource, Segmenter
from lumina.audio.convert import SAMPLE_RATE as SR
from lumina.audio.vad import EnergyVAD, make_vad
from lumina.audio.vad.factory import SILERO_MIN_SPEECH_MS, SILERO_THRESHOLD
from lumina.audio.vad.silero import SILENCE_DB, SileroVAD
from lumina.evaluation.phrases import SpeechBank
from lumina.evaluation.scenes import (KINDS, SNRS, FrameRates, Scene, noise_scene, scene, score,
                                      swell_scene)
DETECTORS = ("energy", "webrtc", "silero")
# K/R/P: reset after K quiet windows, at speech R s after the last reset, priming P s (0: off).
# The default is 3/1/0.5.
POLICIES = ("silero 0/0", "silero 3/0", "silero 0/1", "silero 3/1", "silero 3/1/0.25", "silero 3/1/0.5")


# ---------------------------------------------------------------- scoring detectors on the corpus
# A detector is judged by the utterances its decisions make: runs of speech frames after its own
# hysteresis (minimum speech 100 ms, hang-over 300 ms, the segmenter's defaults), so every
# contender is scored on what the segmenter would open and close.

START_FRAMES, END_FRAMES, FRAME_MS = 5, 15, 20   # 100 ms and 300 ms at 20 ms frames (Silero: 200 ms)
SILERO_START = SILERO_MIN_SPEECH_MS // FRAME_MS
CHUNK = 320                                      # fed as a live source would: 20 ms at a time


def contender(name: str):
    """A fresh detector by report name: "energy", "webrtc", "silero" or "silero K/R[/P[/S]]".

    S is the near-silence level in dBFS under which Silero skips its network, or "off"
    (default: lumina's :data:`~lumina.audio.vad.silero.SILENCE_DB`).
    """
    if name.startswith("silero "):
        quiet, max_state, *rest = name.split()[1].split("/")
        prime = float(rest[0]) if rest else 0.0
        silence = SILENCE_DB if len(rest) < 2 else None if rest[1] == "off" else float(rest[1])
        return SileroVAD(frame_ms=FRAME_MS, threshold=SILERO_THRESHOLD, start_frames=SILERO_START,
                         end_frames=END_FRAMES,
                         reset_quiet_windows=int(quiet), max_state_s=float(max_state),
                         prime_s=prime, silence_db=silence)
    return make_vad(name, SR, FRAME_MS, start_frames=START_FRAMES, end_frames=END_FRAMES)


def detect(vad, audio: np.ndarray) -> tuple[list[tuple[int, int]], float]:
    """Utterance spans (samples) the detector's decisions make, and the CPU seconds it took."""
    cpu = time.process_time()
    parts = [vad.process(audio[i:i + CHUNK]) for i in range(0, len(audio), CHUNK)]
    decisions = np.concatenate(parts + [vad.flush()])
    cpu = time.process_time() - cpu
    F = SR * FRAME_MS // 1000
    edges = np.flatnonzero(np.diff(np.concatenate([[0], decisions, [0]])))
    return [(int(a) * F, int(b) * F) for a, b in zip(edges[::2], edges[1::2])], cpu


@dataclasses.dataclass
class Tally(FrameRates):
    """Sums over scenes for one (detector, group) cell."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    onsets: list = dataclasses.field(default_factory=list)
    offsets: list = dataclasses.field(default_factory=list)
    found: int = 0
    missed: int = 0
    on_noise: int = 0
    cpu: float = 0.0
    seconds: float = 0.0

    def add(self, s, cpu: float, seconds: float) -> None:
        self.tp += s.tp
        self.fp += s.fp
        self.fn += s.fn
        self.onsets += s.onsets_ms
        self.offsets += s.offsets_ms
        self.found += s.found
        self.missed += s.missed
        self.on_noise += s.on_noise
        self.cpu += cpu
        self.seconds += seconds



def corpus(bank, seeds: int, n_utterances: int = 4) -> list[Scene]:
    return [scene(bank, kind, snr, 100 * s + k, n_utterances)
            for s in range(seeds) for k, kind in enumerate(KINDS) for snr in SNRS]


def noise_corpus(bank, seconds: float, seeds: int, levels=(-40.0, -30.0, -20.0)) -> list[Scene]:
    """Digital silence, and every background but babble (which is speech) alone."""
    scenes = [noise_scene(bank, "silence", seconds, 0.0, 0)]
    return scenes + [noise_scene(bank, kind, seconds, level, 7 + k + 100 * s)
                     for s in range(seeds) for k, kind in enumerate(KINDS) if kind != "babble"
                     for level in levels]


def evaluate(names, scenes: list[Scene], key) -> dict:
    """{(name, key(scene)): Tally}; each scene is run by every detector in turn (interleaved)."""
    tallies: dict = {}
    for sc in scenes:
        for name in names:
            spans, cpu = detect(contender(name), sc.audio)
            result = score(sc.spans, spans, len(sc.audio))
            for group in (key(sc), "all"):
                tallies.setdefault((name, group), Tally()).add(result, cpu, sc.seconds)
    return tallies


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def print_accuracy(names, tallies: dict, groups) -> None:
    print(f"{'detector':<14} {'scenes':<12} {'P':>5} {'R':>5} {'F1':>5} {'onset':>7} "
          f"{'offset':>7} {'found':>6} {'missed':>6} {'on noise':>8}")
    for group in [*groups, "all"]:
        for name in names:
            t = tallies[(name, group)]
            print(f"{name:<14} {group:<12} {t.precision:>5.2f} {t.recall:>5.2f} {t.f1:>5.2f} "
                  f"{median(t.onsets):>5.0f}ms {median(t.offsets):>5.0f}ms {t.found:>6} "
                  f"{t.missed:>6} {t.on_noise:>8}")


def print_noise_only(names, tallies: dict, scenes: list[Scene]) -> None:
    """Utterances opened per background and level, summed over seeds."""
    groups = list(dict.fromkeys(sc.name for sc in scenes))
    minutes = {g: sum(sc.seconds for sc in scenes if sc.name == g) / 60 for g in groups}
    print(f"{'background alone':<30}{'minutes':>8}" + "".join(f"{n:>14}" for n in names))
    for g in groups:
        row = "".join(f"{tallies[(n, g)].on_noise:>14}" for n in names)
        print(f"{g:<30}{minutes[g]:>8.1f}{row}")
    totals = "".join(f"{tallies[(n, 'all')].on_noise:>14}" for n in names)
    print(f"{'utterances opened, total':<30}{sum(minutes.values()):>8.1f}{totals}")


def print_cpu(names, tallies: dict) -> None:
    for name in names:
        t = tallies[(name, "all")]
        print(f"{name:<14} CPU {1000 * t.cpu / t.seconds:6.2f} ms per second of audio "
              f"({t.seconds:.0f} s of audio, 20 ms chunks)")


# ---------------------------------------------------------------- the report

def accuracy(bank, seeds: int, n_utterances: int, names=DETECTORS) -> None:
    scenes = corpus(bank, seeds, n_utterances)
    total = sum(s.seconds for s in scenes)
    print(f"== accuracy: {len(scenes)} scenes, {total:.0f} s of audio, {seeds} seed(s) per cell ==")
    tallies = evaluate(names, scenes, key=lambda sc: sc.name)
    print_accuracy(names, tallies, [f"{k} {snr:g} dB" for k in KINDS for snr in SNRS])
    by_snr = evaluate(names, scenes, key=lambda sc: f"{sc.snr_db:g} dB")
    print("\n-- by SNR, all backgrounds --")
    print_accuracy(names, by_snr, [f"{snr:g} dB" for snr in SNRS])
    quiet = noise_corpus(bank, 30.0, seeds)
    print("\n== backgrounds alone: utterances opened ==")
    print_noise_only(names, evaluate(names, quiet, key=lambda sc: sc.name), quiet)
    print("\n== CPU ==")
    print_cpu(names, tallies)


def policy(bank, seeds: int, n_utterances: int) -> None:
    print("\n== Silero state policy K/R/P: reset after K quiet windows, at speech R s after "
          "the last reset, prime with the last P s ==")
    scenes = corpus(bank, seeds, n_utterances)
    tallies = evaluate(POLICIES, scenes, key=lambda sc: f"{sc.snr_db:g} dB")
    print_accuracy(POLICIES, tallies, [f"{snr:g} dB" for snr in SNRS])
    print_cpu(POLICIES, tallies)
    print(f"\n{'swell scene':<28}" + "".join(f"{p:>12}" for p in POLICIES))
    for overlap in (0.0, 0.3, 1.0):
        for seed in (0, 1, 2):
            sc = swell_scene(bank, overlap, seed)
            end = sc.spans[0][1]
            cells = []
            for name in POLICIES:
                spans, _ = detect(contender(name), sc.audio)
                tail = max([b for a, b in spans if a < end] + [end]) - end
                extra = sum(1 for a, b in spans if a >= end)
                cells.append(f"{tail / SR:5.2f}s+{extra}")
            print(f"{sc.name + f' #{seed}':<28}" + "".join(f"{c:>12}" for c in cells))
    print("(cell: seconds the utterance ran past the speech, + utterances opened on the swell)")


# Silero's near-silence skip: lumina's setting against the network on every window and a lower level.
SKIP_CONTENDERS = ("silero 3/1/0.5/off", "silero 3/1/0.5", "silero 3/1/0.5/-60")
QUIET_GAINS_DB = (0.0, -20.0, -25.0, -30.0)   # speech at -26, -46, -51 and -56 dBFS


def silence_skip(bank, seeds: int, n_utterances: int) -> None:
    """The corpus's quieter scenes (20 and 10 dB SNR over white, pink noise and clicks), turned
    down as a quiet microphone would record them: what skipping near-silence costs in speech
    found, and saves in CPU; then the -60 dBFS floor alone (where the skip applies)."""
    print("\n== Silero near-silence skip: the corpus turned down (speech level = -26 dBFS + gain) ==")
    base = [scene(bank, kind, snr, 100 * s + k, n_utterances) for s in range(seeds)
            for k, kind in enumerate(("white", "pink", "clicks")) for snr in (20.0, 10.0)]
    scenes = [dataclasses.replace(sc, name=f"gain {gain:g} dB", audio=(sc.audio * 10 ** (gain / 20)).astype(np.float32))
              for gain in QUIET_GAINS_DB for sc in base]
    tallies = evaluate(SKIP_CONTENDERS, scenes, key=lambda sc: sc.name)
    print_accuracy(SKIP_CONTENDERS, tallies, [f"gain {gain:g} dB" for gain in QUIET_GAINS_DB])
    print_cpu(SKIP_CONTENDERS, tallies)
    floor = [noise_scene(bank, "white", 30.0, -60.0, 7 + s) for s in range(seeds)]
    print("-- white floor at -60 dBFS alone --")
    print_cpu(SKIP_CONTENDERS, evaluate(SKIP_CONTENDERS, floor, key=lambda sc: sc.name))


def throughput_table(repeats):
    x = _signal()
    seconds = len(x) / SR
    rows = []
    for label, chunk in (("whole minute", len(x)), ("20 ms chunks", 320)):
        chunks = [x[i:i + chunk] for i in range(0, len(x), chunk)]

        def run_lumina():
            vad = EnergyVAD()
            for c in chunks:
                vad.process(c)

        def run_numpy():
            for c in chunks:
                numpy_vad(c)

        def run_segmenter():
            seg = Segmenter(vad="energy")
            for c in chunks:
                seg.feed(c)
            seg.flush()

        t_l, t_n, t_s = (median_time(f, repeats) for f in (run_lumina, run_numpy, run_segmenter))
        rows.append((label, t_l, t_n, t_s, seconds))
    print(f"{'input':<14} {'lumina VAD':>12} {'numpy RMS':>12} {'speed-up':>9} "
          f"{'lumina x RT':>12} {'numpy x RT':>11} {'Segmenter x RT':>15}")
    for label, t_l, t_n, t_s, sec in rows:
        print(f"{label:<14} {t_l * 1e3:>10.2f}ms {t_n * 1e3:>10.2f}ms {t_n / t_l:>8.1f}x "
              f"{sec / t_l:>12.0f} {sec / t_n:>11.0f} {sec / t_s:>15.0f}")


def listen_cpu(seconds):
    if shutil.which("pulseaudio") is None:
        print("listening CPU: skipped (pulseaudio is not installed)")
        return
    from lumina.testing.pulse import PulseServer, rescan_portaudio
    server = PulseServer(pathlib.Path(tempfile.mkdtemp(prefix="lumina-pulse-")))
    server.start()
    server.point_this_process_here()
    rescan_portaudio()
    try:
        seg = Segmenter()
        events = 0
        with MicrophoneSource("pulse") as mic:
            mic.start()
            next(iter(mic))                 # stream running: start the clocks now
            wall0, cpu0 = time.monotonic(), time.process_time()
            for chunk in mic:
                events += len(seg.feed(chunk))
                if time.monotonic() - wall0 >= seconds:
                    break
            wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
            print(f"listening CPU: MicrophoneSource({mic.device_name!r}, {mic.samplerate} Hz) + "
                  f"Segmenter on a silent null-sink monitor for {wall:.1f} s: "
                  f"process CPU {cpu:.3f} s = {100 * cpu / wall:.2f}% of one core "
                  f"(includes PortAudio's ALSA/pulse callback thread); events={events}, "
                  f"overflows={mic.overflows}, dropped={mic.dropped}")
    finally:
        server.stop()
        server.restore_this_process()


def main(argv: list[str] | None = None) -> int | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="scenes per background and SNR")
    parser.add_argument("--utterances", type=int, default=4, help="utterances per scene")
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 utterances per scene")
    parser.add_argument("--policy", action="store_true", help="also sweep Silero's reset policy")
    parser.add_argument("--silence-skip", action="store_true",
                        help="also compare Silero with and without its near-silence skip on quiet scenes")
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-listen", action="store_true")
    parser.add_argument("--listen-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    seeds, n_utt = (1, 2) if args.quick else (args.seeds, args.utterances)
    bank = SpeechBank(pathlib.Path(tempfile.gettempdir()) / "lumina-vad-corpus")
    if not args.no_accuracy:
        accuracy(bank, seeds, n_utt)
    if args.policy:
        policy(bank, seeds, n_utt)
    if args.silence_skip:
        silence_skip(bank, seeds, n_utt)
    if not args.no_throughput:
        print("\n== energy VAD throughput ==")
        throughput_table(args.repeats)
    if not args.no_listen:
        listen_cpu(args.listen_seconds)

