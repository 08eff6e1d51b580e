"""Where each word was said: recordings with known word times, and the error of word timestamps.

A :class:`WordRecording` joins words spoken one at a time (each rendered alone and trimmed
to where its sound is, 40 dB under its peak) with measured pauses between them, so every
word's start and end in the joined audio is known to the sample. :func:`timing_errors`
lines a transcript's words up with them (after the normaliser, in order) and returns
the absolute start and end errors of the words that match.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from lumina.asr.transcript import word_tokens
from lumina.audio.convert import SAMPLE_RATE
from lumina.evaluation.speech import SpeechRenderer, Voice
from lumina.evaluation.wer import normalise

__all__ = ["TimedWord", "WordRecording", "timing_errors", "word_recording", "words_of"]


@dataclasses.dataclass(frozen=True)
class TimedWord:
    """A word and its start and end in seconds."""

    text: str
    start: float
    end: float


@dataclasses.dataclass(frozen=True)
class WordRecording:
    """Audio of words with pauses between them, and where each word is."""

    audio: np.ndarray
    words: tuple[TimedWord, ...]


def _trimmed(audio: np.ndarray, floor_db: float = -40.0) -> np.ndarray:
    """``audio`` from its first to its last 10 ms frame within ``floor_db`` of its loudest."""
    frame = SAMPLE_RATE // 100
    n = len(audio) // frame
    rms = np.sqrt(np.mean(audio[:n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (floor_db / 20))
    return audio[loud[0] * frame:(loud[-1] + 1) * frame]


def word_recording(renderer: SpeechRenderer, words: Sequence[str], voice: Voice,
                   pauses_s: Sequence[float], lead_s: float = 0.5) -> WordRecording:
    """``words`` spoken one at a time by ``voice``, ``pauses_s[i]`` apart (cycled)."""
    parts, timed, at = [np.zeros(int(lead_s * SAMPLE_RATE), np.float32)], [], lead_s
    for i, word in enumerate(words):
        sound = _trimmed(renderer.render(word, voice))
        timed.append(TimedWord(word, at, at + len(sound) / SAMPLE_RATE))
        pause = np.zeros(int(pauses_s[i % len(pauses_s)] * SAMPLE_RATE), np.float32)
        parts += [sound, pause]
        at += (len(sound) + len(pause)) / SAMPLE_RATE
    return WordRecording(np.concatenate(parts).astype(np.float32), tuple(timed))


def words_of(segments) -> list[TimedWord]:
    """The words of transcript segments with their times (a word as
    :func:`lumina.asr.transcript.word_tokens` groups them, within one segment); a word spans
    its tokens' times."""
    words = [_joined(tokens) for segment in segments for tokens in word_tokens(segment.tokens)]
    return [w for w in words if normalise(w.text)]


def _joined(tokens) -> TimedWord:
    return TimedWord("".join(t.text for t in tokens).strip(), tokens[0].start, tokens[-1].end)


def timing_errors(reference: Sequence[TimedWord], hypothesis: Sequence[TimedWord]
                  ) -> tuple[list[float], list[float]]:
    """Absolute start and end errors (s) of the hypothesis words that match a reference word in
    order (greedy in-order matching after normalisation)."""
    starts, ends, j = [], [], 0
    for word in hypothesis:
        text = normalise(word.text)
        for k in range(j, min(j + 3, len(reference))):
            if normalise(reference[k].text) == text:
                starts.append(abs(word.start - reference[k].start))
                ends.append(abs(word.end - reference[k].end))
                j = k + 1
                break
    return starts, ends
