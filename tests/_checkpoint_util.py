"""Writers of faster-whisper (CTranslate2) and transformers (safetensors) Whisper directories, for
the import tests: they turn whisper.cpp-named float32 tensors back into the layouts those
libraries write (fused attention projections, their variable names, their storage types), so
every reader path of lumina.models.imports can be checked against a known answer."""

from __future__ import annotations

import json
import pathlib
import struct

import numpy as np

from lumina.models.imports.byte_level import _CHAR_TO_BYTE

_BYTE_TO_CHAR = {b: c for c, b in _CHAR_TO_BYTE.items()}
_CT2_DTYPES = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4, "bfloat16": 5}


def token_string(token: bytes) -> str:
    """GPT-2's byte-level spelling of a raw token."""
    return "".join(_BYTE_TO_CHAR[b] for b in token)


def vocabulary(tokens, n_vocab: int) -> list[str]:
    """Ordinary tokens, then placeholder names for the special ones, as a full vocabulary lists them."""
    words = [token_string(t) for t in tokens]
    return words + [f"<|special{i}|>" for i in range(n_vocab - len(words))]


# --------------------------------------------------------------------------- CTranslate2

def _ct2_string(s: str) -> bytes:
    data = s.encode() + b"\0"
    return struct.pack("<H", len(data)) + data


def _to_bfloat16(x: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even


def _ct2_encode(name: str, value: np.ndarray, dtype: str) -> list[tuple[str, np.ndarray, str]]:
    """One variable as stored, plus its scale when quantized (CTranslate2's int8 scheme)."""
    is_matrix = name.endswith("/weight") and value.ndim >= 2 and "conv" not in name
    if dtype == "int8" and is_matrix:
        flat = value.reshape(value.shape[0], -1)
        amax = np.abs(flat).max(axis=1)
        amax[amax == 0] = 127.0
        scale = (127.0 / amax).astype(np.float32)
        q = np.rint(value * scale.reshape((-1,) + (1,) * (value.ndim - 1))).astype(np.int8)
        return [(name, q, "int8"), (name + "_scale", scale, "float32")]
    if value.dtype.kind == "f":
        store = {"int8": "float32"}.get(dtype, dtype)
        return [(name, value, store)]
    return [(name, value, str(value.dtype))]


def _ct2_variables(t: dict[str, np.ndarray], n_audio_layer: int, n_text_layer: int,
                   heads: int) -> dict[str, np.ndarray]:
    v = {"encoder/num_heads": np.array(heads, np.int16), "decoder/num_heads": np.array(heads, np.int16),
         "encoder/position_encodings/encodings": t["encoder.positional_embedding"],
         "decoder/position_encodings/encodings": t["decoder.positional_embedding"],
         "decoder/embeddings/weight": t["decoder.token_embedding.weight"]}
    for conv in ("conv1", "conv2"):
        v[f"encoder/{conv}/weight"] = t[f"encoder.{conv}.weight"]
        v[f"encoder/{conv}/bias"] = t[f"encoder.{conv}.bias"].reshape(-1)
    for side, dst, ln in (("encoder", "encoder", "ln_post"), ("decoder", "decoder", "ln")):
        v[f"{dst}/layer_norm/gamma"] = t[f"{side}.{ln}.weight"]
        v[f"{dst}/layer_norm/beta"] = t[f"{side}.{ln}.bias"]
    for side, layers in (("encoder", n_audio_layer), ("decoder", n_text_layer)):
        for i in range(layers):
            _ct2_layer(v, t, f"{side}/layer_{i}", f"{side}.blocks.{i}", cross=side == "decoder")
    return v


def _ct2_layer(v, t, dst: str, src: str, *, cross: bool) -> None:
    def norm(to, frm):
        v[f"{to}/gamma"], v[f"{to}/beta"] = t[f"{frm}.weight"], t[f"{frm}.bias"]

    def linear(to, frm):
        v[f"{to}/weight"], v[f"{to}/bias"] = t[f"{frm}.weight"], t[f"{frm}.bias"]

    def fused(to, frm, parts):
        weights = [t[f"{frm}.{p}.weight"] for p in parts]
        biases = [t.get(f"{frm}.{p}.bias", np.zeros(weights[0].shape[0], np.float32)) for p in parts]
        v[f"{to}/weight"], v[f"{to}/bias"] = np.concatenate(weights), np.concatenate(biases)

    norm(f"{dst}/ffn/layer_norm", f"{src}.mlp_ln")
    linear(f"{dst}/ffn/linear_0", f"{src}.mlp.0")
    linear(f"{dst}/ffn/linear_1", f"{src}.mlp.2")
    norm(f"{dst}/self_attention/layer_norm", f"{src}.attn_ln")
    fused(f"{dst}/self_attention/linear_0", f"{src}.attn", ("query", "key", "value"))
    linear(f"{dst}/self_attention/linear_1", f"{src}.attn.out")
    if cross:
        norm(f"{dst}/attention/layer_norm", f"{src}.cross_attn_ln")
        linear(f"{dst}/attention/linear_0", f"{src}.cross_attn.query")
        fused(f"{dst}/attention/linear_1", f"{src}.cross_attn", ("key", "value"))
        linear(f"{dst}/attention/linear_2", f"{src}.cross_attn.out")


def write_ct2_dir(path: pathlib.Path, weights, dtype: str = "float16", *,
                  spec: str = "WhisperSpec", version: int = 6,
                  edit=None) -> pathlib.Path:
    """Write ``weights`` (a WhisperWeights) as a CTranslate2 Whisper directory.

    ``edit(variables)`` may change the variables (by CTranslate2 name) before they are written.
    """
    s = weights.shape
    variables = _ct2_variables(dict(weights.tensors), s.n_audio_layer, s.n_text_layer, s.n_audio_head)
    if edit is not None:
        edit(variables)
    records = [r for name in sorted(variables) for r in _ct2_encode(name, variables[name], dtype)]
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "model.bin", "wb") as out:
        out.write(struct.pack("<I", version) + _ct2_string(spec) + struct.pack("<II", 3, len(records)))
        for name, value, store in records:
            data = _to_bfloat16(value) if store == "bfloat16" else np.ascontiguousarray(value, dtype=store)
            out.write(_ct2_string(name) + struct.pack("<B", value.ndim))
            out.write(struct.pack(f"<{value.ndim}I", *value.shape))
            out.write(struct.pack("<BI", _CT2_DTYPES[store], data.nbytes) + data.tobytes())
        out.write(struct.pack("<I", 1) + _ct2_string("decoder/projection/weight")
                  + _ct2_string("decoder/embeddings/weight"))
    (path / "config.json").write_text(json.dumps({"suppress_ids": [], "lang_ids": []}))
    (path / "vocabulary.txt").write_text("\n".join(vocabulary(weights.tokens, s.n_vocab)) + "\n",
                                         encoding="utf-8")
    return path


