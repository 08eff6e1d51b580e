"""Build WAV files byte by byte for tests (sizes can be made to lie)."""

import struct

import numpy as np


def chunk(cid: bytes, body: bytes, size: int | None = None) -> bytes:
    """A RIFF chunk with its pad byte; ``size`` overrides the declared size."""
    declared = len(body) if size is None else size
    return cid + struct.pack("<I", declared) + body + (b"\0" if len(body) % 2 else b"")


def fmt_body(tag=1, channels=1, rate=16000, bits=16, block_align=None) -> bytes:
    if block_align is None:
        block_align = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * block_align, block_align, bits)


def extensible_body(sub_tag=1, channels=2, rate=16000, bits=16, valid_bits=None, guid_tail=None):
    tail = bytes.fromhex("000000001000800000aa00389b71") if guid_tail is None else guid_tail
    guid = struct.pack("<H", sub_tag) + tail
    return (fmt_body(0xFFFE, channels, rate, bits)
            + struct.pack("<HHI", 22, valid_bits or bits, 3) + guid)


def riff(*chunks: bytes, magic=b"RIFF", size=None, kind=b"WAVE") -> bytes:
    body = kind + b"".join(chunks)
    return magic + struct.pack("<I", len(body) if size is None else size) + body


def pcm16(frames: np.ndarray) -> bytes:
    return frames.astype("<i2").tobytes()


# Ways to hand the same samples over in another memory layout or dtype; each
# must give exactly what the C-contiguous float32 original gives.
LAYOUTS = {
    "strided": lambda x: np.repeat(x, 2, axis=0)[::2],
    "reversed": lambda x: x[::-1].copy()[::-1],
    "fortran": np.asfortranarray,
    "big-endian": lambda x: x.astype(">f4"),
    "float64": lambda x: x.astype(np.float64),
    "big-endian float64": lambda x: x.astype(">f8"),
}
