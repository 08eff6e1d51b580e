"""A :class:`~lumina.Transcript` in OpenAI's response formats, and as server-sent events.

``json``         ``{"text", "usage"}`` (``logprobs`` too when asked for)
``text``         the text and a newline
``srt``, ``vtt`` subtitles, from :func:`lumina.asr.formats.render`
``verbose_json`` ``{"task", "language", "duration", "text", "segments", "words", "usage"}``

A segment's ``temperature`` is the request's starting temperature (the
temperature whisper.cpp's fallback may have climbed to is not reported), and
its ``no_speech_prob`` is whisper's when the engine measured it
(:attr:`lumina.Segment.no_speech_prob`; the server's engines do), else 0.0.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterator

from lumina.asr.formats import render
from lumina.asr.transcript import word_tokens
from lumina.apps.server.languages import language_name

__all__ = ["FORMATS", "logprobs", "render_response", "sse_delta", "sse_done", "sse_events", "verbose",
           "words"]

#: OpenAI's ``response_format`` values the server answers.
FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
_SEEK_WINDOW_S = 30.0  # whisper reads audio in 30 s windows; seek counts 10 ms frames
_MIN_P = 1e-10


def render_response(transcript, fmt: str, *, duration: float, task: str = "transcribe",
                    want_segments: bool = True, want_words: bool = False,
                    want_logprobs: bool = False, temperature: float = 0.0) -> tuple[str, str]:
    """(body, media type) of ``transcript`` in response format ``fmt``."""
    if fmt == "text":
        return render(transcript, "txt"), "text/plain; charset=utf-8"
    if fmt in ("srt", "vtt"):
        return render(transcript, fmt), "text/plain; charset=utf-8"
    if fmt == "verbose_json":
        body = verbose(transcript, duration=duration, task=task, want_segments=want_segments,
                       want_words=want_words, temperature=temperature)
    else:
        body = {"text": transcript.text, "usage": _usage(duration)}
        if want_logprobs:
            body["logprobs"] = logprobs(transcript)
    return json.dumps(body, ensure_ascii=False), "application/json"


def verbose(transcript, *, duration: float, task: str = "transcribe", want_segments: bool = True,
            want_words: bool = False, temperature: float = 0.0) -> dict:
    """OpenAI's ``verbose_json`` body."""
    body = {"task": task, "language": language_name(transcript.language),
            "duration": round(duration, 3), "text": transcript.text}
    if want_segments:
        body["segments"] = [_segment(i, s, temperature) for i, s in enumerate(transcript.segments)]
    if want_words:
        body["words"] = words(transcript)
    body["usage"] = _usage(duration)
    return body


def _usage(duration: float) -> dict:
    return {"type": "duration", "seconds": round(duration, 3)}


def _segment(index: int, segment, temperature: float) -> dict:
    data = segment.text.encode()
    ratio = len(data) / len(zlib.compress(data)) if data else 0.0
    lps = [math.log(max(t.probability, _MIN_P)) for t in segment.tokens]
    return {
        "id": index,
        "seek": int(segment.start // _SEEK_WINDOW_S * _SEEK_WINDOW_S * 100),
        "start": round(segment.start, 3),
        "end": round(segment.end, 3),
        "text": segment.text,
        "tokens": [t.id for t in segment.tokens],
        "temperature": temperature,
        "avg_logprob": sum(lps) / len(lps) if lps else 0.0,
        "compression_ratio": ratio,
        "no_speech_prob": getattr(segment, "no_speech_prob", None) or 0.0,
    }


def words(transcript) -> list[dict]:
    """Words with times, from token times (grouped by :func:`lumina.asr.transcript.word_tokens`
    within each segment; whitespace-only tokens are left out)."""
    out: list[dict] = []
    for segment in transcript.segments:
        for tokens in word_tokens(t for t in segment.tokens if t.text.strip()):
            out.append({"word": "".join(t.text for t in tokens).strip(), "start": round(tokens[0].start, 3),
                        "end": round(tokens[-1].end, 3)})
    return out


def logprobs(transcript) -> list[dict]:
    """OpenAI's ``logprobs``: one entry per text token."""
    return [{"token": t.text, "bytes": list(t.text.encode()),
             "logprob": math.log(max(t.probability, _MIN_P))}
            for s in transcript.segments for t in s.tokens]


def sse_events(transcript, *, duration: float, want_logprobs: bool = False) -> Iterator[str]:
    """The ``transcript.text.delta`` events (one per segment) and the closing ``transcript.text.done``.

    The deltas join to exactly the done event's text.
    """
    sent = ""
    for segment in transcript.segments:
        event, sent = sse_delta(segment, sent)
        if event:
            yield event
    yield sse_done(transcript, want_logprobs=want_logprobs)


def sse_delta(segment, sent: str) -> tuple[str, str]:
    """(the ``transcript.text.delta`` event of ``segment``, the text sent so far with it).

    The event is "" for a segment without text. Deltas are separated by one
    space, as :attr:`lumina.Transcript.text` joins segments, so they add up to
    the done event's text.
    """
    if not segment.text:
        return "", sent
    delta = segment.text if not sent else " " + segment.text
    return _sse({"type": "transcript.text.delta", "delta": delta}), sent + delta


def sse_done(transcript, *, want_logprobs: bool = False) -> str:
    """The closing ``transcript.text.done`` event."""
    done = {"type": "transcript.text.done", "text": transcript.text}
    if want_logprobs:
        done["logprobs"] = logprobs(transcript)
    return _sse(done)


def sse_error(body: dict) -> str:
    """An error after the stream began: the ``{"error": ...}`` body as one event."""
    return _sse(body)


def _sse(payload: dict) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
