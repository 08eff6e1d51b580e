"""Word times moved onto the sound: a word does not start or end in silence.

whisper.cpp's token timestamps put a word that follows a pause at the end of the word before
it: its first token starts where the previous token ended, inside the pause (real tiny.en,
words spoken apart: starts a median 140 ms off, a quarter of them 400-600 ms early; ends
50 ms early). The audio says where the sound is, so where a word's time span begins or ends
in silence, the edge moves to the sound inside that span (start) or to where the sound
running through the edge stops (end, never past the next word's start nor the segment's end).
Each segment is moved on its own (:class:`SoundSnapper`), so ``on_segment`` hands out the times the transcript
holds. In continuous speech there is no silence between words and nothing moves; in noise
louder than the silence bar nothing is silent and nothing moves.

``python benchmarks accuracy`` reports the error against words spoken apart with measured pauses.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from lumina.asr.transcript import Segment, Token, word_tokens
from lumina.audio.convert import SAMPLE_RATE

__all__ = ["SILENCE_BELOW_DB", "SoundSnapper", "snap_to_sound"]

#: A 10 ms frame is silence when its RMS lies this far under the clip's loud frames (the
#: 99th percentile, so one click does not set the bar). The same bar the evaluation's word
#: recordings trim each word at.
SILENCE_BELOW_DB = 40.0

_FRAME = SAMPLE_RATE // 100  # 10 ms
# A word's start that lies in sound which began this long before it lies in the word before's
# tail; a pause of at least _MIN_GAP_S inside its span then ends where the word begins (shorter
# dips are a stop consonant's closure inside the word).
_TAIL_FRAMES = 3
_MIN_GAP_S = 0.06


class SoundSnapper:
    """Moves word times onto the sound of one clip; the clip's silence is found once, when first needed.

    Parameters
    ----------
    samples : numpy.ndarray
        The clip the times are seconds into (float32 mono 16 kHz).
    """

    def __init__(self, samples: np.ndarray) -> None:
        self._samples = samples

    @functools.cached_property
    def _sound(self) -> np.ndarray | None:
        # Found at the first segment, so a cache answer or a too-short clip costs nothing.
        return _sound_frames(self._samples)

    def segment(self, segment: Segment) -> Segment:
        """``segment`` with each word's start and end on its sound; a word's end runs on at most
        to the segment's end, so a segment moved alone (as ``on_segment`` hands it out) gets the
        times it has among the others."""
        sound = self._sound
        if sound is None or sound.all() or not segment.tokens:
            return segment
        words = word_tokens(segment.tokens)
        edges = [(word[0].start, word[-1].end) for word in words]
        moved = _snapped_edges(edges, max(segment.end, edges[-1][1]), sound)
        new_times = {}
        for word, (start, end) in zip(words, moved):
            new_times.update(_retimed(word, start, end))
        if not new_times:
            return segment
        return dataclasses.replace(segment, tokens=tuple(new_times.get(id(t), t) for t in segment.tokens))

    def segments(self, segments: tuple[Segment, ...]) -> tuple[Segment, ...]:
        """Every segment moved (:meth:`segment`)."""
        return tuple(self.segment(s) for s in segments)


def snap_to_sound(segments: tuple[Segment, ...], samples: np.ndarray) -> tuple[Segment, ...]:
    """``segments`` with each word's start and end moved out of silence onto its sound.

    A word is a token starting with a space (or a segment's first token) and the tokens after
    it; times are seconds into ``samples`` (float32 mono 16 kHz). Each segment is moved on its
    own (:meth:`SoundSnapper.segment`).
    """
    return SoundSnapper(samples).segments(segments)


def _sound_frames(samples: np.ndarray) -> np.ndarray | None:
    """Per 10 ms frame: is there sound (None for audio too short or all silent)."""
    n = len(samples) // _FRAME
    if n == 0:
        return None
    frames = np.asarray(samples[:n * _FRAME], np.float32).reshape(n, _FRAME)
    rms = np.sqrt(np.einsum("ij,ij->i", frames, frames) / _FRAME)  # no copy of an hour of audio
    loud = float(np.percentile(rms, 99))
    if loud <= 0.0:
        return None
    return rms > loud * 10 ** (-SILENCE_BELOW_DB / 20)


def _snapped_edges(edges: list[tuple[float, float]], last_limit: float,
                   sound: np.ndarray) -> list[tuple[float, float]]:
    """Each (start, end) moved onto the sound; ends stop at the next word's new start (the last
    word's at ``last_limit``)."""
    starts = [_start_on_sound(start, end, sound) for start, end in edges]
    out = []
    for i, ((start, end), new_start) in enumerate(zip(edges, starts)):
        limit = starts[i + 1] if i + 1 < len(starts) else last_limit
        new_end = _end_on_sound(new_start, end, limit, sound)
        out.append((new_start, max(new_start, new_end)))
    return out


def _start_on_sound(start: float, end: float, sound: np.ndarray) -> float:
    """``start`` moved to where the word's sound begins: the first sound frame of [start, end)
    when ``start`` lies in silence, or the sound after the first pause of at least
    ``_MIN_GAP_S`` in that span when ``start`` lies in sound that began earlier (the tail of
    the word before, which whisper.cpp's times give to this word)."""
    first, last = _frame(start, sound), _frame(end, sound)
    if not sound[first]:
        heard = np.flatnonzero(sound[first:last])
        return start if heard.size == 0 else (first + int(heard[0])) / 100
    began = first
    while began > 0 and sound[began - 1]:
        began -= 1
    if first - began < _TAIL_FRAMES:
        return start  # the sound begins here: this word's own
    span = sound[first:last]
    quiet = np.flatnonzero(~span)
    if quiet.size == 0:
        return start
    resumes = np.flatnonzero(span[quiet[0]:])
    if resumes.size == 0 or resumes[0] < _MIN_GAP_S * 100:
        return start
    return (first + int(quiet[0]) + int(resumes[0])) / 100


def _end_on_sound(start: float, end: float, limit: float, sound: np.ndarray) -> float:
    """``end`` moved back to the last sound frame after ``start`` when it lies in silence, or on
    to where the sound it lies in stops (not past ``limit``)."""
    first, at = _frame(start, sound), _frame(end - 0.005, sound)
    if not sound[at]:
        heard = np.flatnonzero(sound[first:at + 1])
        return end if heard.size == 0 else (first + int(heard[-1]) + 1) / 100
    quiet = np.flatnonzero(~sound[at:])
    stops = (at + int(quiet[0])) / 100 if quiet.size else len(sound) / 100
    return max(end, min(stops, limit))


def _frame(seconds: float, sound: np.ndarray) -> int:
    return min(max(int(seconds * 100), 0), len(sound) - 1)


def _retimed(word: list[Token], start: float, end: float) -> dict[int, Token]:
    """Token id -> the token with its times kept inside [start, end] (only tokens that change)."""
    out = {}
    for token in word:
        new_start = min(max(token.start, start), end)
        new_end = min(max(token.end, new_start), end)
        if token is word[-1]:
            new_end = end
        if token is word[0]:
            new_start = start
        if (new_start, new_end) != (token.start, token.end):
            out[id(token)] = dataclasses.replace(token, start=new_start, end=new_end)
    return out
