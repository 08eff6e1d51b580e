"""OpenAI's realtime transcription events: the session settings and the server's event JSON.

Client events understood: ``session.update`` (the GA shape, ``session.type ==
"transcription"`` with ``audio.input.{format, transcription, turn_detection}``)
and the older ``transcription_session.update`` (``input_audio_format``,
``input_audio_transcription``, ``turn_detection``), ``input_audio_buffer.append``
(base64 little-endian PCM16, mono, 24 kHz or 16 kHz), ``input_audio_buffer.commit``
and ``input_audio_buffer.clear``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import secrets

import numpy as np

__all__ = ["ProtocolError", "SessionSettings", "apply_update", "decode_pcm16", "event", "new_id",
           "session_object"]

RATES = (24000, 16000)
DEFAULT_RATE = 24000  # OpenAI's realtime audio rate
_BETA_FORMATS = {"pcm16": 24000}


class ProtocolError(Exception):
    """A client event the server cannot take; becomes an ``error`` event, the session goes on."""

    def __init__(self, message: str, code: str = "invalid_value", param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.param = param


@dataclasses.dataclass(frozen=True)
class SessionSettings:
    """The effective settings of one realtime session.

    ``silence_ms`` and ``prefix_ms`` map OpenAI's ``silence_duration_ms`` and
    ``prefix_padding_ms`` onto the segmenter's ``hangover_ms`` and ``pre_roll_ms``;
    ``vad`` False means no turn detection (the client commits each turn).
    """

    model: str
    language: str | None = None
    prompt: str | None = None
    rate: int = DEFAULT_RATE
    vad: bool = True
    silence_ms: int = 300
    prefix_ms: int = 200


def new_id(prefix: str) -> str:
    """An id like OpenAI's (``item_`` + 22 random characters)."""
    return f"{prefix}_{secrets.token_urlsafe(16)[:22]}"


def event(type_: str, **fields) -> dict:
    """A server event with a fresh ``event_id``."""
    return {"type": type_, "event_id": new_id("event"), **fields}


def apply_update(settings: SessionSettings, message: dict, resolve_model, check_language
                 ) -> SessionSettings:
    """The settings after a ``session.update`` / ``transcription_session.update`` message.

    ``resolve_model(name)`` returns the served name or raises ProtocolError;
    ``check_language(value)`` returns a whisper code (or None) or raises ProtocolError.
    """
    session = message.get("session")
    if not isinstance(session, dict):
        raise ProtocolError("session.update needs a 'session' object", param="session")
    if message.get("type") == "session.update":
        if session.get("type", "transcription") != "transcription":
            raise ProtocolError("this server runs transcription sessions only (session.type "
                                "'transcription')", param="session.type")
        audio = _obj(session.get("audio"), "session.audio")
        source = _obj(audio.get("input"), "session.audio.input")
        fmt, transcription = source.get("format"), source.get("transcription")
    else:
        source = session
        fmt, transcription = session.get("input_audio_format"), session.get("input_audio_transcription")
    changes = {}
    if fmt is not None:
        changes["rate"] = _rate(fmt)
    if transcription is not None:
        changes.update(_transcription(_obj(transcription, "transcription"), resolve_model, check_language))
    if "turn_detection" in source:
        changes.update(_turn_detection(source["turn_detection"]))
    return dataclasses.replace(settings, **changes)


def _obj(value, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"{name} must be an object", param=name)
    return value


def _rate(fmt) -> int:
    if isinstance(fmt, str) and fmt in _BETA_FORMATS:
        return _BETA_FORMATS[fmt]
    if isinstance(fmt, dict) and fmt.get("type", "audio/pcm") == "audio/pcm":
        rate = fmt.get("rate", DEFAULT_RATE)
        if rate in RATES and not isinstance(rate, bool):
            return int(rate)
    raise ProtocolError("the input audio format must be PCM16 ('audio/pcm') at 24000 or 16000 Hz",
                        code="unsupported_audio_format", param="session.audio.input.format")


def _transcription(t: dict, resolve_model, check_language) -> dict:
    out = {}
    if t.get("model") is not None:
        out["model"] = resolve_model(t["model"])
    if "language" in t:
        out["language"] = check_language(t["language"])
    if "prompt" in t:
        prompt = t["prompt"]
        if prompt is not None and (not isinstance(prompt, str) or "\x00" in prompt or len(prompt) > 4096):
            raise ProtocolError("prompt must be text of at most 4096 characters",
                                param="session.audio.input.transcription.prompt")
        out["prompt"] = prompt or None
    return out


def _turn_detection(td) -> dict:
    if td is None:
        return {"vad": False}
    if not isinstance(td, dict) or td.get("type", "server_vad") != "server_vad":
        raise ProtocolError("turn_detection must be null or {'type': 'server_vad', ...}",
                            code="unsupported_turn_detection", param="session.audio.input.turn_detection")
    out = {"vad": True}
    for key, name, low, high in (("silence_duration_ms", "silence_ms", 20, 10000),
                                 ("prefix_padding_ms", "prefix_ms", 0, 5000)):
        value = td.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ProtocolError(f"turn_detection.{key} must be an integer from {low} to {high}",
                                param=f"session.audio.input.turn_detection.{key}")
        out[name] = value
    return out


def session_object(settings: SessionSettings, session_id: str, beta: bool) -> dict:
    """The session as ``session.created`` / ``session.updated`` show it (beta: the older shape)."""
    turn = ({"type": "server_vad", "prefix_padding_ms": settings.prefix_ms,
             "silence_duration_ms": settings.silence_ms} if settings.vad else None)
    transcription = {"model": settings.model, "language": settings.language, "prompt": settings.prompt}
    if beta:
        return {"id": session_id, "object": "realtime.transcription_session",
                "input_audio_format": "pcm16", "input_audio_transcription": transcription,
                "turn_detection": turn}
    return {"type": "transcription", "id": session_id, "object": "realtime.transcription_session",
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": settings.rate},
                                "transcription": transcription, "turn_detection": turn,
                                "noise_reduction": None}},
            "include": []}


def decode_pcm16(data) -> np.ndarray:
    """The int16 samples of a base64 PCM16 string."""
    if not isinstance(data, str):
        raise ProtocolError("input_audio_buffer.append needs 'audio': base64 PCM16", param="audio")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("'audio' is not valid base64", param="audio") from None
    if len(raw) % 2:
        raise ProtocolError("'audio' must hold whole 16-bit samples (an even number of bytes)",
                            param="audio")
    return np.frombuffer(raw, dtype="<i2")
