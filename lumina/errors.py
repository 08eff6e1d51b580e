"""The one exception hierarchy of lumina.

Every error lumina raises on bad input or a failed resource is a
:class:`LuminaError`, so callers can catch one class.  Messages say what
was wrong and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "LuminaError",
    "ArgumentError",
    "AudioFormatError",
    "AudioNotFoundError",
    "ModelError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "BackendError",
    "DeviceError",
    "MissingDependencyError",
    "DownloadError",
    "StateError",
    "BufferStateError",
    "TranscriptionAborted",
    "OutputConflictError",
]


class LuminaError(Exception):
    """Base class of every error lumina raises."""


class ArgumentError(LuminaError, ValueError, TypeError):
    """An argument lumina cannot take: a wrong value or a wrong type; the message names it.

    Also a :class:`ValueError` and a :class:`TypeError`, so code written
    against either keeps working.
    """


class AudioFormatError(LuminaError, ValueError):
    """Audio could not be decoded or is not valid (bad header, NaN samples, ...)."""


class AudioNotFoundError(AudioFormatError, FileNotFoundError):
    """An audio file does not exist (also a :class:`FileNotFoundError`)."""


class ModelError(LuminaError):
    """A model could not be used."""


class ModelIntegrityError(ModelError):
    """A model file is malformed, truncated or does not match its published hash."""


class ModelNotFoundError(ModelError, FileNotFoundError):
    """A model is neither in the store nor at the given path."""


class BackendError(LuminaError):
    """The inference backend (whisper.cpp) failed."""


class DeviceError(LuminaError):
    """A compute or audio device could not be used."""


class MissingDependencyError(LuminaError, ImportError):
    """An optional package a chosen feature needs is not installed (the message says how to get it)."""


class DownloadError(ModelError):
    """A model download failed (network, server or disk); distinct from a missing model.

    Attributes
    ----------
    url : str or None
        What was being downloaded.
    reason : str or None
        Why the transfer failed (``"HTTP 404 Not Found"``, ``"connection refused"``...).
    """

    def __init__(self, message: str, *, url: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.reason = reason


class StateError(LuminaError, RuntimeError):
    """A call on an object that cannot take it any more (a closed engine, a stopped stream)."""


class BufferStateError(StateError, BufferError):
    """A compiled-core buffer used against its rules.

    For example a second producer thread writing to a :class:`~lumina._core.ringbuffer.RingBuffer`,
    a write that would overwrite samples an open ``latest()`` view still shows, or
    a :class:`~lumina._core.pool.BufferPool` with every block in use. Also a
    :class:`BufferError`, as these were before.
    """


class TranscriptionAborted(LuminaError):
    """A synchronous transcription was stopped by its ``should_abort`` callback.

    An asyncio task awaiting a transcription that is cancelled sees
    :class:`asyncio.CancelledError` instead, as asyncio code expects.
    """


class OutputConflictError(LuminaError, ValueError):
    """Two inputs would write the same output file (for example ``a.wav`` and ``a.flac``)."""
