"""Read audio in blocks: long files become float32 mono 16 kHz without ever being whole in memory.

:class:`AudioBlocks` is what :meth:`lumina.Engine.transcribe_iter` reads a
file through. WAV is decoded by lumina from a read-only memory map, one
block at a time, and the pages of each block are handed back to the kernel
once decoded (``madvise(MADV_DONTNEED)``), so an hour of audio costs the
memory of a block, not of the file. Other formats are read in blocks by
soundfile (FLAC, OGG, MP3 with libsndfile >= 1.1 ...). Formats only ffmpeg
reads (M4A ...), arrays and unseekable file objects (pipes) are held whole.
Every block goes through the audio gateway's :class:`ChunkConverter`
(downmix, finiteness check, streaming soxr resampling), so the samples
equal those of :func:`load_audio` up to the resampler's block edges.
"""

from __future__ import annotations

import io
import mmap
import os
from collections.abc import Iterator

import numpy as np
import soundfile

from lumina._core import pcm
from lumina.audio import wavfile as _wav
from lumina.audio.convert import SAMPLE_RATE, ChunkConverter, _downmix, check_sample_rate, to_mono_at
from lumina.audio.files import load_audio
from lumina.errors import ArgumentError, AudioFormatError, StateError

__all__ = ["AudioBlocks"]

_PAGE = mmap.PAGESIZE


