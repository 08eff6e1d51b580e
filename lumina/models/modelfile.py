"""Validation of whisper.cpp model files (the legacy ``ggml`` format).

whisper.cpp aborts the whole process on some malformed model files, so
lumina checks a file before handing it over: magic, header ranges, the mel
filter and vocabulary sections, and every entry of the tensor table (name,
that its data lies inside the file, and that its shape and type are what the
header makes whisper.cpp expect: :mod:`lumina.models.tensors`).  Files
whisper.cpp cannot run (all-f32 models) are refused too.  The walk reads only
headers and seeks over tensor data, so a 3 GB model is checked in
milliseconds; the file is hashed only when a hash is expected.

File layout (all little-endian)::

    uint32 magic 0x67676d6c
    int32  n_vocab n_audio_ctx n_audio_state n_audio_head n_audio_layer
           n_text_ctx n_text_state n_text_head n_text_layer n_mels ftype
    int32  n_mel, n_fft; float32[n_mel * n_fft]          (mel filters)
    int32  n_tokens; n_tokens * (uint32 len, bytes[len])  (vocabulary)
    until EOF: int32 n_dims, name_len, ttype; int32 ne[n_dims];
               bytes name[name_len]; raw data (no padding)
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lumina.errors import ArgumentError, ModelIntegrityError, ModelNotFoundError
from lumina.models.hashing import check_hashes, file_digests  # noqa: F401 (file_digests re-exported)
from lumina.models.tensors import (FTYPE_NAMES, TENSOR_TYPES, expected_tensor_names,
                                   expected_tensors, tensor_mismatch, unrunnable_ftype)

__all__ = ["HParams", "ModelInfo", "validate_model_file", "expected_tensor_names"]

GGML_MAGIC = 0x67676D6C
_HEADER = struct.Struct("<I11i")
_TENSOR_HEAD = struct.Struct("<3i")
_TOKEN_LEN = struct.Struct("<I")

_MAX_NAME_LEN = 1024
_MAX_TOKEN_LEN = 1 << 16
_MAX_DIM = 1 << 31
_VOCAB_CHUNK = 1 << 20

# (n_audio_state, n_audio_layer, n_text_layer, n_mels) -> architecture name.
_ARCHS = {
    (384, 4, 4, 80): "tiny", (512, 6, 6, 80): "base", (768, 12, 12, 80): "small",
    (1024, 24, 24, 80): "medium", (1280, 32, 32, 80): "large",
    (1280, 32, 32, 128): "large-v3", (1280, 32, 4, 128): "large-v3-turbo",
}
# n_vocab of the released checkpoints: 51864 English-only, 51865/51866 multilingual.
_ENGLISH_VOCAB = 51864
_MULTILINGUAL_VOCABS = (51865, 51866)


@dataclass(frozen=True)
class HParams:
    """The hyper-parameters stored in a whisper.cpp model header."""

    n_vocab: int
    n_audio_ctx: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_text_ctx: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int
    n_mels: int
    ftype: int


@dataclass(frozen=True)
class ModelInfo:
    """What :func:`validate_model_file` learned about a valid model file.

    Attributes
    ----------
    path : Path
        The file that was checked.
    file_size : int
        Its size in bytes.
    hparams : HParams
        The header hyper-parameters.
    ftype : int
        The raw file type (``qnt_version * 1000 + ggml ftype``).
    quantization : str
        ``'f16'``, ``'q4_0'``, ``'q4_1'``, ``'q5_0'``, ``'q5_1'`` or ``'q8_0'``.
    n_tensors : int
        Number of tensors in the tensor table.
    n_tokens : int
        Number of vocabulary entries stored in the file.
    arch : str or None
        ``'tiny'``, ``'base'``, ``'small'``, ``'medium'``, ``'large'`` (v1/v2),
        ``'large-v3'`` or ``'large-v3-turbo'`` when the shapes match a released
        checkpoint, else None.
    english_only : bool or None
        True for the ``.en`` vocabulary size, False for the multilingual ones,
        None for any other size.
    sha1, sha256 : str or None
        Hex digests, computed only when the caller expected one.
    """

    path: Path
    file_size: int
    hparams: HParams
    ftype: int
    quantization: str
    n_tensors: int
    n_tokens: int
    arch: str | None
    english_only: bool | None
    sha1: str | None = None
    sha256: str | None = None


class _Reader:
    """Reads exact byte counts and reports truncation with the offset."""

    def __init__(self, f: BinaryIO, path: Path, size: int) -> None:
        self.f, self.path, self.size = f, path, size

    def fail(self, what: str) -> ModelIntegrityError:
        return ModelIntegrityError(f"{self.path}: {what}")

    def truncated(self, section: str, need: int, at: int) -> ModelIntegrityError:
        return self.fail(
            f"file is truncated in the {section}: {need} more bytes needed at offset {at} "
            f"but the file has {self.size} bytes; delete it and download it again")

    def read(self, n: int, section: str) -> bytes:
        at = self.f.tell()
        data = self.f.read(n)
        if len(data) != n:
            raise self.truncated(section, n, at)
        return data

    def skip(self, n: int, section: str) -> None:
        at = self.f.tell()
        if at + n > self.size:
            raise self.truncated(section, n, at)
        self.f.seek(n, os.SEEK_CUR)


def validate_model_file(path: str | os.PathLike[str], *, expected_sha1: str | None = None,
                        expected_sha256: str | None = None,
                        expected_size: int | None = None) -> ModelInfo:
    """Check that *path* is a complete, well-formed whisper.cpp model file.

    Parameters
    ----------
    path : path-like
        The model file (whisper.cpp legacy ggml format, ``ggml-*.bin``).
    expected_sha1, expected_sha256 : str, optional
        Hex digests to compare with; the file is hashed only when one is given.
    expected_size : int, optional
        Exact size in bytes.

    Returns
    -------
    ModelInfo
        Header facts of the valid file.

    Raises
    ------
    ModelIntegrityError
        If the file is truncated, is an HTML page or a GGUF file, has absurd
        header fields, an unknown tensor type, a tensor table that does not
        match the file size, missing or unexpected tensors, a tensor whose
        shape or type disagrees with the header (the message names the tensor,
        the shape the header implies and the one found), or a wrong size or
        hash; or if it is an all-f32 model, which whisper.cpp 1.8.5 cannot run
        (it aborts the process; the message says to use an f16 file).
    ModelNotFoundError
        If *path* does not exist (a :class:`FileNotFoundError`).
    ArgumentError
        If *path* is not a str or path.
    """
    p = _as_path(path)
    size = _file_size(p)
    if expected_size is not None and size != expected_size:
        raise ModelIntegrityError(
            f"{p}: size is {size} bytes but {expected_size} bytes were expected; the file is "
            "incomplete or a different model: delete it and download it again")
    with open(p, "rb") as f:
        r = _Reader(f, p, size)
        hp = _read_header(r)
        _skip_mel_filters(r)
        n_tokens = _skip_vocab(r, hp)
        n_tensors = _walk_tensors(r, hp)
    sha1, sha256 = check_hashes(p, expected_sha1, expected_sha256)
    return ModelInfo(
        path=p, file_size=size, hparams=hp, ftype=hp.ftype,
        quantization=FTYPE_NAMES[hp.ftype % 1000], n_tensors=n_tensors, n_tokens=n_tokens,
        arch=_ARCHS.get((hp.n_audio_state, hp.n_audio_layer, hp.n_text_layer, hp.n_mels)),
        english_only=(True if hp.n_vocab == _ENGLISH_VOCAB
                      else False if hp.n_vocab in _MULTILINGUAL_VOCABS else None),
        sha1=sha1, sha256=sha256)


def _as_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentError(f"a model file path must be a str or path, not {type(path).__name__}")
    return Path(path)


def _file_size(p: Path) -> int:
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ModelNotFoundError(f"no model file at {p}") from None
    if not p.is_file():
        raise ModelIntegrityError(f"{p}: not a regular file")
    return st.st_size


def _read_header(r: _Reader) -> HParams:
    head = r.f.read(_HEADER.size)
    _reject_foreign(r, head)
    if len(head) < _HEADER.size:
        raise r.truncated("header", _HEADER.size, 0)
    hp = HParams(*_HEADER.unpack(head)[1:])
    _check_hparams(r, hp)
    return hp


def _reject_foreign(r: _Reader, head: bytes) -> None:
    """Name the common wrong files (HTML error pages, GGUF, LFS pointers)."""
    start = head.lstrip()[:16].lower()
    if start.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"{")):
        raise r.fail(
            "this is an HTML/text error page saved as a model, not a whisper.cpp model "
            "(the download URL answered with a web page); delete it and download it again")
    if head.startswith(b"version https://git-lfs"):
        raise r.fail("this is a Git LFS pointer file, not the model itself; download the "
                     "real file (git lfs pull, or the hub's resolve/ URL)")
    if head.startswith(b"GGUF"):
        raise r.fail(
            "this is a GGUF file; whisper.cpp needs its legacy ggml format (magic 'ggml', "
            "files named ggml-*.bin from huggingface.co/ggerganov/whisper.cpp)")
    if len(head) >= 4 and struct.unpack_from("<I", head)[0] != GGML_MAGIC:
        raise r.fail(
            f"not a whisper.cpp model: bad magic {head[:4]!r} (expected b'lmgg', the legacy "
            "ggml format of files named ggml-*.bin)")
    if len(head) < 4:
        raise r.truncated("header", 4, 0)


def _check_hparams(r: _Reader, hp: HParams) -> None:
    limits = {"n_vocab": 1_000_000, "n_audio_ctx": 100_000, "n_audio_state": 100_000,
              "n_audio_head": 1024, "n_audio_layer": 1000, "n_text_ctx": 100_000,
              "n_text_state": 100_000, "n_text_head": 1024, "n_text_layer": 1000,
              "n_mels": 1024}
    for name, hi in limits.items():
        value = getattr(hp, name)
        if not 1 <= value <= hi:
            raise r.fail(f"header field {name}={value} is outside 1..{hi}; "
                         "the file is corrupt or not a whisper model")
    for state, head in (("n_audio_state", "n_audio_head"), ("n_text_state", "n_text_head")):
        if getattr(hp, state) % getattr(hp, head):
            raise r.fail(f"header field {head}={getattr(hp, head)} does not divide "
                         f"{state}={getattr(hp, state)}; the file is corrupt")
    if hp.ftype < 0 or hp.ftype // 1000 > 100 or hp.ftype % 1000 not in FTYPE_NAMES:
        raise r.fail(f"header field ftype={hp.ftype} is not a known ggml file type "
                     f"({', '.join(f'{k}={v}' for k, v in FTYPE_NAMES.items())})")
    unrunnable = unrunnable_ftype(hp.ftype)
    if unrunnable is not None:
        raise r.fail(unrunnable)


def _skip_mel_filters(r: _Reader) -> None:
    n_mel, n_fft = struct.unpack("<2i", r.read(8, "mel filters"))
    if not (1 <= n_mel <= 1024 and 1 <= n_fft <= 100_000):
        raise r.fail(f"mel filter shape {n_mel}x{n_fft} is outside 1..1024 x 1..100000; "
                     "the file is corrupt")
    r.skip(4 * n_mel * n_fft, "mel filters")


def _skip_vocab(r: _Reader, hp: HParams) -> int:
    (n_tokens,) = struct.unpack("<i", r.read(4, "vocabulary"))
    if not 0 <= n_tokens <= hp.n_vocab:
        raise r.fail(f"vocabulary has {n_tokens} tokens, outside 0..n_vocab={hp.n_vocab}; "
                     "the file is corrupt")
    # Parse from large chunks: one read() per token would be slow for 50k tokens.
    base = r.f.tell()          # file offset of buf[0]
    buf, pos = b"", 0
    unpack_len = _TOKEN_LEN.unpack_from
    for i in range(n_tokens):
        if pos + 4 > len(buf):
            buf, pos, base = _ensure(r, buf, pos, base, 4)
        (length,) = unpack_len(buf, pos)
        if length > _MAX_TOKEN_LEN:
            raise r.fail(f"vocabulary token {i} claims {length} bytes; the file is corrupt")
        end = pos + 4 + length
        if end > len(buf):
            buf, pos, base = _ensure(r, buf, pos, base, 4 + length)
            end = pos + 4 + length
        pos = end
    r.f.seek(base + pos)
    return n_tokens


def _ensure(r: _Reader, buf: bytes, pos: int, base: int, need: int) -> tuple[bytes, int, int]:
    """Make ``buf[pos:pos + need]`` available, reading more of the file if needed."""
    if pos + need <= len(buf):
        return buf, pos, base
    buf, base, pos = buf[pos:], base + pos, 0
    while len(buf) < need:
        more = r.f.read(max(_VOCAB_CHUNK, need - len(buf)))
        if not more:
            raise r.truncated("vocabulary", need, base)
        buf += more
    return buf, pos, base


def _walk_tensors(r: _Reader, hp: HParams) -> int:
    names = expected_tensor_names(hp.n_audio_layer, hp.n_text_layer)
    expected, seen = expected_tensors(hp), set()
    while r.f.tell() < r.size:
        name, ne, ttype, _, _ = _skip_tensor(r)
        if name not in expected:
            raise r.fail(f"unexpected tensor {name!r} (whisper.cpp rejects unknown tensors); "
                         "the file is not a whisper model of this shape")
        if name in seen:
            raise r.fail(f"tensor {name!r} appears twice; the file is corrupt")
        problem = tensor_mismatch(hp, name, ne, ttype, *expected[name])
        if problem is not None:
            raise r.fail(problem)
        seen.add(name)
    if not seen:
        raise r.fail("the file has no tensors (header only); it is incomplete: "
                     "delete it and download it again")
    if len(seen) != len(names):
        missing = next(n for n in names if n not in seen)
        raise r.fail(f"tensor {missing!r} is missing ({len(seen)} of {len(names)} "
                     "tensors present); the file is incomplete or was converted wrongly")
    return len(seen)


def _skip_tensor(r: _Reader) -> tuple[str, tuple[int, ...], int, int, int]:
    """Check one tensor entry and seek past it; return (name, ne, type, data offset, data bytes)."""
    at = r.f.tell()
    n_dims, name_len, ttype = _TENSOR_HEAD.unpack(r.read(12, "tensor table"))
    if not 1 <= n_dims <= 4:
        raise r.fail(f"tensor at offset {at} has n_dims={n_dims}, outside 1..4; "
                     "the tensor table is corrupt")
    if not 1 <= name_len <= _MAX_NAME_LEN:
        raise r.fail(f"tensor at offset {at} has a name of {name_len} bytes; "
                     "the tensor table is corrupt")
    if ttype not in TENSOR_TYPES:
        raise r.fail(f"tensor at offset {at} has unknown ggml type {ttype} "
                     f"(known: {sorted(TENSOR_TYPES)}); the file is corrupt or too new")
    ne = struct.unpack(f"<{n_dims}i", r.read(4 * n_dims, "tensor table"))
    raw_name = r.read(name_len, "tensor table")
    name = raw_name.decode("utf-8", "replace")
    if any(not 1 <= d < _MAX_DIM for d in ne):
        raise r.fail(f"tensor {name!r} has an invalid shape {list(ne)}")
    tname, block, type_size = TENSOR_TYPES[ttype]
    if ne[0] % block:
        raise r.fail(f"tensor {name!r} of type {tname} has ne[0]={ne[0]}, not a multiple "
                     f"of its block size {block}; the file is corrupt")
    nelements = 1
    for d in ne:
        nelements *= d
    nbytes = nelements // block * type_size
    data_at = r.f.tell()
    if data_at + nbytes > r.size:
        raise r.fail(
            f"tensor {name!r} needs {nbytes} data bytes at offset {data_at} but the file ends "
            f"at {r.size}: the file is truncated or its tensor table does not match the file "
            "size; delete it and download it again")
    r.f.seek(nbytes, os.SEEK_CUR)
    return name, ne, ttype, data_at, nbytes


def tensor_table(path: str | os.PathLike[str]) -> list[tuple[str, int, int, int]]:
    """Return ``(name, entry offset, data offset, data bytes)`` of every tensor.

    For diagnostics and tests; assumes the header and vocabulary are valid.
    """
    p = _as_path(path)
    size = _file_size(p)
    out = []
    with open(p, "rb") as f:
        r = _Reader(f, p, size)
        hp = _read_header(r)
        _skip_mel_filters(r)
        _skip_vocab(r, hp)
        while f.tell() < size:
            at = f.tell()
            name, _, _, data_at, nbytes = _skip_tensor(r)
            out.append((name, at, data_at, nbytes))
    return out
