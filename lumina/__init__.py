"""lumina: local, private, real-time speech-to-text.

Public names are re-exported here; everything else is private.
"""
from lumina._core import BufferPool, EnergyVAD, RingBuffer
from lumina.audio import AudioInfo, audio_info, load_audio, read_wav, write_wav
from lumina.cache import CacheStats, PhraseCache
from lumina.device import DeviceInfo, devices
from lumina.engine import Engine
from lumina.errors import (
    AudioFormatError,
    AudioNotFoundError,
    BackendError,
    DeviceError,
    LuminaError,
    MissingDependencyError,
    ModelError,
    ModelIntegrityError,
    ModelNotFoundError,
)
from lumina.events import DeviceLost, Dropped, Final, Partial
from lumina.fingerprints import Fingerprint, fingerprint
from lumina.models import ModelInfo, ModelStore, REGISTRY, validate_model_file
from lumina.segmenter import Segmenter, SpeechEnd, SpeechStart
from lumina.sources import FileSource, IterableSource, MicrophoneSource
from lumina.stream import Stream
from lumina.transcript import Segment, Timings, Token, Transcript

__version__ = "0.1.0"

__all__ = [
    "AudioFormatError",
    "AudioInfo",
    "AudioNotFoundError",
    "BackendError",
    "BufferPool",
    "CacheStats",
    "DeviceError",
    "DeviceInfo",
    "DeviceLost",
    "Dropped",
    "EnergyVAD",
    "Engine",
    "FileSource",
    "Final",
    "Fingerprint",
    "IterableSource",
    "LuminaError",
    "MicrophoneSource",
    "MissingDependencyError",
    "ModelError",
    "ModelInfo",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "ModelStore",
    "Partial",
    "PhraseCache",
    "REGISTRY",
    "RingBuffer",
    "Segment",
    "Segmenter",
    "SpeechEnd",
    "SpeechStart",
    "Stream",
    "Timings",
    "Token",
    "Transcript",
    "__version__",
    "audio_info",
    "devices",
    "fingerprint",
    "load_audio",
    "read_wav",
    "validate_model_file",
    "write_wav",
]
