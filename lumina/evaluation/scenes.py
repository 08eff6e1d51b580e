"""A labelled corpus for voice activity detection, made when it is needed.

espeak-ng speech (rendered by :class:`lumina.evaluation.phrases.SpeechBank`) is laid out
with pauses at known positions, so the truth is exact: each utterance spans
from its first to its last sample above -40 dB of its peak (word gaps inside
count as speech, as a segmenter should keep them). Backgrounds are mixed in
at a signal-to-noise ratio measured against the speech inside those spans:

``white``   white noise
``pink``    1/f noise
``babble``  six quiet espeak voices talking over each other, non-stop
``music``   chords of harmonic notes with a bass line and a vibrato lead
``clicks``  keyboard-like clicks: short decaying noise bursts, 4 to 12 a second

Everything is seeded: a (kind, snr, seed) triple always gives the same samples.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from lumina.audio.convert import SAMPLE_RATE as SR
from lumina.evaluation.phrases import SpeechBank

__all__ = ["FrameRates", "KINDS", "SENTENCES", "SNRS", "SPEECH_DBFS", "Scene", "Score", "VOICES",
           "background", "noise_scene", "scene", "score", "speech_track", "swell_scene", "utterance",
           "utterances"]
KINDS = ("white", "pink", "babble", "music", "clicks")
SNRS = (20.0, 10.0, 5.0, 0.0)

SENTENCES = (
    "please send the report to the whole team before friday",
    "the train to the airport leaves every twenty minutes",
    "could you turn the music down a little",
    "we need three more chairs for the meeting room",
    "my phone battery is almost empty again",
    "the weather will be sunny with a light breeze",
    "remind me to call the dentist tomorrow morning",
    "this recipe needs two eggs and a cup of flour",
    "the library closes at six on saturdays",
    "open the window, it is getting warm in here",
    "she bought a red bicycle last summer",
    "let us meet at the corner by the old bakery",
)
VOICES = ("en-us", "en-gb", "en+f3", "en+m3", "en-us+f4", "en-gb-x-rp")
SPEECH_DBFS = -26.0       # mean-square level of each utterance, before a random +-4 dB
_TRIM_DB = -40.0          # span edges: first and last sample above this, relative to the peak


@dataclasses.dataclass(frozen=True)
class Scene:
    """One labelled signal: float32 16 kHz ``audio`` and the true speech ``spans`` (samples)."""

    name: str
    kind: str
    snr_db: float | None
    audio: np.ndarray = dataclasses.field(repr=False)
    spans: tuple[tuple[int, int], ...]

    @property
    def seconds(self) -> float:
        return len(self.audio) / SR


# ---------------------------------------------------------------- speech

def utterance(bank: SpeechBank, index: int) -> np.ndarray:
    """Sentence ``index`` in voice ``index``, trimmed to its span, float32 16 kHz."""
    audio = bank.at_16k(SENTENCES[index % len(SENTENCES)], VOICES[index % len(VOICES)])
    loud = np.flatnonzero(np.abs(audio) > np.abs(audio).max() * 10 ** (_TRIM_DB / 20))
    return audio[loud[0]:loud[-1] + 1].astype(np.float32)


def _at_dbfs(x: np.ndarray, dbfs: float) -> np.ndarray:
    return (x / np.sqrt(np.mean(x.astype(np.float64) ** 2)) * 10 ** (dbfs / 20)).astype(np.float32)


def speech_track(bank: SpeechBank, seed: int, n_utterances: int = 4,
                 pause_s: tuple[float, float] = (1.0, 3.0)) -> tuple[np.ndarray, tuple]:
    """Utterances with random pauses (and a pause before the first and after the last)."""
    rng = np.random.default_rng(seed)
    parts, spans, pos = [], [], 0
    first = int(rng.integers(0, len(SENTENCES) * len(VOICES)))
    for i in range(n_utterances):
        gap = np.zeros(int(rng.uniform(*pause_s) * SR), dtype=np.float32)
        speech = _at_dbfs(utterance(bank, first + i), SPEECH_DBFS + rng.uniform(-4, 4))
        parts += [gap, speech]
        pos += len(gap)
        spans.append((pos, pos + len(speech)))
        pos += len(speech)
    parts.append(np.zeros(int(rng.uniform(*pause_s) * SR), dtype=np.float32))
    return np.concatenate(parts), tuple(spans)


# ---------------------------------------------------------------- backgrounds

def white(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n)


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    return np.fft.irfft(spectrum * np.where(freqs >= 20, 1 / np.sqrt(np.maximum(freqs, 1)), 0), n)


def babble(n: int, rng: np.random.Generator, bank: SpeechBank, voices: int = 6) -> np.ndarray:
    """``voices`` talkers, each reading sentences back to back from a random offset."""
    out = np.zeros(n)
    for v in range(voices):
        order = rng.permutation(len(SENTENCES) * len(VOICES))
        talk = np.concatenate([_at_dbfs(utterance(bank, int(i)), -26.0) for i in order[:8]])
        talk = np.tile(talk, n // len(talk) + 2)
        start = int(rng.integers(0, len(talk) - n))
        out += talk[start:start + n]
    return out


def music(n: int, rng: np.random.Generator) -> np.ndarray:
    """Chords (three harmonic notes), a bass line and a lead with vibrato, in 0.3-0.6 s notes."""
    t = np.arange(n) / SR
    out = np.zeros(n)
    pos = 0
    while pos < n:
        length = min(int(rng.uniform(0.3, 0.6) * SR), n - pos)
        seg = t[:length]
        env = np.minimum(1.0, seg / 0.01) * np.exp(-2.5 * seg)
        root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
        for interval in (0, 4, 7):
            f = 2 * root * 2 ** (interval / 12)
            for h in (1, 2, 3, 4):
                out[pos:pos + length] += 0.3 * env * np.sin(2 * np.pi * f * h * seg) / h
        out[pos:pos + length] += 0.5 * env * np.sin(2 * np.pi * root / 2 * seg)
        lead = 4 * root * 2 ** (rng.integers(0, 12) / 12)
        vibrato = 1 + 0.01 * np.sin(2 * np.pi * 5.5 * seg)
        phase = 2 * np.pi * np.cumsum(lead * vibrato) / SR
        out[pos:pos + length] += 0.4 * env * (np.sin(phase) + 0.3 * np.sin(2 * phase))
        pos += length
    return out


def clicks(n: int, rng: np.random.Generator) -> np.ndarray:
    """Key presses: 5-15 ms bursts of high-passed noise with a fast decay, 4-12 a second."""
    out = np.zeros(n)
    pos = int(rng.uniform(0.0, 0.2) * SR)
    while pos < n:
        length = int(rng.uniform(0.005, 0.015) * SR)
        burst = np.diff(rng.standard_normal(length + 1)) * np.exp(-np.arange(length) / (0.2 * length))
        end = min(pos + length, n)
        out[pos:end] += rng.uniform(0.3, 1.0) * burst[:end - pos]
        pos += int(rng.uniform(1 / 12, 1 / 4) * SR)
    return out


def background(kind: str, n: int, seed: int, bank: SpeechBank) -> np.ndarray:
    """Background ``kind`` of ``n`` samples at unit mean square (float64)."""
    rng = np.random.default_rng(seed)
    makers = {"white": white, "pink": pink, "music": music, "clicks": clicks}
    x = babble(n, rng, bank) if kind == "babble" else makers[kind](n, rng)
    return x / np.sqrt(np.mean(x * x))


# ---------------------------------------------------------------- scenes

def scene(bank: SpeechBank, kind: str, snr_db: float, seed: int, n_utterances: int = 4) -> Scene:
    """Speech (``n_utterances``, random pauses) over background ``kind`` at ``snr_db``."""
    speech, spans = speech_track(bank, seed, n_utterances)
    voiced = np.concatenate([speech[a:b] for a, b in spans]).astype(np.float64)
    noise_rms = np.sqrt(np.mean(voiced ** 2)) * 10 ** (-snr_db / 20)
    noise = background(kind, len(speech), seed + 1000, bank) * noise_rms
    audio = np.clip(speech + noise, -1.0, 1.0).astype(np.float32)
    return Scene(f"{kind} {snr_db:g} dB", kind, snr_db, audio, spans)


def noise_scene(bank: SpeechBank, kind: str, seconds: float, dbfs: float, seed: int) -> Scene:
    """Background ``kind`` alone at ``dbfs`` (mean square), or digital silence for ``"silence"``."""
    n = int(seconds * SR)
    if kind == "silence":
        return Scene("silence", kind, None, np.zeros(n, np.float32), ())
    x = background(kind, n, seed, bank) * 10 ** (dbfs / 20)
    return Scene(f"{kind} alone {dbfs:g} dBFS", kind, None,
                 np.clip(x, -1.0, 1.0).astype(np.float32), ())


# ---------------------------------------------------------------- scoring

class FrameRates:
    """Precision, recall and F1 from ``tp``, ``fp`` and ``fn`` frame counts (1.0 when nothing to count)."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclasses.dataclass(frozen=True)
