"""``POST /v1/audio/transcriptions`` and ``POST /v1/audio/translations`` (OpenAI's multipart forms).

The upload is decoded (off the event loop) by :func:`lumina.load_audio`, so
any file lumina reads works; undecodable, empty or too short audio is a 400.
The job then waits for a worker of the requested model; a client that
disconnects stops it. ``stream=true`` sends each segment's text while the
model decodes (:mod:`lumina.apps.server.live`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from lumina.asr.protocol import TranscribeOptions
from lumina.audio import load_audio
from lumina.audio.convert import SAMPLE_RATE
from lumina.errors import LuminaError
from lumina.apps.server.config import ServedModel
from lumina.apps.server.errors import ApiError, from_lumina_error
from lumina.apps.server.languages import language_code
from lumina.apps.server.live import LiveSegments, live_response
from lumina.apps.server.pool import PoolJob
from lumina.apps.server.responses import render_response
from lumina.apps.server.state import ClientGone, ServerState
from lumina.asr.transcript import MIN_SAMPLES  # whisper needs at least 100 ms

__all__ = ["router"]

log = logging.getLogger("lumina.server")
router = APIRouter()

_MAX_TEXT = 4096                  # prompt characters; whisper uses at most 224 tokens of it
_ERRORS = {400: {"description": "Bad request (OpenAI error JSON)"},
           401: {"description": "Missing or wrong API key"},
           404: {"description": "Unknown model"},
           413: {"description": "Upload too large"},
           503: {"description": "Queue full (Retry-After) or model unavailable"},
           504: {"description": "Time limit reached"}}

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
Granularity = Literal["word", "segment"]


@router.post("/v1/audio/transcriptions", responses=_ERRORS, summary="Transcribe audio")
async def transcriptions(
    request: Request,
    file: Annotated[UploadFile, File(description="The audio file (any format lumina decodes)")],
    model: Annotated[str | None, Form(description="Served model name; whisper-1 means the default")] = None,
    language: Annotated[str | None, Form(description="ISO 639-1 code; default: the model's")] = None,
    prompt: Annotated[str | None, Form(description="Text that conditions the decoder")] = None,
    response_format: Annotated[ResponseFormat, Form()] = "json",
    temperature: Annotated[float, Form(ge=0.0, le=1.0)] = 0.0,
    granularities: Annotated[list[Granularity] | None, Form(alias="timestamp_granularities[]")] = None,
    granularities_plain: Annotated[list[Granularity] | None, Form(alias="timestamp_granularities")] = None,
    include: Annotated[list[Literal["logprobs"]] | None, Form(alias="include[]")] = None,
    stream: Annotated[bool, Form(description="Answer with server-sent events")] = False,
) -> Response:
    """OpenAI's transcription endpoint."""
    state: ServerState = request.app.state.lumina
    served = _model(state, model)
    grains = set(granularities or ()) | set(granularities_plain or ())
    if grains and response_format != "verbose_json":
        raise ApiError(400, "timestamp_granularities needs response_format 'verbose_json'",
                       param="timestamp_granularities", code="invalid_value")
    if stream and response_format not in ("json", "text"):
        raise ApiError(400, "stream=true answers with json events; use response_format 'json' or "
                            "'text'", param="stream", code="invalid_value")
    want_logprobs = bool(include)
    options = _options(language=_language(language), prompt=_prompt(prompt),
                       word_timestamps="word" in grains or want_logprobs, temperature=temperature)
    audio = await _decode(file)
    duration = len(audio) / SAMPLE_RATE
    if stream:
        live = LiveSegments(asyncio.get_running_loop())
        job = PoolJob(audio, options, on_segment=live.put)
        work = asyncio.ensure_future(_run(state, served, job, request))
        return await live_response(work, live, duration=duration, want_logprobs=want_logprobs,
                                   on_error=lambda e: _count_error(state, request, e))
    result = await _run(state, served, PoolJob(audio, options), request)
    body, media = render_response(result.transcript, response_format, duration=duration,
                                  want_segments=not grains or "segment" in grains,
                                  want_words="word" in grains, want_logprobs=want_logprobs,
                                  temperature=temperature)
    return Response(body, media_type=media)


