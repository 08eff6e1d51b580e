"""Readers of the Whisper checkpoints users already have, for :mod:`lumina.models.importer`.

:func:`read_checkpoint` recognises a directory's format and returns its
:class:`~lumina.models.imports.weights.WhisperWeights`:

- ``"ctranslate2"``: faster-whisper's models (``model.bin``, ``config.json``,
  ``vocabulary.txt``), in any of CTranslate2's storage types (int8 and int16
  weights are dequantized).
- ``"transformers"``: Hugging Face ``WhisperForConditionalGeneration``
  directories saved as safetensors (no torch needed).

whisper.cpp's own ``ggml-*.bin`` files need no conversion; the importer copies them.
"""

from __future__ import annotations

from pathlib import Path

from lumina.errors import ModelIntegrityError
from lumina.models.imports.bundled import BUNDLED, bundled_source
from lumina.models.imports.ctranslate2 import is_ctranslate2_dir, read_ctranslate2
from lumina.models.imports.transformers import is_transformers_dir, read_transformers
from lumina.models.imports.weights import QUANTIZATIONS, WhisperShape, WhisperWeights, write_ggml

__all__ = ["BUNDLED", "QUANTIZATIONS", "WhisperShape", "WhisperWeights", "bundled_source",
           "read_checkpoint", "write_ggml"]


def read_checkpoint(path: Path) -> WhisperWeights:
    """Read the Whisper checkpoint in directory ``path``, whichever format it is in.

    Raises
    ------
    ModelIntegrityError
        The directory holds no format lumina reads, or a broken checkpoint.
    """
    if is_ctranslate2_dir(path):
        return read_ctranslate2(path)
    if is_transformers_dir(path):
        return read_transformers(path)
    raise ModelIntegrityError(
        f"{path} is not a model directory lumina can import: expected a faster-whisper / "
        "CTranslate2 directory (model.bin, config.json, vocabulary.txt) or a transformers "
        "Whisper directory (config.json, model.safetensors, vocab.json)")
