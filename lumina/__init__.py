"""lumina: local, private, real-time speech-to-text.

Public names are re-exported here; everything else is private.
"""

from lumina._core import BufferPool
from lumina.cache import CacheStats, PhraseCache
from lumina.errors import (
    AudioFormatError,
    BackendError,
    DeviceError,
    LuminaError,
    ModelError,
    ModelIntegrityError,
    ModelNotFoundError,
)
from lumina.fingerprints import Fingerprint, fingerprint

__version__ = "0.1.0"

__all__ = [
    "AudioFormatError",
    "BackendError",
    "BufferPool",
    "CacheStats",
    "DeviceError",
    "Fingerprint",
    "LuminaError",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "PhraseCache",
    "__version__",
    "fingerprint",
]