class AudioBlocks:
    """Float32 mono 16 kHz blocks of an audio file or array, decoded as they are read.

    Parameters
    ----------
    source : path, bytes-like, binary file object or numpy.ndarray
        As :func:`lumina.load_audio` takes it.
    sample_rate : int, optional
        Rate of an array ``source`` in Hz; default 16000. Files carry their own.
    block_s : float, default 10.0
        Seconds of source audio per block (the last may be shorter).

    Attributes
    ----------
    duration : float
        Length of the source in seconds (from the header; for some compressed
        formats an estimate).

    Raises
    ------
    AudioFormatError
        The source cannot be decoded (at once for its header, while iterating
        for a bad sample: NaN or infinity).
    AudioNotFoundError
        A path that does not exist.
    """

    def __init__(self, source, *, sample_rate: int | None = None, block_s: float = 10.0) -> None:
        if not block_s > 0:
            raise ArgumentError(f"block_s must be > 0, got {block_s}")
        self._block_s = float(block_s)
        self._closers: list = []
        if isinstance(source, np.ndarray):
            rate = SAMPLE_RATE if sample_rate is None else check_sample_rate(sample_rate)
            self._whole = to_mono_at(source, rate, SAMPLE_RATE, what="audio")
            self._reader = None
            self.duration = len(self._whole) / SAMPLE_RATE
            return
        if sample_rate is not None:
            raise AudioFormatError("sample_rate applies only to arrays; files carry their own rate")
        self._whole = None
        if hasattr(source, "read") and not _seekable(source):
            source = _read_all(source)   # a pipe: its bytes are all there is to go on
        self._reader = self._open(source)

    def _open(self, source):
        head = _head(source)
        if _wav.is_wav(head):
            try:
                return _WavReader(source, self)
            except _wav.UnsupportedEncoding:
                pass  # ADPCM, mu-law...: libsndfile or ffmpeg may decode it
        try:
            return _SoundfileReader(source, self)
        except (soundfile.SoundFileError, RuntimeError):
            whole = load_audio(source, validate=True)  # ffmpeg, or the precise error
            self._whole, self.duration = whole, len(whole) / SAMPLE_RATE
            return None

    def __iter__(self) -> Iterator[np.ndarray]:
        """The blocks, once; the source is released when they end (or fail)."""
        try:
            yield from self._blocks()
        finally:
            self.close()

    def _blocks(self) -> Iterator[np.ndarray]:
        if self._reader is None:
            if self._whole is None:
                raise StateError("these blocks were read already (or closed)")
            step = int(self._block_s * SAMPLE_RATE)
            for start in range(0, len(self._whole), step):
                yield self._whole[start:start + step]
            return
        if self._reader.done:
            raise StateError("these blocks were read already (or closed)")
        convert = ChunkConverter(self._reader.rate, what="audio")
        for block in self._reader.blocks(max(1, int(self._block_s * self._reader.rate))):
            out = convert(block)
            if len(out):
                yield out
        tail = convert.flush()
        if len(tail):
            yield tail

    def close(self) -> None:
        """Release the file (its memory map or decoder); iterating again is an error."""
        while self._closers:
            self._closers.pop()()
        self._whole = None
        if self._reader is not None:
            self._reader.done = True

    def __enter__(self) -> AudioBlocks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _head(source) -> bytes:
    """The first 12 bytes of a path, bytes-like or seekable file object, without consuming it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(memoryview(source).cast("B")[:12])
    if isinstance(source, (str, os.PathLike)):
        with _wav._open_path(source) as f:
            return f.read(12)
    if hasattr(source, "read"):
        pos = source.tell()
        head = source.read(12)
        source.seek(pos)
        if not isinstance(head, bytes):
            raise AudioFormatError(
                f"file object returned {type(head).__name__}, not bytes; open it in binary mode")
        return head
    raise ArgumentError(
        f"audio source must be a path, bytes, a binary file object or a numpy array, "
        f"not {type(source).__name__}")


def _seekable(source) -> bool:
    try:
        return bool(source.seekable()) if hasattr(source, "seekable") else hasattr(source, "seek")
    except (OSError, ValueError):
        return False


def _read_all(source) -> bytes:
    data = source.read()
    if not isinstance(data, (bytes, bytearray)):
        raise AudioFormatError(
            f"file object returned {type(data).__name__}, not bytes; open it in binary mode")
    return bytes(data)


class _WavReader:
    """WAV blocks decoded straight from a memory map; decoded pages are dropped from memory."""

    done = False

    def __init__(self, source, owner: AudioBlocks) -> None:
        self._map = None
        if isinstance(source, (str, os.PathLike)):
            file = _wav._open_path(source)
            owner._closers.append(file.close)
            try:
                self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
                view = memoryview(self._map)
            except (OSError, ValueError):  # empty files and pipes cannot be mapped
                view = memoryview(file.read())
        elif isinstance(source, (bytes, bytearray, memoryview)):
            view = memoryview(source).cast("B")
        else:
            view = memoryview(source.read())
        self._view = view
        owner._closers.append(self._release)
        self.layout = _wav.parse(view)
        self.rate = self.layout.sample_rate
        owner.duration = self.layout.frames / self.rate

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        layout = self.layout
        width = layout.block_align
        done_bytes = layout.data_offset
        for start in range(0, layout.frames, block_frames):
            count = min(block_frames, layout.frames - start)
            offset = layout.data_offset + start * width
            out = np.empty(count, dtype=np.float32)
            pcm.decode_mono(self._view[offset:offset + count * width], layout.sample_format,
                            layout.channels, out)
            done_bytes = self._forget(done_bytes, offset + count * width)
            yield out

    def _forget(self, start: int, end: int) -> int:
        """Drop the decoded whole pages in [start, end) from this process's memory."""
        first = -(-start // _PAGE) * _PAGE
        last = end // _PAGE * _PAGE
        if self._map is not None and last > first and hasattr(self._map, "madvise"):
            self._map.madvise(mmap.MADV_DONTNEED, first, last - first)
            return last
        return start

    def _release(self) -> None:
        self._view.release()
        if self._map is not None:
            self._map.close()
            self._map = None


class _SoundfileReader:
    """Blocks decoded by libsndfile, downmixed to mono at the file's rate."""

    done = False

    def __init__(self, source, owner: AudioBlocks) -> None:
        opened = io.BytesIO(bytes(memoryview(source).cast("B"))) if isinstance(
            source, (bytes, bytearray, memoryview)) else source
        self._file = soundfile.SoundFile(opened)
        owner._closers.append(self._file.close)
        self.rate = self._file.samplerate
        owner.duration = self._file.frames / self.rate

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        for block in self._file.blocks(block_frames, dtype="float32", always_2d=True):
            yield _downmix(np.ascontiguousarray(block))
