"""Turn audio of any rate and channel count into a phrase :class:`Fingerprint`.

This module validates and canonicalises input (float32, mono, 16 kHz) and hands it to the
compiled core (``lumina._core.fingerprint``), which does the per-frame work without the GIL.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

from lumina._core.fingerprint import Fingerprint, fingerprint_16k
from lumina.errors import AudioFormatError

__all__ = ["Fingerprint", "fingerprint", "canonical_audio"]

#: The rate every fingerprint is computed at.
SAMPLE_RATE = 16000


def canonical_audio(audio: npt.ArrayLike, sr: int = SAMPLE_RATE) -> npt.NDArray[np.float32]:
    """Return ``audio`` as C-contiguous float32 mono samples at 16 kHz.

    Parameters
    ----------
    audio : array_like
        Samples, shape ``(frames,)`` or ``(frames, channels)``; float or integer PCM
        (integers are scaled to [-1, 1)).
    sr : int
        Sample rate of ``audio`` in Hz (1,000 to 384,000).

    Raises
    ------
    AudioFormatError
        When the shape, dtype, rate or values (NaN, infinity) are not usable.
    """
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 1000 <= sr <= 384000:
        raise AudioFormatError(f"sr must be an integer sample rate in Hz between 1000 and 384000, got {sr!r}")
    arr = np.asarray(audio)
    if arr.dtype.kind in "iu":
        scale = float(2 ** (8 * arr.dtype.itemsize - 1))
        arr = (arr.astype(np.float64) - (scale if arr.dtype.kind == "u" else 0.0)) / scale
    elif arr.dtype.kind != "f":
        raise AudioFormatError(f"audio must hold float or integer samples, got dtype {arr.dtype}")
    if arr.ndim == 2:
        if arr.shape[1] == 0:
            raise AudioFormatError("audio has shape (frames, 0): it needs at least one channel")
        # Averaging keeps the level of identical channels and never clips.
        arr = arr.mean(axis=1, dtype=np.float64)
    elif arr.ndim != 1:
        raise AudioFormatError(
            f"audio must have shape (frames,) or (frames, channels), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise AudioFormatError("audio contains NaN or infinite samples; clean or drop them first")
    mono = np.ascontiguousarray(arr, dtype=np.float32)
    if sr != SAMPLE_RATE and mono.size:
        mono = np.ascontiguousarray(soxr.resample(mono, int(sr), SAMPLE_RATE), dtype=np.float32)
    return mono


def fingerprint(audio: npt.ArrayLike, sr: int = SAMPLE_RATE) -> Fingerprint:
    """Fingerprint one utterance for the phrase cache.

    Parameters
    ----------
    audio : array_like
        Samples, shape ``(frames,)`` or ``(frames, channels)`` (channels are averaged).
    sr : int, default 16000
        Sample rate of ``audio``; other rates are resampled to 16 kHz with soxr.

    Returns
    -------
    Fingerprint
        Normalised mel-cepstral frames of the speech (silence trimmed at both ends) and an
        exact 64-bit key of the canonical samples.

    Raises
    ------
    AudioFormatError
        When the audio is not usable (see :func:`canonical_audio`).
    """
    return fingerprint_16k(canonical_audio(audio, sr))
