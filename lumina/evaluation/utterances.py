"""espeak-ng utterances whose edges are known to the sample, and the silence and noise around them.

:func:`speak` renders a phrase with espeak-ng and trims its edge silence with
sox, so a signal built from it (silence, the utterance, silence...) has speech
exactly where it was put: what the stream, segmenter and VAD measurements
(tests and ``benchmarks/``) compare lumina's boundaries with. Needs Debian's
``espeak-ng`` and ``sox``.
"""

from __future__ import annotations

import pathlib
import subprocess

import numpy as np
import soundfile as sf

from lumina.audio.convert import SAMPLE_RATE as SR
from lumina.evaluation.signals import at_dbfs

__all__ = ["SOX_SILENCE", "pink_noise", "silence", "sox_edges", "speak", "white_noise"]

#: sox's silence effect treats audio below this level as silence when it trims.
SOX_SILENCE = "-40d"


def speak(text: str, path: pathlib.Path) -> np.ndarray:
    """Speak ``text`` with espeak-ng; return it as float32 16 kHz with edge silence trimmed by sox.

    ``path`` is where the trimmed WAV is written (and a ``.raw.wav`` beside it).
    """
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(
        ["sox", str(raw), "-r", str(SR), "-b", "16", str(path),
         "silence", "1", "0.02", SOX_SILENCE, "reverse",
         "silence", "1", "0.02", SOX_SILENCE, "reverse"],
        check=True, capture_output=True)
    audio, rate = sf.read(path, dtype="float32")
    if rate != SR:
        raise RuntimeError(f"sox wrote {rate} Hz, not {SR} Hz")
    return audio


def sox_edges(path: pathlib.Path, tmp: pathlib.Path) -> tuple[int, int]:
    """(first, last) non-silent sample of a file as sox's silence effect measures them."""
    total = sf.info(path).frames
    lead = tmp / "sox_lead.wav"
    both = tmp / "sox_both.wav"
    subprocess.run(["sox", str(path), str(lead), "silence", "1", "0.02", SOX_SILENCE],
                   check=True, capture_output=True)
    subprocess.run(["sox", str(path), str(both), "silence", "1", "0.02", SOX_SILENCE,
                    "reverse", "silence", "1", "0.02", SOX_SILENCE, "reverse"],
                   check=True, capture_output=True)
    first = total - sf.info(lead).frames
    return first, first + sf.info(both).frames


def silence(seconds: float) -> np.ndarray:
    """Digital silence: float32 zeros at 16 kHz."""
    return np.zeros(round(seconds * SR), dtype=np.float32)


def white_noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    """Seeded white noise at a mean-square level of ``dbfs``."""
    rng = np.random.default_rng(seed)
    return at_dbfs(rng.standard_normal(round(seconds * SR)), dbfs)


def pink_noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    """1/f noise from 20 Hz up (a microphone chain's high-pass removes what is below)."""
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    gain = np.where(freqs >= 20, 1 / np.sqrt(np.maximum(freqs, 1)), 0)
    return at_dbfs(np.fft.irfft(spectrum * gain, n), dbfs)
