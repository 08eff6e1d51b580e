"""Sounds that are not speech, for checking that none of them becomes text.

Each generator is seeded and returns float32 mono at 16 kHz. Levels are in
dBFS of the signal's RMS. The set covers what a microphone hears when nobody
speaks: digital silence, a quiet noise floor, fans and hiss (white, pink and
brown noise), mains hum, steady and beeping tones, keyboard clicks and music.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lumina.audio.convert import SAMPLE_RATE
from lumina.errors import ArgumentError

__all__ = ["NON_SPEECH", "at_dbfs", "mix_at_snr", "non_speech"]


def at_dbfs(x: np.ndarray, dbfs: float) -> np.ndarray:
    """``x`` scaled to an RMS of ``dbfs`` (silence stays silence)."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    if rms == 0.0:
        return x.astype(np.float32)
    return (x * (10 ** (dbfs / 20) / rms)).astype(np.float32)


def _n(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE))


def _silence(seconds: float, rng: np.random.Generator) -> np.ndarray:
    return np.zeros(_n(seconds), np.float32)


def _white(seconds: float, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(_n(seconds)).astype(np.float32)


def _coloured(seconds: float, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (1: pink, 2: brown)."""
    n = _n(seconds)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum[1:] /= freqs[1:] ** (exponent / 2)
    spectrum[0] = 0
    return np.fft.irfft(spectrum, n).astype(np.float32)


def _hum(seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(_n(seconds)) / SAMPLE_RATE
    base = rng.choice([50.0, 60.0])
    return sum(np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3, 5)).astype(np.float32)


def _tone(seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(_n(seconds)) / SAMPLE_RATE
    return np.sin(2 * np.pi * rng.uniform(400, 1200) * t).astype(np.float32)


def _beeps(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A phone's ring-back: 440 + 480 Hz, 1 s on, 1 s off (gaps filled with a faint floor)."""
    t = np.arange(_n(seconds)) / SAMPLE_RATE
    on = (t % 2.0) < 1.0
    tone = np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t)
    return (tone * on + 1e-3 * rng.standard_normal(len(t))).astype(np.float32)


def _clicks(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Keyboard-like clicks: short decaying noise bursts at irregular times."""
    out = 1e-3 * rng.standard_normal(_n(seconds))
    burst = np.exp(-np.arange(160) / 25.0)
    at = 0
    while True:
        at += int(rng.uniform(0.08, 0.35) * SAMPLE_RATE)
        if at + len(burst) >= len(out):
            break
        out[at:at + len(burst)] += burst * rng.standard_normal(len(burst)) * rng.uniform(0.5, 1.0)
    return out.astype(np.float32)


def _music(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Chords of harmonic tones with note envelopes and a kick on the beat (no voice)."""
    n = _n(seconds)
    t = np.arange(n) / SAMPLE_RATE
    out = np.zeros(n)
    beat = 60 / rng.uniform(90, 130)
    roots = 220 * 2 ** (rng.integers(0, 12, size=int(seconds / (4 * beat)) + 2) / 12)
    for bar, root in enumerate(roots):
        start = int(bar * 4 * beat * SAMPLE_RATE)
        if start >= n:
            break
        seg = slice(start, min(n, start + int(4 * beat * SAMPLE_RATE)))
        local = t[seg] - t[start]
        envelope = np.exp(-local / (2 * beat))
        for ratio in (1.0, 1.25, 1.5):  # a major triad
            for k in (1, 2, 3):
                out[seg] += envelope * np.sin(2 * np.pi * root * ratio * k * local) / k
    kick = np.exp(-np.arange(800) / 120.0) * np.sin(2 * np.pi * 60 * np.arange(800) / SAMPLE_RATE)
    for b in np.arange(0, seconds, beat):
        i = int(b * SAMPLE_RATE)
        out[i:i + len(kick)] += 2 * kick[:max(0, min(len(kick), n - i))]
    return out.astype(np.float32)


#: name -> (generator, level in dBFS). Each is a common case of "nobody is speaking".
NON_SPEECH: dict[str, tuple[Callable[[float, np.random.Generator], np.ndarray], float | None]] = {
    "digital silence": (_silence, None),
    "noise floor -60 dB": (_white, -60.0),
    "white noise -35 dB": (_white, -35.0),
    "pink noise -30 dB": (lambda s, r: _coloured(s, r, 1.0), -30.0),
    "fan (brown noise) -30 dB": (lambda s, r: _coloured(s, r, 2.0), -30.0),
    "mains hum -30 dB": (_hum, -30.0),
    "steady tone -25 dB": (_tone, -25.0),
    "ring-back beeps -25 dB": (_beeps, -25.0),
    "keyboard clicks -35 dB": (_clicks, -35.0),
    "music -25 dB": (_music, -25.0),
}


def non_speech(name: str, seconds: float = 10.0, seed: int = 0) -> np.ndarray:
    """``seconds`` of the non-speech signal ``name`` (a key of :data:`NON_SPEECH`)."""
    if name not in NON_SPEECH:
        raise ArgumentError(f"unknown signal {name!r}; choose one of {sorted(NON_SPEECH)}")
    generate, level = NON_SPEECH[name]
    x = generate(seconds, np.random.default_rng(seed))
    return x if level is None else at_dbfs(x, level)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` plus ``noise`` (tiled or cut to its length) at ``snr_db``, measured on the speech's
    active part (samples within 30 dB of its peak envelope), as speech levels are measured."""
    if len(noise) < len(speech):
        noise = np.tile(noise, len(speech) // max(1, len(noise)) + 1)
    noise = noise[:len(speech)].astype(np.float64)
    s = speech.astype(np.float64)
    active = np.abs(s) > np.abs(s).max() * 10 ** (-30 / 20)
    speech_power = float(np.mean(s[active] ** 2)) if active.any() else 0.0
    noise_power = float(np.mean(noise ** 2)) or 1.0
    gain = np.sqrt(speech_power / noise_power / 10 ** (snr_db / 10))
    return (s + gain * noise).astype(np.float32)
