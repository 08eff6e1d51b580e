"""lumina: local, private, real-time speech-to-text.

What a user needs is re-exported here (``__all__``); the plumbing lives in its
layer's module and is importable from there: the segmenter's own events
(:mod:`lumina.streaming`), fingerprints and cache matches (:mod:`lumina.cache`),
the model registry (:mod:`lumina.models`), WAV internals (:mod:`lumina.audio`),
the voice activity detectors (:mod:`lumina.audio.vad`). The compiled core
(:mod:`lumina._core`: ring buffer, buffer pool, energy VAD) is private.
"""
from lumina.asr import (DeviceInfo, Engine, ModelPick, Segment, SegmentIterator, SpeechEngine,
                        Timings, Token, TranscribeOptions, Transcript, TranscriptionInfo,
                        choose_model, devices)
from lumina.audio import (AudioInfo, AudioSource, FileSource, IterableSource, MicrophoneSource,
                          audio_info, load_audio, write_wav)
from lumina.audio.convert import SAMPLE_RATE
from lumina.cache import CacheStats, PhraseCache
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
    TranscriptionAborted,
)
from lumina.models import ModelInfo, ModelStore, validate_model_file
from lumina.streaming import (DeviceLost, Dropped, Final, HangoverPolicy, Partial, Segmenter,
                              SpeechStarted, SpeechStopped, Stream, StreamEvent, StreamModels,
                              StreamOptions, StreamStats)

__version__ = "0.1.0"

__all__ = [
    # recognition
    "Engine", "SpeechEngine", "TranscribeOptions", "Transcript", "Segment", "Token", "Timings",
    "SegmentIterator", "TranscriptionInfo", "DeviceInfo", "devices", "choose_model", "ModelPick",
    # streaming
    "Stream", "StreamModels", "StreamOptions", "StreamStats", "StreamEvent", "SpeechStarted",
    "Partial", "SpeechStopped", "Final", "Dropped", "DeviceLost", "Segmenter", "HangoverPolicy",
    # audio
    "SAMPLE_RATE", "AudioSource", "FileSource", "IterableSource", "MicrophoneSource", "AudioInfo",
    "audio_info", "load_audio", "write_wav",
    # phrase cache
    "PhraseCache", "CacheStats",
    # models
    "ModelStore", "ModelInfo", "validate_model_file",
    # errors
    "LuminaError", "ArgumentError", "AudioFormatError", "AudioNotFoundError", "BackendError",
    "DeviceError", "DownloadError", "MissingDependencyError", "ModelError", "ModelIntegrityError",
    "ModelNotFoundError", "StateError", "TranscriptionAborted",
    "__version__",
]
