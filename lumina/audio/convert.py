"""The one audio gateway: any accepted array input becomes float32 mono samples at 16 kHz.

Every entry point that takes samples (``Engine.transcribe``, ``Stream.feed``,
the sources, ``Segmenter``, fingerprints, ``PhraseCache``) goes through
:func:`to_mono` (whole arrays) or :class:`ChunkConverter` (a stream of chunks),
so they all accept the same inputs, apply the same rules and raise the same
errors.

Accepted input
--------------
* dtype: any float (float16/32/64...), signed integer PCM (scaled by
  ``1 / 2**(bits - 1)``, so int16 32767 -> 0.99997) or unsigned integer PCM in
  offset binary (``uint8`` 128 is silence); anything else (bool, complex,
  object, strings) is refused;
* shape: 1-D mono or 2-D ``[frames, channels]`` with 1 to 1024 channels
  (channels are averaged); any memory layout or byte order;
* ``sample_rate``: an integer number of Hz from 1 to 1,000,000; other rates
  are resampled to 16 kHz with soxr (quality "HQ");
* values: finite; a NaN or infinite sample is refused, named by its index.

Every refusal is an :class:`~lumina.errors.AudioFormatError` (also a
``ValueError``) whose message names the entry point and the problem.  One
rate, :data:`SAMPLE_RATE`, and one parameter name, ``sample_rate``, serve
the whole library.
"""

from __future__ import annotations

import numpy as np
import soxr

from lumina._core import pcm
from lumina.audio import wavfile as _wav
from lumina.errors import AudioFormatError

__all__ = ["SAMPLE_RATE", "ChunkConverter", "as_frames", "check_sample_rate", "to_mono",
           "to_mono_at"]

#: The rate of every sample lumina hands to a model, a VAD or a fingerprint.
SAMPLE_RATE = 16000


def to_mono(audio, sample_rate: int = SAMPLE_RATE, *, what: str = "audio") -> np.ndarray:
    """Convert an array of samples to C-contiguous float32 mono at 16 kHz.

    Parameters
    ----------
    audio : array_like
        See the module documentation for what is accepted.
    sample_rate : int, default 16000
        Rate of ``audio`` in Hz.
    what : str
        How error messages name the input (``"Stream.feed()"``...).

    Returns
    -------
    numpy.ndarray of float32, shape (frames,)
        Input that is already float32 mono, C-contiguous, native byte order
        and 16 kHz is returned as it is (no copy: do not change it while
        lumina uses it); anything else is a new array.

    Raises
    ------
    AudioFormatError
        Unsupported dtype, shape or rate, or a NaN/Inf sample.
    """
    return to_mono_at(audio, sample_rate, SAMPLE_RATE, what=what)


def to_mono_at(audio, sample_rate: int, target_rate: int, *, what: str = "audio",
               copy: bool = False) -> np.ndarray:
    """:func:`to_mono` to another rate than 16 kHz (``load_audio(sample_rate=...)`` uses it).

    Same rules and errors as :func:`to_mono`; ``copy=True`` never returns
    ``audio`` itself.  ``target_rate`` is checked like ``sample_rate``.
    """
    rate = check_sample_rate(sample_rate, what=what)
    target = check_sample_rate(target_rate, what=what, name="the target rate")
    arr = _as_array(audio, what)
    if _is_canonical(arr) and rate == target:
        check_finite(arr[:, None], f"{what} must hold finite samples")
        return arr.copy() if copy else arr
    frames = as_frames(arr, what=what)
    check_finite(frames, f"{what} must hold finite samples")
    mono = _downmix(frames)
    if rate != target and len(mono):
        mono = np.ascontiguousarray(soxr.resample(mono, rate, target, quality="HQ"),
                                    dtype=np.float32)
    return mono


class ChunkConverter:
    """:func:`to_mono` for a stream of chunks: resampling keeps its state across chunks.

    Parameters
    ----------
    sample_rate : int, default 16000
        Rate of the chunks.
    what : str
        How error messages name the input.

    A chunk that is refused raises :class:`~lumina.errors.AudioFormatError`
    and leaves the converter as it was, so the next good chunk continues the
    stream.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, *, what: str = "audio") -> None:
        self.sample_rate = check_sample_rate(sample_rate, what=what)
        self.what = what
        self._stream = None if self.sample_rate == SAMPLE_RATE else soxr.ResampleStream(
            self.sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")

    def __call__(self, chunk, *, last: bool = False) -> np.ndarray:
        """Convert one chunk; ``last=True`` also returns what the resampler still holds."""
        mono = to_mono(chunk, SAMPLE_RATE, what=self.what)
        if self._stream is None:
            return mono
        return self._stream.resample_chunk(mono, last=last)

    def flush(self) -> np.ndarray:
        """The resampler's remaining output at the end of the stream (empty at 16 kHz)."""
        if self._stream is None:
            return np.empty(0, dtype=np.float32)
        return self._stream.resample_chunk(np.empty(0, dtype=np.float32), last=True)