@router.post("/v1/audio/translations", responses=_ERRORS, summary="Translate audio into English")
async def translations(
    request: Request,
    file: Annotated[UploadFile, File(description="The audio file (any format lumina decodes)")],
    model: Annotated[str | None, Form(description="Served model name; whisper-1 means the default")] = None,
    prompt: Annotated[str | None, Form(description="English text that conditions the decoder")] = None,
    response_format: Annotated[ResponseFormat, Form()] = "json",
    temperature: Annotated[float, Form(ge=0.0, le=1.0)] = 0.0,
) -> Response:
    """OpenAI's translation endpoint: English text from speech in any language.

    A multilingual model runs whisper's translate task (the spoken language
    is detected; ``verbose_json`` names it). An English-only model can only
    write English, so it answers with its transcription.
    """
    state: ServerState = request.app.state.lumina
    served = _model(state, model)
    text_prompt = _prompt(prompt)
    audio = await _decode(file)
    if served.english_only:
        options = _options(language="en", prompt=text_prompt, temperature=temperature)
    else:
        options = _options(prompt=text_prompt, translate=True, temperature=temperature)
    job = PoolJob(audio, options)
    result = await _run(state, served, job, request)
    body, media = render_response(result.transcript, response_format,
                                  duration=len(job.audio) / SAMPLE_RATE, task="translate",
                                  temperature=temperature)
    return Response(body, media_type=media)


# ---------------------------------------------------------------------- checks

def _model(state: ServerState, name: str | None) -> ServedModel:
    try:
        return state.catalog.resolve(name)
    except LuminaError as exc:
        raise from_lumina_error(exc) from None


def _language(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if value.strip().lower() == "auto":
        return "auto"
    code = language_code(value) if "\x00" not in value else None
    if code is None:
        raise ApiError(400, f"Unknown language {value[:40]!r}; use an ISO 639-1 code such as "
                            "'en' or 'de', or 'auto'", param="language", code="invalid_language")
    return code


def _options(**fields) -> TranscribeOptions:
    try:
        return TranscribeOptions(**fields)
    except LuminaError as exc:  # e.g. a language code the model's tokenizer does not know
        raise from_lumina_error(exc) from None


def _prompt(value: str | None) -> str | None:
    if value is None or not value:
        return None
    if "\x00" in value or len(value) > _MAX_TEXT:
        raise ApiError(400, f"prompt must be text of at most {_MAX_TEXT} characters without NUL",
                       param="prompt", code="invalid_value")
    return value


async def _decode(file: UploadFile) -> np.ndarray:
    data = await file.read()
    try:
        samples = await asyncio.to_thread(load_audio, data, SAMPLE_RATE, validate=True)
    except LuminaError as exc:
        raise from_lumina_error(exc, param="file") from None
    except Exception as exc:  # a decoder's own error on hostile bytes is still bad input
        log.warning("decoding an upload failed unexpectedly", exc_info=True)
        raise ApiError(400, f"Could not decode the audio file: {exc}", param="file",
                       code="invalid_audio") from None
    if len(samples) < MIN_SAMPLES:
        raise ApiError(400, f"Audio file is too short ({len(samples) / SAMPLE_RATE * 1000:.0f} ms). "
                            "Minimum audio length is 0.1 seconds.", param="file",
                       code="audio_too_short")
    return samples


async def _run(state: ServerState, served: ServedModel, job: PoolJob, request: Request):
    try:
        return await state.run(served, job, disconnected=_disconnected(request))
    except ClientGone:
        raise
    except LuminaError as exc:
        raise from_lumina_error(exc) from None


async def _disconnected(request: Request) -> None:
    """Return when the client has gone (the body was read, so the next message is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _count_error(state: ServerState, request: Request, error: ApiError) -> None:
    """An error sent inside an event stream (the HTTP status was 200 by then)."""
    state.metrics.errors.labels(request.url.path, error.code or str(error.status)).inc()
