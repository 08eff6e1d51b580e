"""lumina: local, private, real-time speech-to-text.

Public names are re-exported here; everything else is private.
"""

from lumina._core import BufferPool
from lumina.errors import (
    AudioFormatError,
    BackendError,
    DeviceError,
    LuminaError,
    ModelError,
    ModelIntegrityError,
    ModelNotFoundError,
)
from lumina.models import REGISTRY, ModelInfo, ModelStore, validate_model_file

__version__ = "0.1.0"

__all__ = [
    "AudioFormatError",
    "BackendError",
    "BufferPool",
    "DeviceError",
    "LuminaError",
    "ModelError",
    "ModelInfo",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "ModelStore",
    "REGISTRY",
    "__version__",
    "validate_model_file",
]
