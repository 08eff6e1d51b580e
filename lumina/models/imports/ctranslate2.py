"""faster-whisper's models: CTranslate2 Whisper directories, read without CTranslate2.

A directory holds ``model.bin``, ``config.json`` and ``vocabulary.txt`` (or
``vocabulary.json``). ``model.bin`` is CTranslate2's own serialisation
(``ctranslate2/specs/model_spec.py``, ``_serialize``), all little-endian::

    uint32 binary version; string spec name; uint32 spec revision
    uint32 n_variables, then each: string name; uint8 rank; uint32 dims[rank];
                                   uint8 dtype id; uint32 n_bytes; bytes data
    uint32 n_aliases, then each: string alias; string variable name

A string is a uint16 length (counting a final NUL), then the UTF-8 bytes and
the NUL. dtype ids: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16,
5 bfloat16. An int8 or int16 weight comes with ``<name>_scale``:
stored = round(weight * scale), per output row for int8.

CTranslate2's Whisper converter fuses the self-attention's query, key and
value projections into ``self_attention/linear_0`` (the key has no bias: its
slice of the fused bias is zero) and the cross-attention's key and value
into ``attention/linear_1``; this reader splits them again.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from lumina.errors import ModelIntegrityError
from lumina.models.imports.byte_level import token_bytes
from lumina.models.imports.weights import WhisperShape, WhisperWeights, n_text_tokens

__all__ = ["is_ctranslate2_dir", "read_ctranslate2"]

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}
_DTYPE_NAMES = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
#: Binary versions whose variable records have the layout above (dtype ids and byte counts).
_VERSIONS = range(4, 7)


def is_ctranslate2_dir(path: Path) -> bool:
    """Whether ``path`` looks like a CTranslate2 model directory."""
    return path.is_dir() and (path / "model.bin").is_file()


def read_ctranslate2(path: Path) -> WhisperWeights:
    """Read a CTranslate2 Whisper model directory (any of its storage types).

    Raises
    ------
    ModelIntegrityError
        Not a Whisper model, a truncated or unreadable ``model.bin``, a missing
        vocabulary, or weights whisper.cpp cannot represent (a key bias).
    """
    variables, spec, dtype = _read_model_bin(path / "model.bin")
    if spec != "WhisperSpec":
        raise ModelIntegrityError(f"{path} holds a CTranslate2 {spec} model, not a Whisper model")
    v = _Variables(variables, path)
    shape = _shape(v)
    tensors = dict(_encoder(v, shape)) | dict(_decoder(v, shape))
    tokens = [token_bytes(t) for t in _vocabulary(path)[:n_text_tokens(shape.n_vocab)]]
    return WhisperWeights(shape, tensors, tokens, "ctranslate2", dtype)


# --------------------------------------------------------------------------- model.bin

class _Cursor:
    def __init__(self, data: memoryview, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ModelIntegrityError(f"{self.path} is truncated at byte {self.pos} (needs {n} more "
                                      f"of {len(self.data)}): copy the model again")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def string(self) -> str:
        (n,) = self.unpack("H")
        return bytes(self.take(n)).rstrip(b"\0").decode("utf-8", "replace")


def _read_model_bin(path: Path) -> tuple[dict[str, np.ndarray], str, str]:
    """Variables by name (aliases resolved), the spec name and the matrices' stored dtype."""
    data = memoryview(np.fromfile(path, dtype=np.uint8))
    c = _Cursor(data, path)
    (version,) = c.unpack("I")
    if version not in _VERSIONS:
        raise ModelIntegrityError(
            f"{path} has CTranslate2 binary version {version}; lumina reads versions "
            f"{_VERSIONS.start}-{_VERSIONS.stop - 1} (CTranslate2 2.x-4.x)")
    spec = c.string()
    c.unpack("I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    stored: dict[str, str] = {}
    for _ in range(c.unpack("I")[0]):
        name = c.string()
        (rank,) = c.unpack("B")
        dims = c.unpack(f"{rank}I") if rank else ()
        dtype_id, n_bytes = c.unpack("BI")
        variables[name] = _array(c.take(n_bytes), dtype_id, dims, name, path)
        stored[name] = _DTYPE_NAMES[dtype_id]
    for _ in range(c.unpack("I")[0]):
        alias, target = c.string(), c.string()
        if target in variables:
            variables[alias] = variables[target]
    if c.pos != len(data):
        raise ModelIntegrityError(f"{path} has {len(data) - c.pos} bytes after its last record: "
                                  "it is corrupt or from an unknown CTranslate2 version")
    return variables, spec, stored.get("decoder/embeddings/weight", "unknown")


def _array(raw: memoryview, dtype_id: int, dims: tuple[int, ...], name: str, path: Path) -> np.ndarray:
    if dtype_id not in _DTYPES:
        raise ModelIntegrityError(f"{path}: variable {name!r} has unknown dtype id {dtype_id}")
    if _DTYPES[dtype_id] == "bfloat16":  # the high half of a float32
        values = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        values = values.view(np.float32)
    else:
        values = np.frombuffer(raw, dtype=np.dtype(_DTYPES[dtype_id]).newbyteorder("<"))
    count = int(np.prod(dims)) if dims else 1
    if values.size != count:
        raise ModelIntegrityError(f"{path}: variable {name!r} holds {values.size} values for a "
                                  f"shape of {list(dims)}")
    return values.reshape(dims)


# --------------------------------------------------------------------------- mapping

class _Variables:
    """Lookup of CTranslate2 variables as float32, dequantizing int8/int16 weights."""

    def __init__(self, variables: dict[str, np.ndarray], path: Path) -> None:
        self.vars, self.path = variables, path

    def __contains__(self, name: str) -> bool:
        return name in self.vars

    def raw(self, name: str) -> np.ndarray:
        try:
            return self.vars[name]
        except KeyError:
            raise ModelIntegrityError(f"{self.path}/model.bin lacks the variable {name!r}: it is "
                                      "not a complete Whisper model") from None

    def f32(self, name: str) -> np.ndarray:
        value = self.raw(name)
        if value.dtype in (np.int8, np.int16):
            scale = self.raw(name + "_scale").astype(np.float32)
            if value.ndim > 1 and scale.ndim == 1:  # int8: one scale per output row
                scale = scale.reshape((-1,) + (1,) * (value.ndim - 1))
            return value.astype(np.float32) / scale
        return np.asarray(value, dtype=np.float32)

    def count(self, prefix: str) -> int:
        n = 0
        while f"{prefix}/layer_{n}/ffn/linear_0/weight" in self.vars:
            n += 1
        return n


def _shape(v: _Variables) -> WhisperShape:
    conv1 = v.raw("encoder/conv1/weight")
    embeddings = v.raw("decoder/embeddings/weight")
    return WhisperShape(
        n_vocab=embeddings.shape[0], n_audio_ctx=v.raw("encoder/position_encodings/encodings").shape[0],
        n_audio_state=conv1.shape[0], n_audio_head=int(v.raw("encoder/num_heads")),
        n_audio_layer=v.count("encoder"),
        n_text_ctx=v.raw("decoder/position_encodings/encodings").shape[0],
        n_text_state=embeddings.shape[1], n_text_head=int(v.raw("decoder/num_heads")),
        n_text_layer=v.count("decoder"), n_mels=conv1.shape[1])


def _linear(v: _Variables, src: str, dst: str, rows: slice | None = None, bias: bool = True):
    weight = v.f32(f"{src}/weight")
    yield f"{dst}.weight", weight if rows is None else weight[rows]
    if bias:
        b = v.f32(f"{src}/bias")
        yield f"{dst}.bias", b if rows is None else b[rows]


def _norm(v: _Variables, src: str, dst: str):
    yield f"{dst}.weight", v.f32(f"{src}/gamma")
    yield f"{dst}.bias", v.f32(f"{src}/beta")


def _split_attention(v: _Variables, src: str, dst: str, n: int, parts: tuple[str, ...]):
    """Yield the projections fused in ``src`` (rows of ``n`` each), the key without its bias."""
    fused_bias = v.f32(f"{src}/bias")
    for i, part in enumerate(parts):
        rows = slice(i * n, (i + 1) * n)
        if part == "key":
            if np.any(fused_bias[rows]):
                raise ModelIntegrityError(f"{v.path}: {src} has a key bias, which whisper.cpp "
                                          "cannot represent (Whisper's key projection has none)")
            yield from _linear(v, src, f"{dst}.key", rows, bias=False)
        else:
            yield from _linear(v, src, f"{dst}.{part}", rows)


def _mlp(v: _Variables, src: str, dst: str):
    yield from _norm(v, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln")
    yield from _linear(v, f"{src}/ffn/linear_0", f"{dst}.mlp.0")
    yield from _linear(v, f"{src}/ffn/linear_1", f"{dst}.mlp.2")


def _self_attention(v: _Variables, src: str, dst: str, n: int):
    yield from _norm(v, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln")
    yield from _split_attention(v, f"{src}/self_attention/linear_0", f"{dst}.attn", n,
                                ("query", "key", "value"))
    yield from _linear(v, f"{src}/self_attention/linear_1", f"{dst}.attn.out")


def _encoder(v: _Variables, shape: WhisperShape):
    n = shape.n_audio_state
    yield "encoder.positional_embedding", v.f32("encoder/position_encodings/encodings")
    for conv in ("conv1", "conv2"):
        yield f"encoder.{conv}.weight", v.f32(f"encoder/{conv}/weight")
        yield f"encoder.{conv}.bias", v.f32(f"encoder/{conv}/bias").reshape(n, 1)
    for i in range(shape.n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        yield from _mlp(v, src, dst)
        yield from _self_attention(v, src, dst, n)
    yield from _norm(v, "encoder/layer_norm", "encoder.ln_post")


def _decoder(v: _Variables, shape: WhisperShape):
    n = shape.n_text_state
    embeddings = v.f32("decoder/embeddings/weight")
    _check_tied(v, embeddings)
    yield "decoder.positional_embedding", v.f32("decoder/position_encodings/encodings")
    yield "decoder.token_embedding.weight", embeddings
    for i in range(shape.n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        yield from _mlp(v, src, dst)
        yield from _self_attention(v, src, dst, n)
        yield from _norm(v, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln")
        yield from _linear(v, f"{src}/attention/linear_0", f"{dst}.cross_attn.query")
        yield from _split_attention(v, f"{src}/attention/linear_1", f"{dst}.cross_attn", n,
                                    ("key", "value"))
        yield from _linear(v, f"{src}/attention/linear_2", f"{dst}.cross_attn.out")
    yield from _norm(v, "decoder/layer_norm", "decoder.ln")


def _check_tied(v: _Variables, embeddings: np.ndarray) -> None:
    """whisper.cpp reuses the token embedding as the output layer: it must be the same matrix."""
    name = "decoder/projection/weight"
    if name in v and v.raw(name) is not v.raw("decoder/embeddings/weight") \
            and not np.array_equal(v.f32(name), embeddings):
        raise ModelIntegrityError(f"{v.path}: the output projection differs from the token "
                                  "embedding, which whisper.cpp shares between them")


def _vocabulary(path: Path) -> list[str]:
    text, json_file = path / "vocabulary.txt", path / "vocabulary.json"
    if json_file.is_file():
        tokens = json.loads(json_file.read_text(encoding="utf-8"))
    elif text.is_file():
        tokens = text.read_text(encoding="utf-8").split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
    else:
        raise ModelIntegrityError(f"{path} has no vocabulary.txt or vocabulary.json: copy the "
                                  "whole model directory")
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ModelIntegrityError(f"{path}: the vocabulary is not a list of token strings")
    return tokens
