"""Deterministic test audio that sounds voiced to a model and a VAD, without speech synthesis."""

from __future__ import annotations

import numpy as np

from lumina.audio.convert import SAMPLE_RATE

__all__ = ["speechlike"]


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Voiced-sounding float32 mono 16 kHz audio: harmonics of a gliding pitch, syllable rhythm.

    Parameters
    ----------
    seconds : float
        Length of the signal.
    seed : int, default 0
        Seeds the faint noise under the voice (0.005 RMS), so two seeds give
        different audio of the same kind.

    Returns
    -------
    ndarray of float32
        The same samples for the same arguments, on every machine.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return (0.2 * voice * envelope + 0.005 * rng.standard_normal(len(t))).astype(np.float32)
