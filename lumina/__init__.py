"""lumina: local, private, real-time speech-to-text.

Public names are re-exported here; everything else is private.
"""

from lumina._core import BufferPool, RingBuffer

from lumina.audio import AudioInfo, audio_info, load_audio, read_wav, write_wav
from lumina.errors import (
    AudioFormatError,
    BackendError,
    DeviceError,
    LuminaError,
    ModelError,
    ModelIntegrityError,
    ModelNotFoundError,
)

__version__ = "0.1.0"

__all__ = [
    "AudioFormatError",
    "AudioInfo",
    "BackendError",
    "BufferPool",
    "DeviceError",
    "LuminaError",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "RingBuffer",
    "__version__",
    "audio_info",
    "load_audio",
    "read_wav",
    "write_wav",
]
