"""RIFF/WAVE container: parse a header, map a file, write a file atomically.

Private helper of :mod:`lumina.audio`.  Parsing is pure Python over a
memoryview (headers are tiny); the samples are converted by the compiled
core straight from the buffer, which for paths is a read-only memory map,
so a file is never read into memory twice.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from lumina._core import pcm
from lumina.errors import ArgumentError, AudioFormatError, AudioNotFoundError

MAX_CHANNELS = 1024
MAX_RATE = 1_000_000
MAP_THRESHOLD = 1 << 20  # bytes; paths at least this large are memory-mapped

# 0 and 0xFFFFFFFF in a size field mean "unknown" (streaming writers, RF64).
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)
# Bytes 2..16 of the KSDATAFORMAT_SUBTYPE_* GUIDs for plain WAVE format tags.
_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")
_TAG_NAMES = {
    0x0002: "Microsoft ADPCM", 0x0006: "A-law", 0x0007: "mu-law",
    0x0011: "IMA ADPCM", 0x0031: "GSM 6.10", 0x0050: "MPEG", 0x0055: "MPEG Layer 3",
}
_PCM_BITS = {8: pcm.U8, 16: pcm.S16, 24: pcm.S24, 32: pcm.S32}
_FLOAT_BITS = {32: pcm.F32, 64: pcm.F64}
SUBTYPE_NAMES = {pcm.U8: "PCM_U8", pcm.S16: "PCM_16", pcm.S24: "PCM_24",
                 pcm.S32: "PCM_32", pcm.F32: "FLOAT", pcm.F64: "DOUBLE"}
WRITE_SUBTYPES = {"PCM_16": pcm.S16, "PCM_24": pcm.S24, "PCM_32": pcm.S32, "FLOAT": pcm.F32}
WIDTH = {pcm.U8: 1, pcm.S16: 2, pcm.S24: 3, pcm.S32: 4, pcm.F32: 4, pcm.F64: 8}


class UnsupportedEncoding(AudioFormatError):
    """A well-formed WAV whose sample encoding read_wav does not decode."""


@dataclass(frozen=True)
class WavLayout:
    """Where the samples of a WAV buffer are and how they are encoded."""

    sample_format: int
    sample_rate: int
    channels: int
    data_offset: int
    frames: int

    @property
    def block_align(self) -> int:
        return WIDTH[self.sample_format] * self.channels

    @property
    def data_end(self) -> int:
        return self.data_offset + self.frames * self.block_align


def is_wav(head: bytes) -> bool:
    """True when the first 12 bytes look like a RIFF or RF64 WAVE header.

    A RIFF file cut before its form type counts as WAV, so that it gets
    the WAV parser's precise "truncated" message.
    """
    return head[:4] in (b"RIFF", b"RF64") and (len(head) < 12 or head[8:12] == b"WAVE")


# ---------------------------------------------------------------- parsing

def parse(buf: memoryview) -> WavLayout:
    """Validate the header of a WAV held in ``buf`` and locate its samples."""
    _check_magic(buf)
    is_rf64 = bytes(buf[:4]) == b"RF64"
    fmt = None
    ds64_data_size = None
    pos, n = 12, len(buf)
    while True:
        if pos + 8 > n:
            missing = "'fmt '" if fmt is None else "'data'"
            if pos >= n:
                raise AudioFormatError(f"no {missing} chunk before the end of the file")
            raise AudioFormatError(
                f"file is truncated: chunk header at byte {pos} needs 8 bytes, {n - pos} remain")
        cid, size = struct.unpack_from("<4sI", buf, pos)
        body = pos + 8
        if cid == b"data":
            if fmt is None:
                raise AudioFormatError(
                    f"'data' chunk at byte {pos} comes before the 'fmt ' chunk; "
                    "the file is malformed (re-encode it, e.g. with ffmpeg or sox)")
            if is_rf64 and size == 0xFFFFFFFF and ds64_data_size is not None:
                size = ds64_data_size
            return _layout(fmt, body, size, n - body)
        if body + size > n:
            raise AudioFormatError(
                f"file is truncated: chunk {cid!r} at byte {pos} declares {size} bytes "
                f"but only {n - body} remain")
        if cid == b"fmt ":
            if fmt is not None:
                raise AudioFormatError(f"second 'fmt ' chunk at byte {pos}; the file is malformed")
            fmt = _parse_fmt(buf[body:body + size])
        elif cid == b"ds64" and is_rf64:
            ds64_data_size = _parse_ds64(buf[body:body + size])
        pos = body + size + (size & 1)  # chunks are padded to even sizes


def _check_magic(buf: memoryview) -> None:
    n = len(buf)
    if n == 0:
        raise AudioFormatError("file is empty (0 bytes); expected a WAV file")
    if n < 12:
        raise AudioFormatError(
            f"file is truncated: {n} bytes, a RIFF/WAVE header needs at least 12")
    magic, kind = bytes(buf[:4]), bytes(buf[8:12])
    if magic == b"RIFX":
        raise AudioFormatError("big-endian RIFX WAV is not supported; convert it to RIFF")
    if magic not in (b"RIFF", b"RF64"):
        raise AudioFormatError(f"not a WAV file: starts with {magic!r}, expected b'RIFF'")
    if kind != b"WAVE":
        raise AudioFormatError(f"RIFF file of type {kind!r}, not b'WAVE'")


def _parse_ds64(body: memoryview) -> int:
    if len(body) < 24:
        raise AudioFormatError(f"'ds64' chunk is {len(body)} bytes, needs at least 24")
    return struct.unpack_from("<Q", body, 8)[0]


def _parse_fmt(body: memoryview) -> tuple[int, int, int]:
    """Return (sample_format, sample_rate, channels) from a 'fmt ' chunk body."""
    if len(body) < 16:
        raise AudioFormatError(f"'fmt ' chunk is {len(body)} bytes, needs at least 16")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
    # byte_rate is redundant and often wrong in real files; like libsndfile we ignore it.
    if tag == 0xFFFE:
        tag = _extensible_tag(body)
    if channels == 0 or channels > MAX_CHANNELS:
        raise AudioFormatError(
            f"'fmt ' chunk declares {channels} channels; supported: 1 to {MAX_CHANNELS}")
    if rate == 0 or rate > MAX_RATE:
        raise AudioFormatError(
            f"'fmt ' chunk declares a sample rate of {rate} Hz; supported: 1 to {MAX_RATE}")
    sample_format = _sample_format(tag, bits)
    if block_align != channels * bits // 8:
        raise AudioFormatError(
            f"'fmt ' chunk declares block_align {block_align}, but {channels} channels "
            f"of {bits}-bit samples need {channels * bits // 8}")
    return sample_format, rate, channels


def _extensible_tag(body: memoryview) -> int:
    if len(body) < 40:
        raise AudioFormatError(
            f"WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is {len(body)} bytes, needs at least 40")
    guid = bytes(body[24:40])
    if guid[2:] != _GUID_TAIL:
        raise UnsupportedEncoding(
            f"WAVE_FORMAT_EXTENSIBLE sub-format GUID {guid.hex()} is not a PCM or float format")
    return int.from_bytes(guid[:2], "little")


def _sample_format(tag: int, bits: int) -> int:
    if tag == 1:
        if bits not in _PCM_BITS:
            raise AudioFormatError(
                f"PCM with {bits} bits per sample is not supported (supported: 8, 16, 24, 32)")
        return _PCM_BITS[bits]
    if tag == 3:
        if bits not in _FLOAT_BITS:
            raise AudioFormatError(
                f"IEEE float with {bits} bits per sample is not supported (supported: 32, 64)")
        return _FLOAT_BITS[bits]
    name = _TAG_NAMES.get(tag, "unknown")
    raise UnsupportedEncoding(
        f"WAV format tag 0x{tag:04X} ({name}) is not supported by read_wav, which decodes "
        "PCM (8/16/24/32-bit) and IEEE float (32/64-bit); load_audio reads other "
        "encodings through soundfile or ffmpeg")


def _layout(fmt: tuple[int, int, int], offset: int, size: int, available: int) -> WavLayout:
    sample_format, rate, channels = fmt
    if size in _UNKNOWN_SIZES or size > available:
        # Unknown or lying size (streamed or truncated file): take what is there.
        size = available
    frames = size // (WIDTH[sample_format] * channels)
    return WavLayout(sample_format, rate, channels, offset, frames)


# ---------------------------------------------------------------- sources

def _open_path(path):
    """Open an audio file for reading; failures become lumina errors naming the path."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise AudioNotFoundError(f"{os.fspath(path)}: no such file") from None
    except OSError as exc:
        raise AudioFormatError(f"{os.fspath(path)}: cannot open: {exc.strerror}") from None