class Score(FrameRates):
    """How a detector's utterances (sample spans) match a scene's truth."""

    tp: int                    # 10 ms frames inside both
    fp: int
    fn: int
    onsets_ms: tuple[float, ...]    # detected start - true start, per found utterance
    offsets_ms: tuple[float, ...]   # detected end - true end
    found: int                 # true utterances overlapped by a detection
    missed: int
    on_noise: int              # detections that overlap no true utterance


def score(truth: tuple, detected: list[tuple[int, int]], n_samples: int) -> Score:
    """Compare detected utterance spans with the true ones, frame by frame (10 ms) and by utterance."""
    hop = SR // 100
    n = n_samples // hop

    def mask(spans):
        m = np.zeros(n, dtype=bool)
        for a, b in spans:
            m[a // hop:(b + hop - 1) // hop] = True
        return m

    t, d = mask(truth), mask(detected)
    onsets, offsets, found = [], [], 0
    for a, b in truth:
        overlaps = [(min(b, y) - max(a, x), x, y) for x, y in detected if min(b, y) > max(a, x)]
        if overlaps:
            _, x, y = max(overlaps)
            found += 1
            onsets.append((x - a) * 1000 / SR)
            offsets.append((y - b) * 1000 / SR)
    on_noise = sum(1 for x, y in detected if not any(min(b, y) > max(a, x) for a, b in truth))
    return Score(int(np.sum(t & d)), int(np.sum(~t & d)), int(np.sum(t & ~d)), tuple(onsets),
                 tuple(offsets), found, len(truth) - found, on_noise)


def utterances(segmenter, audio: np.ndarray, chunk: int = 320) -> list[tuple[int, int]]:
    """(start_sample, end_sample) of every utterance a segmenter finds in ``audio``."""
    events = []
    for i in range(0, len(audio), chunk):
        events += segmenter.feed(audio[i:i + chunk])
    events += segmenter.flush()
    return [(e.start_sample, e.end_sample) for e in events if hasattr(e, "end_sample")]


def swell_scene(bank: SpeechBank, overlap_s: float, seed: int = 0) -> Scene:
    """Speech over quiet music, then a loud 5 s swell of hiss, 120 Hz buzz and clicks.

    The swell starts ``overlap_s`` before the speech ends (0: right after it)
    and rises over its first second to about 14 dB above the speech. Found by
    a probe: carried over from the speech, Silero's state held the swell
    above 0.5 (the truth is the speech span alone).
    """
    speech = _at_dbfs(np.concatenate([utterance(bank, seed), np.zeros(SR // 5, np.float32),
                                      utterance(bank, seed + 1)]), -20.0)
    lead = SR
    n_swell = 5 * SR
    n = lead + len(speech) - int(overlap_s * SR) + n_swell
    t = np.arange(n_swell) / SR
    buzz = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 15))
    mix = (background("white", n_swell, seed + 1, bank) + buzz / np.sqrt(np.mean(buzz ** 2))
           + background("clicks", n_swell, seed + 2, bank))
    swell = mix / np.sqrt(np.mean(mix ** 2)) * 10 ** (-12 / 20) * np.minimum(1.0, t)
    audio = background("music", n, seed + 3, bank) * 10 ** (-40 / 20)
    audio[lead:lead + len(speech)] += speech
    audio[n - n_swell:] += swell
    return Scene(f"swell, {overlap_s:g} s under speech", "swell", None,
                 np.clip(audio, -1, 1).astype(np.float32), ((lead, lead + len(speech)),))
