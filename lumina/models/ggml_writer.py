"""Writing whisper.cpp model files (the legacy ggml format), for every producer of one.

Two producers share this: :mod:`lumina.models.synthetic` (random weights of the
real shapes) and :mod:`lumina.models.imports` (real weights from faster-whisper /
CTranslate2 or transformers directories). The layout is the one
:mod:`lumina.models.modelfile` validates; which storage type each tensor gets
comes from :func:`lumina.models.tensors.expected_tensors`, so a writer cannot
disagree with the validator.

Quantized storage: ``q8_0`` (32 values: an f16 scale and 32 int8) and ``q5_1``
(32 values: f16 scale and minimum, 32 high bits, 16 bytes of low nibbles), the
block layouts ggml defines.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

from lumina.models.modelfile import GGML_MAGIC, HParams

__all__ = ["FILE_FTYPES", "TENSOR_TYPE_CODES", "atomic_output", "quantize_q5_1",
           "quantize_q8_0", "write_header", "write_tensor"]

#: Storage name -> the header's file type (a quantized file stores qnt_version * 1000 + ftype;
#: the current version is 2). No "f32": whisper.cpp 1.8.5 cannot run all-f32 files.
FILE_FTYPES = {"f16": 1, "q8_0": 2 * 1000 + 7, "q5_1": 2 * 1000 + 9}
#: ggml tensor type code -> storage name written by :func:`write_tensor`.
TENSOR_TYPE_CODES = {0: "f32", 1: "f16", 7: "q5_1", 8: "q8_0"}
_BLOCK = 32


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` and rename it into place on success.

    A reader never sees half a model; a failure leaves nothing behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as out:
            yield out
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_header(out: BinaryIO, hp: HParams, filters: np.ndarray, tokens: Iterable[bytes]) -> None:
    """Write the header, the mel filterbank ``[n_mels, n_fft // 2 + 1]`` and the vocabulary."""
    out.write(struct.pack(
        "<I11i", GGML_MAGIC, hp.n_vocab, hp.n_audio_ctx, hp.n_audio_state, hp.n_audio_head,
        hp.n_audio_layer, hp.n_text_ctx, hp.n_text_state, hp.n_text_head, hp.n_text_layer,
        hp.n_mels, hp.ftype))
    out.write(struct.pack("<2i", *filters.shape))
    out.write(np.ascontiguousarray(filters, dtype="<f4").tobytes())
    tokens = list(tokens)
    out.write(struct.pack("<i", len(tokens)))
    for token in tokens:
        out.write(struct.pack("<I", len(token)))
        out.write(token)


def write_tensor(out: BinaryIO, name: str, data: np.ndarray, kind: str) -> None:
    """Write one tensor record; ``data`` has numpy shape ``reversed(ne)``.

    ``kind`` is ``"f32"``, ``"f16"``, ``"q8_0"`` or ``"q5_1"``.
    """
    ne = tuple(reversed(data.shape))
    encoded = name.encode("ascii")
    code = next(c for c, k in TENSOR_TYPE_CODES.items() if k == kind)
    out.write(struct.pack(f"<3i{len(ne)}i", len(ne), len(encoded), code, *ne))
    out.write(encoded)
    if kind == "f32":
        out.write(np.ascontiguousarray(data, dtype="<f4").tobytes())
    elif kind == "f16":
        out.write(np.ascontiguousarray(data, dtype="<f2").tobytes())
    elif kind == "q8_0":
        out.write(quantize_q8_0(data))
    else:
        out.write(quantize_q5_1(data))


def _blocks(data: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(data, dtype=np.float32).reshape(-1, _BLOCK)


def quantize_q8_0(data: np.ndarray) -> bytes:
    """Encode float32 data as ggml Q8_0 blocks (an f16 scale and 32 int8 values each)."""
    flat = _blocks(data)
    scale = np.abs(flat).max(axis=1) / 127.0
    inverse = np.divide(1.0, scale, out=np.zeros_like(scale), where=scale > 0)
    quants = np.round(flat * inverse[:, None]).astype(np.int8)
    blocks = np.empty(len(flat), dtype=[("d", "<f2"), ("q", "i1", _BLOCK)])
    blocks["d"] = scale.astype(np.float16)
    blocks["q"] = quants
    return blocks.tobytes()


def quantize_q5_1(data: np.ndarray) -> bytes:
    """Encode float32 data as ggml Q5_1 blocks: value = d * q + m with q in 0..31.

    Each block stores ``d`` and ``m`` as f16, the fifth bit of its 32 values in
    one little-endian uint32 (value j at bit j), and the low four bits in 16
    bytes (value j in the low nibble of byte j, value j + 16 in its high nibble).
    """
    flat = _blocks(data)
    low, high = flat.min(axis=1), flat.max(axis=1)
    d = (high - low) / 31.0
    inverse = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
    q = np.clip(np.floor((flat - low[:, None]) * inverse[:, None] + 0.5), 0, 31).astype(np.uint32)
    nibbles = (q[:, :16] & 0x0F) | ((q[:, 16:] & 0x0F) << 4)
    fifth = (q >> 4) & 1
    qh = (fifth << np.arange(_BLOCK, dtype=np.uint32)).sum(axis=1, dtype=np.uint32)
    blocks = np.empty(len(flat), dtype=[("d", "<f2"), ("m", "<f2"), ("qh", "<u4"), ("qs", "u1", 16)])
    blocks["d"] = d.astype(np.float16)
    blocks["m"] = low.astype(np.float16)
    blocks["qh"] = qh
    blocks["qs"] = nibbles.astype(np.uint8)
    return blocks.tobytes()