def check_sample_rate(sample_rate, *, what: str = "audio", name: str = "sample_rate") -> int:
    """Return ``sample_rate`` as an int, or raise AudioFormatError naming the problem."""
    if isinstance(sample_rate, (bool, np.bool_)) or not isinstance(sample_rate, (int, np.integer)):
        raise AudioFormatError(f"{what}: {name} must be an integer number of Hz, got {sample_rate!r}")
    if not 1 <= sample_rate <= _wav.MAX_RATE:
        raise AudioFormatError(
            f"{what}: {name} must be between 1 and {_wav.MAX_RATE} Hz, got {sample_rate}")
    return int(sample_rate)


def _as_array(audio, what: str) -> np.ndarray:
    if isinstance(audio, np.ndarray):
        return audio
    if isinstance(audio, (str, bytes, bytearray, memoryview)):
        raise AudioFormatError(f"{what} must be an array of samples, not {type(audio).__name__}")
    try:
        return np.asarray(audio)
    except (TypeError, ValueError) as exc:
        raise AudioFormatError(f"{what} must be an array of samples: {exc}") from None


def _is_canonical(arr: np.ndarray) -> bool:
    return (arr.dtype == np.float32 and arr.dtype.isnative and arr.ndim == 1
            and arr.flags.c_contiguous)


_INT_CONVERTERS = {np.dtype(np.int16): pcm.s16_to_f32, np.dtype(np.int32): pcm.s32_to_f32,
                   np.dtype(np.uint8): pcm.u8_to_f32}


def as_frames(samples, *, what: str = "audio") -> np.ndarray:
    """Return ``samples`` as a new C-contiguous float32 ``[frames, channels]`` array.

    Applies the dtype and shape rules of the module documentation; checks
    neither finiteness nor rate.
    """
    arr = _as_array(samples, what)
    dtype = arr.dtype
    if dtype.kind not in "fiu":
        raise AudioFormatError(
            f"{what}: arrays of dtype {dtype} cannot hold audio; use float32 in [-1, 1), "
            "another float dtype, or integer PCM (int16, int32, uint8...)")
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim != 2:
        raise AudioFormatError(
            f"{what}: audio arrays must be 1-D or 2-D [frames, channels], got shape {arr.shape}")
    channels = arr.shape[1]
    if not 1 <= channels <= _wav.MAX_CHANNELS:
        raise AudioFormatError(
            f"{what}: array of shape {arr.shape} has {channels} channels; expected 1 to "
            f"{_wav.MAX_CHANNELS} (for a [channels, frames] array pass array.T)")
    # Native byte order and C order first, so the core reads plain strides.
    native = np.ascontiguousarray(arr, dtype=dtype.newbyteorder("="))
    return _to_float32(native)


def _to_float32(native: np.ndarray) -> np.ndarray:
    out = np.empty(native.shape, dtype=np.float32)
    flat_in, flat_out = native.reshape(-1), out.reshape(-1)
    kind, bits = native.dtype.kind, 8 * native.dtype.itemsize
    if native.dtype in _INT_CONVERTERS:
        _INT_CONVERTERS[native.dtype](flat_in, flat_out)
    elif native.dtype == np.float64:
        pcm.f64_to_f32(flat_in, flat_out)
    elif kind == "i":
        flat_out[:] = flat_in / float(2 ** (bits - 1))
    elif kind == "u":  # offset binary: the midpoint is silence
        half = float(2 ** (bits - 1))
        flat_out[:] = (flat_in - half) / half
    else:
        flat_out[:] = flat_in  # float32 copy, or float16/longdouble rounding
    return out


def check_finite(frames: np.ndarray, consequence: str) -> None:
    """Raise AudioFormatError naming the first NaN or infinite sample of ``[frames, channels]``.

    The message reads ``sample 13 (frame 6, channel 1) is inf; <consequence>``.
    """
    index = pcm.first_nonfinite(frames.reshape(-1))
    if index >= 0:
        frame, channel = divmod(index, frames.shape[1])
        value = frames.reshape(-1)[index]
        raise AudioFormatError(
            f"sample {index} (frame {frame}, channel {channel}) is {value}; {consequence}")


def _downmix(frames: np.ndarray) -> np.ndarray:
    """Average C-contiguous float32 ``[frames, channels]`` to mono (a view for one channel)."""
    if frames.shape[1] == 1:
        return frames.reshape(-1)
    mono = np.empty(frames.shape[0], dtype=np.float32)
    pcm.downmix(frames, mono)
    return mono
