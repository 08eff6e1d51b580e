"""Never a word that nobody said: what whisper writes for non-speech is removed before anyone sees it.

Whisper was trained on captions, so where it hears no speech it writes what
captioners write (``[BLANK_AUDIO]``, ``(beeping)``, ``♪``), or, on silence, a
phrase from its training data ("you", "Thank you."); on a short encoder
context it may also continue the text into the padding past the audio's end.
Every segment of every decode passes :func:`clean_segment`, which removes
three things, each by a general rule (no phrase list):

1. **Annotations**: text in square brackets or parentheses, and music
   symbols, are descriptions of sound, not speech. A segment left without a
   letter or digit is dropped.
2. **Hallucinations on non-speech**: whisper's own estimate that the window
   holds no speech (``no_speech_prob``, read from the first decoding step)
   above :data:`NO_SPEECH_THRESHOLD` together with an average token
   log-probability under :data:`LOGPROB_THRESHOLD`: the rule faster-whisper
   and whisper.cpp use, applied per segment. (whisper.cpp applies it to its
   own average, which counts timestamp tokens and so rarely falls below the
   threshold.) Where the backend cannot read ``no_speech_prob`` this rule is
   off.
3. **Text past the audio's end**: a segment that runs past the last sample
   and holds more tokens than the audio left after its start could carry
   (:data:`MAX_TOKENS_PER_SECOND`, about twice fast speech) is the model
   continuing into the padding, typically repeating what it just wrote (a
   fast decode's context runs up to 5 s past the audio). whisper.cpp gives
   a last segment without a closing timestamp the window's end, so the end
   alone says nothing; the words per second of real audio do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from lumina.asr.decode_data import SegmentData, TokenData

__all__ = ["LOGPROB_THRESHOLD", "MAX_TOKENS_PER_SECOND", "NO_SPEECH_THRESHOLD", "Cleaned", "clean_segment", "strip_annotations"]

#: A window whisper judges this likely to hold no speech ...
NO_SPEECH_THRESHOLD = 0.6
#: ... whose tokens average a log-probability under this, holds no speech.
LOGPROB_THRESHOLD = -1.0
#: More tokens than this per second of audio (plus two) cannot have been spoken in it.
MAX_TOKENS_PER_SECOND = 8

# A caption's description of sound: [BLANK_AUDIO], [MUSIC], (silence), (beeping), *music*, ♪ ... ♪.
# An unclosed bracket runs to the end of the text (a decode cut off inside one).
_ANNOTATION = re.compile(r"\[[^\]]*(?:\]|$)|\([^)]*(?:\)|$)|\*[^*\n]*\*|[♪♫]+")
_WORD = re.compile(r"\w")


class Cleaned:
    """A cleaned segment's data, or None with why it was removed."""

    __slots__ = ("data", "removed")

    def __init__(self, data: SegmentData | None, removed: str | None = None) -> None:
        self.data = data
        self.removed = removed


def strip_annotations(text: str) -> str:
    """``text`` without bracketed or parenthesised descriptions of sound and music symbols."""
    return " ".join(_ANNOTATION.sub(" ", text).split())


def clean_segment(data: SegmentData, is_special: Callable[[int], bool], duration: float) -> Cleaned:
    """Apply the three rules of this module to one decoded segment.

    ``duration`` is the audio's length in seconds (raw segment times are
    compared with it, before any clamping).
    """
    words = [t for t in data.tokens if not is_special(t.id)]
    if _past_the_end(data, words, duration):
        return Cleaned(None, "text past the end of the audio")
    if _hallucinated(data, words):
        return Cleaned(None, f"whisper's no-speech probability {data.no_speech_prob:.2f} with an "
                             f"average log-probability of {_mean_logprob(words):.2f}")
    if not _ANNOTATION.search(data.text):
        return Cleaned(data) if _WORD.search(data.text) else Cleaned(None, "no words")
    kept = _tokens_outside_annotations(words)
    text = strip_annotations(data.text)
    if not _WORD.search(text):
        return Cleaned(None, f"only a description of sound ({data.text.strip()})")
    return Cleaned(SegmentData(data.start, data.end, text, tuple(kept), data.no_speech_prob))


def _past_the_end(data: SegmentData, words: list[TokenData], duration: float) -> bool:
    """The segment runs past the audio's end with more words than the audio left could hold."""
    if data.end <= duration:
        return False
    left = max(0.0, duration - data.start)
    return len(words) > MAX_TOKENS_PER_SECOND * left + 2


def _mean_logprob(words: list[TokenData]) -> float:
    return sum(math.log(max(t.p, 1e-12)) for t in words) / len(words) if words else 0.0


def _hallucinated(data: SegmentData, words: list[TokenData]) -> bool:
    return (data.no_speech_prob is not None and data.no_speech_prob > NO_SPEECH_THRESHOLD
            and _mean_logprob(words) < LOGPROB_THRESHOLD)


def _tokens_outside_annotations(words: list[TokenData]) -> list[TokenData]:
    """The tokens whose characters lie outside every annotation of their joined text."""
    joined = "".join(t.text for t in words)
    covered = [False] * len(joined)
    for match in _ANNOTATION.finditer(joined):
        covered[match.start():match.end()] = [True] * (match.end() - match.start())
    kept, at = [], 0
    for token in words:
        span = covered[at:at + len(token.text)]
        if not all(span) or not span:
            kept.append(token)
        at += len(token.text)
    return kept
