"""lumina: local, private, real-time speech-to-text.

Public names are re-exported here; everything else is private.
"""
from lumina._core import BufferPool, EnergyVAD, RingBuffer
from lumina.asr import (DeviceInfo, Engine, ModelChoice, Segment, SegmentIterator, Timings, Token,
                        Transcript, TranscriptionInfo, choose_model, devices)
from lumina.audio import (AudioInfo, FileSource, IterableSource, MicrophoneSource, audio_info,
                          load_audio, read_wav, write_wav)
from lumina.cache import CacheMatch, CacheStats, Fingerprint, PhraseCache, fingerprint
from lumina.audio.convert import SAMPLE_RATE
from lumina.errors import (
    ArgumentError,
    AudioFormatError,
    AudioNotFoundError,
    BackendError,
    DeviceError,
    DownloadError,
    LuminaError,
    MissingDependencyError,
    ModelError,
    ModelIntegrityError,
    ModelNotFoundError,
    StateError,
    BufferStateError,
    TranscriptionAborted,
)
from lumina.models import REGISTRY, ModelInfo, ModelStore, validate_model_file
from lumina.streaming import (DeviceLost, Dropped, Final, HangoverPolicy, Partial, Segmenter, SpeechEnd,
                              SpeechPause, SpeechResume, SpeechStart, Stream)

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "AudioFormatError",
    "AudioInfo",
    "AudioNotFoundError",
    "BackendError",
    "BufferPool",
    "CacheMatch",
    "CacheStats",
    "DeviceError",
    "DeviceInfo",
    "DeviceLost",
    "DownloadError",
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
    "ModelChoice",
    "ModelInfo",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "ModelStore",
    "Partial",
    "PhraseCache",
    "REGISTRY",
    "RingBuffer",
    "SAMPLE_RATE",
    "Segment",
    "SegmentIterator",
    "Segmenter",
    "SpeechEnd",
    "SpeechPause",
    "SpeechResume",
    "HangoverPolicy",
    "SpeechStart",
    "StateError",
    "BufferStateError",
    "Stream",
    "Timings",
    "Token",
    "Transcript",
    "TranscriptionAborted",
    "TranscriptionInfo",
    "__version__",
    "audio_info",
    "choose_model",
    "devices",
    "fingerprint",
    "load_audio",
    "read_wav",
    "validate_model_file",
    "write_wav",
]