# --------------------------------------------------------------------------- transformers

_HF_PARTS = {"attn.query": "self_attn.q_proj", "attn.key": "self_attn.k_proj",
             "attn.value": "self_attn.v_proj", "attn.out": "self_attn.out_proj",
             "attn_ln": "self_attn_layer_norm", "cross_attn.query": "encoder_attn.q_proj",
             "cross_attn.key": "encoder_attn.k_proj", "cross_attn.value": "encoder_attn.v_proj",
             "cross_attn.out": "encoder_attn.out_proj", "cross_attn_ln": "encoder_attn_layer_norm",
             "mlp.0": "fc1", "mlp.2": "fc2", "mlp_ln": "final_layer_norm"}
_HF_FIXED = {"encoder.conv1": "model.encoder.conv1", "encoder.conv2": "model.encoder.conv2",
             "encoder.ln_post": "model.encoder.layer_norm", "decoder.ln": "model.decoder.layer_norm",
             "decoder.token_embedding": "model.decoder.embed_tokens"}


def _hf_name(name: str) -> str:
    if name.endswith("positional_embedding"):
        return f"model.{name.split('.')[0]}.embed_positions.weight"
    stem, _, kind = name.rpartition(".")
    if stem in _HF_FIXED:
        return f"{_HF_FIXED[stem]}.{kind}"
    side, _, index, *rest = stem.split(".")
    return f"model.{side}.layers.{index}.{_HF_PARTS['.'.join(rest)]}.{kind}"


