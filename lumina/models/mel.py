"""The mel filterbank a whisper.cpp model file carries (80 or 128 filters over 201 FFT bins).

Whisper computes its log-mel spectrogram with librosa's Slaney-style filters
(mel scale linear below 1 kHz and logarithmic above, each filter normalised
to unit area); every ggml model file stores them, and whisper.cpp reads them
from there.
"""

from __future__ import annotations

import numpy as np

from lumina.audio.convert import SAMPLE_RATE

__all__ = ["N_FFT", "mel_filterbank"]

N_FFT = 400  # whisper's STFT size; the filterbank has N_FFT // 2 + 1 bins


def mel_filterbank(n_mels: int, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """Slaney-style mel filterbank, ``[n_mels, n_fft // 2 + 1]`` float32.

    The same construction as the filters shipped in whisper's model files
    (mel scale linear below 1 kHz and logarithmic above, area-normalised).
    """
    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        hz = np.asarray(hz, dtype=np.float64)
        linear = hz / (200.0 / 3)
        log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(hz >= 1000.0, log_part, linear)

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        linear = mel * (200.0 / 3)
        log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
        return np.where(mel >= 15.0, log_part, linear)

    fft_freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    mel_points = np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2)
    hz_points = mel_to_hz(mel_points)
    widths = np.diff(hz_points)
    ramps = hz_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_points[2:] - hz_points[:n_mels]))[:, None]
    return weights.astype(np.float32)
