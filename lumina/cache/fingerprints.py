"""Turn audio of any rate and channel count into a phrase :class:`Fingerprint`.

Input goes through the audio gateway (:mod:`lumina.audio.convert`: float32,
mono, 16 kHz, the same rules and errors as every other entry point) and then
to the compiled core (``lumina._core.fingerprint``), which does the per-frame
work without the GIL.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lumina._core.fingerprint import Fingerprint, fingerprint_16k
from lumina.audio.convert import SAMPLE_RATE, to_mono

__all__ = ["Fingerprint", "fingerprint", "canonical_audio"]


def canonical_audio(audio: npt.ArrayLike, sample_rate: int = SAMPLE_RATE) -> npt.NDArray[np.float32]:
    """Return ``audio`` as C-contiguous float32 mono samples at 16 kHz (the gateway's :func:`to_mono`).

    Parameters
    ----------
    audio : array_like
        Samples, shape ``(frames,)`` or ``(frames, channels)``; any float or
        integer dtype (integers are scaled to [-1, 1)).
    sample_rate : int, default 16000
        Rate of ``audio`` in Hz.

    Raises
    ------
    AudioFormatError
        When the shape, dtype, rate or values (NaN, infinity) are not usable.
    """
    return to_mono(audio, sample_rate, what="fingerprint()")


def fingerprint(audio: npt.ArrayLike, sample_rate: int = SAMPLE_RATE) -> Fingerprint:
    """Fingerprint one utterance for the phrase cache.

    Parameters
    ----------
    audio : array_like
        Samples, shape ``(frames,)`` or ``(frames, channels)`` (channels are
        averaged); anything the audio gateway takes.
    sample_rate : int, default 16000
        Rate of ``audio`` in Hz; other rates are resampled to 16 kHz with soxr.

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
    return fingerprint_16k(canonical_audio(audio, sample_rate))