@contextlib.contextmanager
def open_buffer(source) -> Iterator[memoryview]:
    """Yield the bytes of ``source`` (path, bytes-like or binary file object).

    Paths are memory-mapped read-only; the map is closed on exit.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source)
        if not view.c_contiguous:
            raise AudioFormatError("a memoryview source must be C-contiguous")
        with view.cast("B") as flat:
            yield flat
    elif isinstance(source, (str, os.PathLike)):
        with _open_path(source) as file, _map(file) as view:
            yield view
    elif hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise AudioFormatError(
                f"file object returned {type(data).__name__}, not bytes; open it in binary mode")
        yield memoryview(data)
    else:
        raise ArgumentError(
            f"audio source must be a path, bytes, a binary file object or (where arrays are "
            f"taken) a numpy array, not {type(source).__name__}")


@contextlib.contextmanager
def _map(file) -> Iterator[memoryview]:
    mapping = None
    try:
        # Small files are cheaper to read than to map and unmap.
        if os.fstat(file.fileno()).st_size >= MAP_THRESHOLD:
            mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        pass  # pipes and special files cannot be mapped: read them
    if mapping is None:
        yield memoryview(file.read())
        return
    try:
        with memoryview(mapping) as view:
            yield view
    finally:
        try:
            mapping.close()
        except BufferError:
            # A caller's traceback still holds a slice; the map closes when it is collected.
            pass


def decode(buf: memoryview, layout: WavLayout) -> np.ndarray:
    """Decode every frame of ``layout`` to float32 [frames, channels]."""
    out = np.empty((layout.frames, layout.channels), dtype=np.float32)
    pcm.decode(buf[layout.data_offset:layout.data_end], layout.sample_format, out.reshape(-1))
    return out


def decode_mono(buf: memoryview, layout: WavLayout) -> np.ndarray:
    """Decode every frame of ``layout`` and average its channels to float32 mono."""
    out = np.empty(layout.frames, dtype=np.float32)
    pcm.decode_mono(buf[layout.data_offset:layout.data_end], layout.sample_format,
                    layout.channels, out)
    return out


# ---------------------------------------------------------------- writing

def header(sample_format: int, rate: int, channels: int, frames: int) -> bytes:
    """Return the RIFF/WAVE header (fmt [+ fact] + data chunk header)."""
    width = WIDTH[sample_format]
    data_size = frames * channels * width
    is_float = sample_format == pcm.F32
    fmt = struct.pack("<HHIIHH", 3 if is_float else 1, channels, rate,
                      rate * channels * width, channels * width, 8 * width)
    chunks = b"fmt " + struct.pack("<I", 16) + fmt
    if is_float:
        # Non-PCM formats carry cbSize and a 'fact' chunk with the frame count.
        chunks = (b"fmt " + struct.pack("<I", 18) + fmt + b"\0\0"
                  + b"fact" + struct.pack("<II", 4, frames))
    riff_size = 4 + len(chunks) + 8 + data_size + (data_size & 1)
    if riff_size > 0xFFFFFFFF:
        raise AudioFormatError(
            f"{data_size} bytes of samples do not fit in a WAV file (4 GiB limit); "
            "write shorter files or use FLAC")
    return b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + chunks + b"data" + struct.pack("<I", data_size)


def write_atomic(path, frames: np.ndarray, sample_format: int, rate: int) -> None:
    """Write float32 [frames, channels] to ``path`` via a temp file and os.replace."""
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 lets the umask decide the mode, as a plain open() would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(header(sample_format, rate, frames.shape[1], frames.shape[0]))
            _write_samples(file, frames.reshape(-1), sample_format)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_samples(file, flat: np.ndarray, sample_format: int) -> None:
    width = WIDTH[sample_format]
    block = 1 << 18  # encode in blocks so writing needs little extra memory
    buf = bytearray(min(block, flat.size) * width)
    for start in range(0, flat.size, block):
        part = flat[start:start + block]
        pcm.encode(part, sample_format, buf)
        file.write(memoryview(buf)[:part.size * width])
    if (flat.size * width) & 1:
        file.write(b"\0")
