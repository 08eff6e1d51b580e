"""Writing transcripts as plain text, JSON, SubRip (SRT) and WebVTT."""

from __future__ import annotations

import dataclasses
import json

from lumina.asr.transcript import Transcript
from lumina.errors import ArgumentError

__all__ = ["FORMATS", "render"]

FORMATS = ("txt", "json", "srt", "vtt")


def render(transcript: Transcript, fmt: str) -> str:
    """The transcript in format ``fmt`` (one of :data:`FORMATS`), ending with a newline.

    Raises
    ------
    ArgumentError
        An unknown ``fmt`` (also a ValueError).
    """
    if fmt == "txt":
        return transcript.text + "\n"
    if fmt == "json":
        fields = dataclasses.asdict(transcript) | {"from_cache": transcript.from_cache}
        return json.dumps(fields, indent=2, ensure_ascii=False) + "\n"
    if fmt == "srt":
        return _cues(transcript, ",", numbered=True)
    if fmt == "vtt":
        return "WEBVTT\n\n" + _cues(transcript, ".", numbered=False)
    raise ArgumentError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _cues(transcript: Transcript, decimal: str, *, numbered: bool) -> str:
    blocks = []
    for number, segment in enumerate((s for s in transcript.segments if s.text), start=1):
        head = f"{number}\n" if numbered else ""
        times = f"{_clock(segment.start, decimal)} --> {_clock(segment.end, decimal)}"
        blocks.append(f"{head}{times}\n{segment.text}\n")
    return "\n".join(blocks)


def _clock(seconds: float, decimal: str) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"
