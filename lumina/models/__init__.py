"""Models layer: the registry of published models, the local store, downloads and file checks.

Knows files, HTTP and hashes; never loads a model into whisper.cpp (that is the
``asr`` layer's job).
"""

from lumina.models.download import RetryPolicy
from lumina.models.modelfile import HParams, ModelInfo, validate_model_file
from lumina.models.registry import REGISTRY, RegistryEntry
from lumina.models.store import ModelStatus, ModelStore

__all__ = [
    "HParams", "ModelInfo", "ModelStatus", "ModelStore", "REGISTRY", "RegistryEntry",
    "RetryPolicy", "validate_model_file",
]