def write_safetensors(path: pathlib.Path, tensors: dict[str, np.ndarray], dtype: str) -> None:
    """A safetensors file: header length, JSON header, data (F32, F16 or BF16)."""
    header, blobs, offset = {}, [], 0
    for name, value in tensors.items():
        if dtype == "BF16":
            data = _to_bfloat16(value).tobytes()
        else:
            data = np.ascontiguousarray(value, dtype={"F32": "<f4", "F16": "<f2"}[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(value.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def write_transformers_dir(path: pathlib.Path, weights, dtype: str = "F16", *, shards: int = 1,
                           extra: dict | None = None) -> pathlib.Path:
    """Write ``weights`` as a transformers Whisper directory (config, safetensors, vocab.json).

    ``proj_out.weight`` is the token embedding (tied) unless ``extra`` (tensors by transformers
    name) says otherwise.
    """
    s = weights.shape
    tensors = {_hf_name(n): (v.reshape(-1) if n.startswith("encoder.conv") and n.endswith("bias") else v)
               for n, v in weights.tensors.items()}
    for side, layers in (("encoder", s.n_audio_layer), ("decoder", s.n_text_layer)):
        for i in range(layers):  # transformers keeps a zero key bias nowhere: it has none
            tensors.pop(f"model.{side}.layers.{i}.self_attn.k_proj.bias", None)
    tensors["proj_out.weight"] = tensors["model.decoder.embed_tokens.weight"]
    tensors.update(extra or {})
    path.mkdir(parents=True, exist_ok=True)
    names = sorted(tensors)
    if shards == 1:
        write_safetensors(path / "model.safetensors", tensors, dtype)
    else:
        weight_map = {}
        for k in range(shards):
            part = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
            chunk = names[k::shards]
            write_safetensors(path / part, {n: tensors[n] for n in chunk}, dtype)
            weight_map.update({n: part for n in chunk})
        (path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    config = {"model_type": "whisper", "vocab_size": s.n_vocab, "max_source_positions": s.n_audio_ctx,
              "d_model": s.n_audio_state, "encoder_attention_heads": s.n_audio_head,
              "encoder_layers": s.n_audio_layer, "max_target_positions": s.n_text_ctx,
              "decoder_attention_heads": s.n_text_head, "decoder_layers": s.n_text_layer,
              "num_mel_bins": s.n_mels}
    (path / "config.json").write_text(json.dumps(config))
    vocab = vocabulary(weights.tokens, len(weights.tokens) + 1)
    (path / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}), encoding="utf-8")
    return path


def random_weights(arch: str = "micro", seed: int = 0):
    """A WhisperWeights of ``arch``'s shape with random weights (lumina.testing's vocabulary)."""
    from lumina.models.imports.weights import WhisperShape, WhisperWeights, n_text_tokens
    from lumina.models.synthetic import SHAPES
    from lumina.models.tensors import expected_tensor_names, expected_tensors

    m = SHAPES[arch]
    shape = WhisperShape(m.n_vocab, m.n_audio_ctx, m.n_audio_state, m.n_audio_head, m.n_audio_layer,
                         m.n_text_ctx, m.n_text_state, m.n_text_head, m.n_text_layer, m.n_mels)
    hp = shape.hparams("f16")
    rng = np.random.default_rng(seed)
    tensors = {}
    for name in expected_tensor_names(hp.n_audio_layer, hp.n_text_layer):
        ne = expected_tensors(hp)[name][0]
        dims = [d for d in ne]
        while len(dims) > 1 and dims[-1] == 1:
            dims.pop()
        numpy_shape = tuple(reversed(dims))
        fan_in = numpy_shape[-1] if len(numpy_shape) > 1 else 1
        tensors[name] = (rng.standard_normal(numpy_shape) / np.sqrt(fan_in)).astype(np.float32)
    # Unique tokens (a vocabulary is a mapping in transformers' vocab.json): the first 95 are
    # printable ASCII as in lumina.testing, then " w<i>".
    tokens = [bytes([32 + i]) if i < 95 else f" w{i}".encode() for i in range(n_text_tokens(shape.n_vocab))]
    return WhisperWeights(shape, tensors, tokens, "random", "float32")
