"""Audio in and out: WAV decoding, loading any file as float32 mono, writing WAV.

The compiled core (``lumina._core.pcm``) converts samples; this module
validates everything first, so the core only ever sees valid buffers.
WAV is decoded by lumina itself (memory-mapped, no copy of the file);
other formats go through soundfile (libsndfile) and, when that fails,
through ``ffmpeg`` if it is on PATH.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import soundfile
import soxr

from lumina._core import pcm
from lumina.audio import wavfile as _wav
from lumina.audio.convert import (SAMPLE_RATE, _downmix, as_frames, check_finite,
                                  check_sample_rate, to_mono, to_mono_at)
from lumina.errors import ArgumentError, AudioFormatError

__all__ = ["AudioInfo", "audio_info", "load_audio", "load_samples", "read_wav", "write_wav"]

_PEAK_BLOCK = 1 << 16  # frames decoded at a time when measuring the peak


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`audio_info` found out about an audio file.

    Attributes
    ----------
    format : str
        Container, e.g. ``"WAV"`` or ``"FLAC"``.
    subtype : str
        Sample encoding, soundfile's names: ``"PCM_16"``, ``"FLOAT"``, ...
    sample_rate : int
        Frames per second.
    channels : int
        Samples per frame.
    frames : int
        Number of whole frames.
    duration : float
        ``frames / sample_rate`` in seconds.
    peak_dbfs : float
        Largest absolute sample in dB relative to full scale (1.0);
        ``-inf`` for silence.
    """

    format: str
    subtype: str
    sample_rate: int
    channels: int
    frames: int
    duration: float
    peak_dbfs: float


# ---------------------------------------------------------------- public API

def read_wav(source) -> tuple[np.ndarray, int]:
    """Decode a WAV file to float32.

    Parameters
    ----------
    source : str, os.PathLike, bytes, bytearray, memoryview or binary file object
        Paths are memory-mapped, not read into memory.  Supported encodings:
        PCM unsigned 8-bit, signed 16/24/32-bit, IEEE float 32/64-bit, plain or
        WAVE_FORMAT_EXTENSIBLE, RIFF or RF64.

    Returns
    -------
    samples : ndarray of float32, shape (frames, channels)
        Integer samples scaled by ``1 / 2**(bits - 1)`` (libsndfile's convention).
    sample_rate : int

    Raises
    ------
    AudioFormatError
        The data is not a WAV file lumina can decode; the message says why.
        A data chunk whose size is 0, 0xFFFFFFFF or larger than the file is
        read to the end of the file (whole frames only).
    AudioNotFoundError
        A path does not exist (an :class:`AudioFormatError` and a
        :class:`FileNotFoundError`).
    """
    with _wav.open_buffer(source) as buf:
        layout = _wav.parse(buf)
        return _wav.decode(buf, layout), layout.sample_rate


def load_audio(source, sample_rate: int = SAMPLE_RATE, *, source_sample_rate: int | None = None,
               validate: bool = False) -> np.ndarray:
    """Load audio as float32 mono at ``sample_rate`` Hz.

    Parameters
    ----------
    source : path, bytes-like, binary file object or numpy.ndarray
        Files: WAV is decoded by lumina; anything else by soundfile
        (FLAC, OGG, ...), then by ``ffmpeg`` (MP3, M4A, ...) if soundfile
        cannot read it and ffmpeg is on PATH.  Arrays go through the audio
        gateway (:mod:`lumina.audio.convert`): 1-D mono or 2-D
        ``[frames, channels]`` of any float or integer dtype, any memory
        layout or byte order, finite samples only.
    sample_rate : int, default 16000
        Rate of the result in Hz.  Resampling uses soxr (quality ``"HQ"``).
    source_sample_rate : int, optional
        Rate of an array ``source`` in Hz; defaults to ``sample_rate`` (no
        resampling).  Only for arrays: files carry their own rate.
    validate : bool, default False
        For files: check that every decoded sample is finite.  Arrays are
        always checked.

    Returns
    -------
    ndarray of float32, shape (frames,)
        A new array; channels are averaged.

    Raises
    ------
    AudioFormatError
        Undecodable input, unsupported array dtype or shape, bad rates, or a
        NaN/Inf sample (arrays; files with ``validate``), named by its index.
    """
    check_sample_rate(sample_rate, what="load_audio()")
    if isinstance(source, np.ndarray):
        rate = sample_rate if source_sample_rate is None else check_sample_rate(
            source_sample_rate, what="load_audio()", name="source_sample_rate")
        return to_mono_at(source, rate, sample_rate, what="load_audio()", copy=True)
    if source_sample_rate is not None:
        raise AudioFormatError("load_audio(): source_sample_rate applies only to array sources; "
                               "files carry their own rate")
    mono, rate = _load_file_mono(source, validate)
    if rate == sample_rate:
        return mono
    return soxr.resample(mono, rate, sample_rate, quality="HQ")


