"""Hugging Face transformers Whisper directories (safetensors), read without torch.

A directory holds ``config.json`` (``model_type: "whisper"``), the weights in
``model.safetensors`` or in shards listed by ``model.safetensors.index.json``,
and the vocabulary in ``vocab.json`` or ``tokenizer.json``. A safetensors file
is an 8-byte little-endian header length, a JSON header mapping each tensor
name to its dtype, shape and ``data_offsets`` (relative to the end of the
header), then the data. PyTorch-only checkpoints (``pytorch_model.bin``) need
torch to unpickle and are refused with a hint.

Names: ``model.encoder.layers.N.self_attn.q_proj`` becomes
``encoder.blocks.N.attn.query``, ``encoder_attn`` ``cross_attn``, ``fc1``/``fc2``
``mlp.0``/``mlp.2``, ``*_layer_norm`` ``*_ln``, ``encoder.layer_norm``
``encoder.ln_post``, ``decoder.layer_norm`` ``decoder.ln``; ``proj_out`` is the
token embedding again (tied) and is dropped.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np

from lumina.errors import ModelIntegrityError
from lumina.models.imports.byte_level import token_bytes
from lumina.models.imports.weights import WhisperShape, WhisperWeights, n_text_tokens

__all__ = ["is_transformers_dir", "read_transformers"]

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": "bfloat16"}
_LAYER_PARTS = {
    "self_attn.q_proj": "attn.query", "self_attn.k_proj": "attn.key",
    "self_attn.v_proj": "attn.value", "self_attn.out_proj": "attn.out",
    "self_attn_layer_norm": "attn_ln",
    "encoder_attn.q_proj": "cross_attn.query", "encoder_attn.k_proj": "cross_attn.key",
    "encoder_attn.v_proj": "cross_attn.value", "encoder_attn.out_proj": "cross_attn.out",
    "encoder_attn_layer_norm": "cross_attn_ln",
    "fc1": "mlp.0", "fc2": "mlp.2", "final_layer_norm": "mlp_ln",
}
_FIXED = {
    "model.encoder.conv1": "encoder.conv1", "model.encoder.conv2": "encoder.conv2",
    "model.encoder.layer_norm": "encoder.ln_post", "model.decoder.layer_norm": "decoder.ln",
    "model.encoder.embed_positions": "encoder.positional_embedding",
    "model.decoder.embed_positions": "decoder.positional_embedding",
    "model.decoder.embed_tokens": "decoder.token_embedding",
}
_LAYER = re.compile(r"model\.(encoder|decoder)\.layers\.(\d+)\.(.+)\.(weight|bias)$")


def is_transformers_dir(path: Path) -> bool:
    """Whether ``path`` looks like a transformers model directory."""
    return path.is_dir() and (path / "config.json").is_file() and not (path / "model.bin").is_file()


def read_transformers(path: Path) -> WhisperWeights:
    """Read a transformers Whisper directory stored as safetensors.

    Raises
    ------
    ModelIntegrityError
        Not a Whisper model, no safetensors weights (a PyTorch pickle only),
        a corrupt file, or weights whisper.cpp cannot represent.
    """
    config = _config(path)
    raw = _load_safetensors(path)
    shape = WhisperShape(
        n_vocab=config["vocab_size"], n_audio_ctx=config["max_source_positions"],
        n_audio_state=config["d_model"], n_audio_head=config["encoder_attention_heads"],
        n_audio_layer=config["encoder_layers"], n_text_ctx=config["max_target_positions"],
        n_text_state=config["d_model"], n_text_head=config["decoder_attention_heads"],
        n_text_layer=config["decoder_layers"], n_mels=config["num_mel_bins"])
    tensors = _rename(raw, path)
    tokens = [token_bytes(t) for t in _vocabulary(path)[:n_text_tokens(shape.n_vocab)]]
    dtype = str(raw["model.decoder.embed_tokens.weight"][1]) if "model.decoder.embed_tokens.weight" in raw else "unknown"
    return WhisperWeights(shape, tensors, tokens, "transformers", dtype)


def _config(path: Path) -> dict:
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelIntegrityError(f"{path}/config.json cannot be read: {exc}") from None
    if not isinstance(config, dict) or config.get("model_type") != "whisper":
        kind = config.get("model_type") if isinstance(config, dict) else None
        raise ModelIntegrityError(f"{path} holds a transformers {kind!r} model, not a Whisper model")
    keys = ("vocab_size", "max_source_positions", "d_model", "encoder_attention_heads",
            "encoder_layers", "max_target_positions", "decoder_attention_heads",
            "decoder_layers", "num_mel_bins")
    missing = [k for k in keys if not isinstance(config.get(k), int)]
    if missing:
        raise ModelIntegrityError(f"{path}/config.json lacks {missing[0]!r}: it is not a complete "
                                  "Whisper configuration")
    return config


def _shard_files(path: Path) -> list[Path]:
    single, index = path / "model.safetensors", path / "model.safetensors.index.json"
    if single.is_file():
        return [single]
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        return [path / name for name in sorted(set(weight_map.values()))]
    hint = (" It holds only a PyTorch pickle (pytorch_model.bin), which needs torch to read; save "
            "it as safetensors first (model.save_pretrained(dir, safe_serialization=True)).")
    raise ModelIntegrityError(f"{path} has no model.safetensors." +
                              (hint if (path / "pytorch_model.bin").is_file() else ""))


def _load_safetensors(path: Path) -> dict[str, tuple[np.ndarray, str]]:
    """Every tensor of every shard as ``(float32 array, stored dtype name)``."""
    out: dict[str, tuple[np.ndarray, str]] = {}
    for shard in _shard_files(path):
        data = np.fromfile(shard, dtype=np.uint8)
        if len(data) < 8:
            raise ModelIntegrityError(f"{shard} is truncated")
        (n,) = struct.unpack("<Q", data[:8].tobytes())
        try:
            header = json.loads(data[8:8 + n].tobytes())
        except ValueError:
            raise ModelIntegrityError(f"{shard} has an unreadable header: it is not safetensors") from None
        body = data[8 + n:]
        for name, meta in header.items():
            if name != "__metadata__":
                out[name] = (_tensor(body, meta, name, shard), meta.get("dtype"))
    return out


def _tensor(body: np.ndarray, meta: dict, name: str, shard: Path) -> np.ndarray:
    dtype = _DTYPES.get(meta.get("dtype"))
    if dtype is None:
        raise ModelIntegrityError(f"{shard}: tensor {name!r} is stored as {meta.get('dtype')}; "
                                  f"lumina reads {', '.join(_DTYPES)}")
    begin, end = meta["data_offsets"]
    if not 0 <= begin <= end <= len(body):
        raise ModelIntegrityError(f"{shard}: tensor {name!r} lies outside the file: it is truncated")
    raw = body[begin:end]
    if dtype == "bfloat16":
        values = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        values = raw.view(np.dtype(dtype).newbyteorder("<")).astype(np.float32)
    return values.reshape(meta["shape"])


def _rename(raw: dict[str, tuple[np.ndarray, str]], path: Path) -> dict[str, np.ndarray]:
    tensors: dict[str, np.ndarray] = {}
    for name, (value, _) in raw.items():
        target = _target_name(name)
        if target is None:
            continue
        if target.endswith("attn.key.bias"):
            if np.any(value):
                raise ModelIntegrityError(f"{path}: {name} is not zero; whisper.cpp has no key bias")
            continue
        if target.startswith("encoder.conv") and target.endswith(".bias"):
            value = value.reshape(-1, 1)
        tensors[target] = value
    _check_tied(raw, path)
    return tensors


def _target_name(name: str) -> str | None:
    if name == "proj_out.weight":
        return None
    match = _LAYER.match(name)
    if match:
        side, index, part, kind = match.groups()
        if part in _LAYER_PARTS:
            return f"{side}.blocks.{index}.{_LAYER_PARTS[part]}.{kind}"
        return name  # unknown: write_ggml names it
    stem, _, kind = name.rpartition(".")
    if stem in _FIXED:
        target = _FIXED[stem]
        return target if target.endswith("positional_embedding") else f"{target}.{kind}"
    return name


def _check_tied(raw: dict[str, tuple[np.ndarray, str]], path: Path) -> None:
    proj, emb = raw.get("proj_out.weight"), raw.get("model.decoder.embed_tokens.weight")
    if proj is not None and emb is not None and not np.array_equal(proj[0], emb[0]):
        raise ModelIntegrityError(f"{path}: proj_out differs from the token embedding, which "
                                  "whisper.cpp shares between them")


def _vocabulary(path: Path) -> list[str]:
    vocab_file, tokenizer_file = path / "vocab.json", path / "tokenizer.json"
    if vocab_file.is_file():
        vocab = json.loads(vocab_file.read_text(encoding="utf-8"))
    elif tokenizer_file.is_file():
        vocab = json.loads(tokenizer_file.read_text(encoding="utf-8")).get("model", {}).get("vocab")
    else:
        raise ModelIntegrityError(f"{path} has no vocab.json or tokenizer.json")
    if not isinstance(vocab, dict):
        raise ModelIntegrityError(f"{path}: the vocabulary is not a token -> id mapping")
    by_id = sorted((i, t) for t, i in vocab.items())
    if [i for i, _ in by_id] != list(range(len(by_id))):
        raise ModelIntegrityError(f"{path}: the vocabulary's ids are not 0..{len(by_id) - 1}")
    return [t for _, t in by_id]
