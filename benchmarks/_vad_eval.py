"""Scoring voice activity detectors on the labelled corpus of ``tests/_vad_corpus.py``.

Shared by ``compare_vad.py`` (the report) and nothing else; the tests use the
corpus directly. A detector is judged by the utterances its decisions make:
runs of speech frames after its own hysteresis (minimum speech 100 ms,
hang-over 300 ms, the segmenter's defaults), so every contender is scored
on what the segmenter would open and close.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the corpus lives there
from _vad_corpus import KINDS, SNRS, SR, FrameRates, Scene, noise_scene, scene, score  # noqa: E402

from lumina.audio.vad import make_vad  # noqa: E402
from lumina.audio.vad.factory import SILERO_MIN_SPEECH_MS, SILERO_THRESHOLD  # noqa: E402
from lumina.audio.vad.silero import SileroVAD  # noqa: E402

START_FRAMES, END_FRAMES, FRAME_MS = 5, 15, 20   # 100 ms and 300 ms at 20 ms frames (Silero: 200 ms)
SILERO_START = SILERO_MIN_SPEECH_MS // FRAME_MS
CHUNK = 320                                      # fed as a live source would: 20 ms at a time


def contender(name: str):
    """A fresh detector by report name: "energy", "webrtc", "silero" or "silero K/R[/P]"."""
    if name.startswith("silero "):
        quiet, max_state, *prime = name.split()[1].split("/")
        return SileroVAD(frame_ms=FRAME_MS, threshold=SILERO_THRESHOLD, start_frames=SILERO_START,
                         end_frames=END_FRAMES,
                         reset_quiet_windows=int(quiet), max_state_s=float(max_state),
                         prime_s=float(prime[0]) if prime else 0.0)
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