def load_samples(audio, sample_rate: int | None = None, *, what: str = "audio") -> np.ndarray:
    """Any input a transcription accepts as float32 mono 16 kHz samples, validated.

    An array goes through the gateway (:func:`~lumina.audio.convert.to_mono`) at
    ``sample_rate`` (default 16000); a path, bytes or file object is decoded by
    :func:`load_audio`, and carries its own rate, so ``sample_rate`` with it is an
    :class:`~lumina.errors.AudioFormatError`. ``what`` names the caller in messages.
    """
    if isinstance(audio, np.ndarray):
        return to_mono(audio, SAMPLE_RATE if sample_rate is None else sample_rate, what=what)
    if sample_rate is not None:
        raise AudioFormatError("sample_rate applies only to arrays; files carry their own rate")
    return load_audio(audio, validate=True)


def write_wav(path, samples, sample_rate: int, *, subtype: str = "PCM_16") -> None:
    """Write samples to a WAV file atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; written to a temporary file in the same folder first and
        moved into place with :func:`os.replace`, so a failure never leaves a
        partial file.
    samples : numpy.ndarray
        1-D mono or 2-D ``[frames, channels]``; dtypes, shapes and layouts as
        for every array lumina takes (:mod:`lumina.audio.convert`).  Channels
        are kept.
    sample_rate : int
        Sample rate in Hz (1 to 1,000,000).
    subtype : {"PCM_16", "PCM_24", "PCM_32", "FLOAT"}, default "PCM_16"
        Integer subtypes scale by ``2**(bits - 1)``, round half to even and
        clip, so 1.0 -> 32767 and -1.0 -> -32768 for PCM_16.

    Raises
    ------
    AudioFormatError
        Unknown subtype, bad rate, unsupported array, NaN/Inf samples for an
        integer subtype, or more than 4 GiB of samples.
    ArgumentError
        ``path`` is not a str or path.
    OSError
        The file cannot be written (missing folder, permissions, full disk).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentError(f"write_wav(): path must be a str or path, not {type(path).__name__}")
    if subtype not in _wav.WRITE_SUBTYPES:
        raise AudioFormatError(
            f"write_wav(): subtype {subtype!r} is not supported; use one of "
            f"{sorted(_wav.WRITE_SUBTYPES)}")
    check_sample_rate(sample_rate, what="write_wav()")
    frames = as_frames(samples, what="write_wav()")
    if subtype != "FLOAT":
        check_finite(frames, "audio cannot be written as integer PCM; use subtype='FLOAT' "
                     "or fix the samples")
    _wav.write_atomic(path, frames, _wav.WRITE_SUBTYPES[subtype], sample_rate)


def audio_info(source) -> AudioInfo:
    """Describe an audio file: format, rate, channels, length and peak level.

    Parameters
    ----------
    source : path, bytes-like or binary file object
        WAV (read by lumina) or any format soundfile reads.

    Raises
    ------
    AudioFormatError
        The file cannot be decoded.
    """
    with _wav.open_buffer(source) as buf:
        if _wav.is_wav(bytes(buf[:12])):
            layout = _wav.parse(buf)
            return _wav_info(buf, layout)
        if len(buf) == 0:
            raise AudioFormatError("file is empty (0 bytes); expected audio")
        # Paths stay paths so soundfile can seek; other sources become bytes.
        other = source if isinstance(source, (str, os.PathLike)) else io.BytesIO(bytes(buf))
    return _soundfile_info(other)


# ---------------------------------------------------------------- files

def _load_file_mono(source, validate: bool) -> tuple[np.ndarray, int]:
    with _wav.open_buffer(source) as buf:
        if _wav.is_wav(bytes(buf[:12])):
            try:
                layout = _wav.parse(buf)
            except _wav.UnsupportedEncoding:
                pass  # e.g. ADPCM or mu-law: libsndfile or ffmpeg may decode it
            else:
                if validate:
                    return _validated_mono(_wav.decode(buf, layout)), layout.sample_rate
                return _wav.decode_mono(buf, layout), layout.sample_rate
        if len(buf) == 0:
            raise AudioFormatError("file is empty (0 bytes); expected audio")
        # Paths stay paths for soundfile/ffmpeg (they may seek); other sources become bytes.
        other = source if isinstance(source, (str, os.PathLike)) else bytes(buf)
    frames, rate = _decode_other(other)
    return (_validated_mono(frames) if validate else _downmix(frames)), rate


def _validated_mono(frames: np.ndarray) -> np.ndarray:
    check_finite(frames, "audio must be finite (validate=True)")
    return _downmix(frames)


def _decode_other(source) -> tuple[np.ndarray, int]:
    """Decode a non-WAV source with soundfile, then ffmpeg."""
    try:
        opened = io.BytesIO(source) if isinstance(source, bytes) else source
        frames, rate = soundfile.read(opened, dtype="float32", always_2d=True)
        return np.ascontiguousarray(frames), rate
    except (soundfile.SoundFileError, RuntimeError) as exc:
        soundfile_error = exc
    return _decode_with_ffmpeg(source, soundfile_error)


def _decode_with_ffmpeg(source, soundfile_error: Exception) -> tuple[np.ndarray, int]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioFormatError(
            f"cannot decode audio: soundfile says {soundfile_error}; install ffmpeg "
            "(it reads MP3, M4A, ...) or convert the file to WAV or FLAC")
    if isinstance(source, bytes):
        target, stdin = "pipe:0", source
    else:
        target, stdin = "file:" + os.path.abspath(os.fspath(source)), None
    # ffmpeg writes native-rate float WAV; lumina downmixes and resamples it
    # exactly as it does every other source.
    command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-i", target,
               "-vn", "-f", "wav", "-c:a", "pcm_f32le", "pipe:1"]
    result = subprocess.run(command, input=stdin, capture_output=True,
                            stdin=None if stdin is not None else subprocess.DEVNULL)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise AudioFormatError(
            f"cannot decode audio: soundfile says {soundfile_error}; ffmpeg says "
            f"{detail[-1] if detail else f'exit status {result.returncode}'}")
    return read_wav(result.stdout)


# ---------------------------------------------------------------- info

def _dbfs(peak: float) -> float:
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def _wav_info(buf: memoryview, layout) -> AudioInfo:
    width = layout.block_align
    scratch = np.empty(_PEAK_BLOCK * layout.channels, dtype=np.float32)
    peak = 0.0
    for start in range(0, layout.frames, _PEAK_BLOCK):
        count = min(_PEAK_BLOCK, layout.frames - start) * layout.channels
        offset = layout.data_offset + start * width
        part = scratch[:count]
        pcm.decode(buf[offset:offset + count * _wav.WIDTH[layout.sample_format]],
                   layout.sample_format, part)
        peak = max(peak, pcm.peak(part))
    return AudioInfo("WAV", _wav.SUBTYPE_NAMES[layout.sample_format], layout.sample_rate,
                     layout.channels, layout.frames, layout.frames / layout.sample_rate,
                     _dbfs(peak))


def _soundfile_info(source) -> AudioInfo:
    try:
        with soundfile.SoundFile(source) as file:
            peak = 0.0
            for block in file.blocks(_PEAK_BLOCK, dtype="float32", always_2d=True):
                peak = max(peak, pcm.peak(np.ascontiguousarray(block).reshape(-1)))
            return AudioInfo(file.format, file.subtype, file.samplerate, file.channels,
                             file.frames, file.frames / file.samplerate, _dbfs(peak))
    except (soundfile.SoundFileError, RuntimeError) as exc:
        raise AudioFormatError(
            f"cannot read audio: {exc}; audio_info reads WAV and the formats libsndfile "
            "reads (FLAC, OGG, ...)") from None
