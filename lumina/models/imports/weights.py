"""One Whisper checkpoint in memory, in whisper.cpp's names, and how it becomes a ggml file.

Every reader (:mod:`.ctranslate2`, :mod:`.transformers`, :mod:`.ggml`) produces
a :class:`WhisperWeights`: the shape, float32 tensors named as OpenAI's
checkpoint (and so whisper.cpp) names them, in PyTorch's ``[out, in]`` layout,
and the vocabulary as raw bytes. :func:`write_ggml` then writes a model file
whose storage types are exactly what :mod:`lumina.models.tensors` says
whisper.cpp expects, so the result always passes
:func:`~lumina.models.modelfile.validate_model_file`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from lumina.errors import ArgumentError, ModelIntegrityError
from lumina.models.ggml_writer import (FILE_FTYPES, TENSOR_TYPE_CODES, atomic_output, write_header,
                                       write_tensor)
from lumina.models.modelfile import HParams
from lumina.models.mel import mel_filterbank
from lumina.models.tensors import expected_tensor_names, expected_tensors, padded

__all__ = ["ENGLISH_VOCAB", "QUANTIZATIONS", "WhisperShape", "WhisperWeights", "n_text_tokens",
           "write_ggml"]

#: Storage choices of an import: keep f16, or quantize the weight matrices.
QUANTIZATIONS = ("f16", "q8_0", "q5_1")
#: Vocabulary size of the English-only checkpoints (multilingual ones have 51865 or 51866).
ENGLISH_VOCAB = 51864


@dataclasses.dataclass(frozen=True)
class WhisperShape:
    """The hyper-parameters of a Whisper checkpoint (a ggml header without its file type)."""

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

    @property
    def english_only(self) -> bool:
        """Whether the vocabulary is the English-only one (whisper.cpp decides by its size)."""
        return self.n_vocab == ENGLISH_VOCAB

    def hparams(self, quantization: str) -> HParams:
        """The ggml header of this shape stored as ``quantization``."""
        return HParams(**dataclasses.asdict(self), ftype=FILE_FTYPES[quantization])


@dataclasses.dataclass(frozen=True)
class WhisperWeights:
    """A checkpoint read from some format, ready to be written as a ggml file.

    Attributes
    ----------
    shape : WhisperShape
        Its hyper-parameters.
    tensors : mapping of str to numpy.ndarray
        float32 tensors by whisper.cpp name, each with numpy shape
        ``reversed(ne)`` (PyTorch's layout; convolution biases ``[n, 1]``).
    tokens : sequence of bytes
        The ordinary tokens (:func:`n_text_tokens` of them); whisper.cpp adds
        end-of-text and the special tokens itself.
    source_format : str
        ``"ctranslate2"``, ``"transformers"`` or ``"ggml"``.
    source_dtype : str
        How the source stored its weight matrices (``"float16"``, ``"int8"``...).
    """

    shape: WhisperShape
    tensors: Mapping[str, np.ndarray]
    tokens: Sequence[bytes]
    source_format: str
    source_dtype: str


def n_text_tokens(n_vocab: int) -> int:
    """How many ordinary tokens a ggml file of this vocabulary size holds."""
    return 50256 if n_vocab == ENGLISH_VOCAB else 50257


def write_ggml(weights: WhisperWeights, path: str | os.PathLike[str], quantization: str = "f16",
               *, on_tensor: Callable[[str], None] | None = None) -> Path:
    """Write ``weights`` as a whisper.cpp model file at ``path`` (atomically).

    Weight matrices are stored as ``quantization``; convolution kernels as f16;
    biases, norms and position embeddings as f32, as whisper.cpp expects.
    ``on_tensor`` is called with each tensor's name after it is written
    (progress bars).

    Raises
    ------
    ArgumentError
        An unknown ``quantization``.
    ModelIntegrityError
        A tensor is missing or has a shape the header does not imply.
    """
    if quantization not in QUANTIZATIONS:
        raise ArgumentError(f"unknown quantization {quantization!r}; choose one of {list(QUANTIZATIONS)}")
    hp = weights.shape.hparams(quantization)
    expected = expected_tensors(hp)
    names = expected_tensor_names(hp.n_audio_layer, hp.n_text_layer)
    _check_complete(weights, names)
    with atomic_output(path) as out:
        write_header(out, hp, mel_filterbank(hp.n_mels), weights.tokens)
        for name in names:
            data = weights.tensors[name]
            want_ne, want_type = expected[name]
            if padded(tuple(reversed(data.shape))) != want_ne:
                raise ModelIntegrityError(
                    f"tensor {name!r} has shape {list(data.shape)} but the header implies "
                    f"{list(reversed(want_ne))[-data.ndim:]}: the checkpoint is not consistent")
            write_tensor(out, name, data, TENSOR_TYPE_CODES[want_type])
            if on_tensor is not None:
                on_tensor(name)
    return Path(path)


def _check_complete(weights: WhisperWeights, names: list[str]) -> None:
    missing = [n for n in names if n not in weights.tensors]
    if missing:
        raise ModelIntegrityError(
            f"the checkpoint lacks {len(missing)} tensor(s) whisper.cpp needs, first {missing[0]!r}: "
            "it is incomplete or not a Whisper model")
    extra = sorted(set(weights.tensors) - set(names))
    if extra:
        raise ModelIntegrityError(f"the checkpoint has tensors whisper.cpp does not know, first "
                                  f"{extra[0]!r}: it is not a plain Whisper model")
    want = n_text_tokens(weights.shape.n_vocab)
    if len(weights.tokens) != want:
        raise ModelIntegrityError(f"the vocabulary has {len(weights.tokens)} ordinary tokens where a "
                                  f"{weights.shape.n_vocab}-token Whisper model has {want}")
