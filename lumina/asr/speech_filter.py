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
   and either repeats the segment before it, ending well past the audio
   (:data:`REPEAT_OVERRUN_S`) and starting too late for the audio left to
   hold the words again (less than half the time they took the first time),
   or holds more tokens than the
   audio left after its start could carry (:data:`MAX_TOKENS_PER_SECOND`,
   about twice fast speech) is the model continuing into the padding (a fast
   decode's context runs up to 5 s past the audio), typically repeating what
   it just wrote. whisper.cpp gives a last segment without a closing
   timestamp the window's end, and beam search on a short context misplaces
   timestamps, so the end alone says nothing; a repeat or the words per
   second of real audio do. (A sentence really said twice, with 5 beams:
   "The meeting starts at nine." at 0-3 s and again at 5-8 s of 6.95 s of
   audio; the loop it must not keep: 0-4 s and 4-8 s of 4.42 s.)
   A greedy decode of a short phrase spoken alone loops *inside* one segment
   ("Close the window. Close the window. Close the window. Close the window"
   for 1.5 s of audio, real tiny.en in the 5.12 s fast context): when a
   segment's words are one phrase read at least twice (the last reading may
   stop early) and more tokens than the audio left could carry, the first
   reading is kept (:func:`first_reading`) and the rest is the loop. Dropping
   the whole segment, as before, lost what was said: 9 of 44 short commands
   spoken by hibari-tts came out of a stream as an empty Final.

A :class:`SpeechFilter` cleans the segments of one decode in order (rule 3
looks at the segment before). :func:`heard_only_sound` says whether a whole
decode was nothing but annotations: beam search sometimes brackets a short
word spoken alone (tiny.en's 5 beams write "[Sure]" for "Sure."), which rule 1
cannot tell from "[MUSIC]", so the engine then lets a greedy decode decide.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from lumina.asr.decode_data import SegmentData, TokenData

__all__ = ["LOGPROB_THRESHOLD", "MAX_TOKENS_PER_SECOND", "NO_SPEECH_THRESHOLD", "Cleaned", "SpeechFilter",
           "clean_segment", "first_reading", "heard_only_sound", "seconds_left", "strip_annotations"]

#: A window whisper judges this likely to hold no speech ...
NO_SPEECH_THRESHOLD = 0.6
#: ... whose tokens average a log-probability under this, holds no speech.
LOGPROB_THRESHOLD = -1.0
#: More tokens than this per second of audio (plus two) cannot have been spoken in it.
MAX_TOKENS_PER_SECOND = 8
#: A segment repeating the one before and ending this far past the audio is the model looping
#: (a sentence really said twice ends with the audio, give or take a timestamp step).
REPEAT_OVERRUN_S = 0.5

# A caption's description of sound: [BLANK_AUDIO], [MUSIC], (silence), (beeping), *music*, ♪ ... ♪.
# An unclosed bracket runs to the end of the text (a decode cut off inside one).
_ANNOTATION = re.compile(r"\[[^\]]*(?:\]|$)|\([^)]*(?:\)|$)|\*[^*\n]*\*|[♪♫]+")
_WORD = re.compile(r"\w")
_ONLY_SOUND = "only a description of sound"


class Cleaned:
    """A cleaned segment's data, or None with why it was removed."""

    __slots__ = ("data", "removed")

    def __init__(self, data: SegmentData | None, removed: str | None = None) -> None:
        self.data = data
        self.removed = removed


def strip_annotations(text: str) -> str:
    """``text`` without bracketed or parenthesised descriptions of sound and music symbols."""
    return " ".join(_ANNOTATION.sub(" ", text).split())


class SpeechFilter:
    """Cleans the segments of one decode, in order (see the module documentation).

    Parameters
    ----------
    is_special : callable
        The model's special-token test.
    duration : float
        The audio's length in seconds (raw segment times are compared with it,
        before any clamping).
    """

    def __init__(self, is_special: Callable[[int], bool], duration: float) -> None:
        self.is_special, self.duration = is_special, duration
        self._previous: SegmentData | None = None

    def clean(self, data: SegmentData) -> Cleaned:
        """Apply the three rules to the next segment of the decode."""
        cleaned = clean_segment(data, self.is_special, self.duration, self._previous)
        if cleaned.data is not None:
            self._previous = cleaned.data
        return cleaned


def heard_only_sound(segments: Sequence[SegmentData], is_special: Callable[[int], bool],
                     duration: float) -> bool:
    """Whether a decode wrote segments and rule 1 removes every one of them as a description of sound."""
    speech_filter = SpeechFilter(is_special, duration)
    removed = [speech_filter.clean(segment).removed for segment in segments]
    return bool(removed) and all(r is not None and r.startswith(_ONLY_SOUND) for r in removed)


def _words_of(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.casefold()).split())


def clean_segment(data: SegmentData, is_special: Callable[[int], bool], duration: float,
                  previous: SegmentData | None = None) -> Cleaned:
    """Apply the three rules of this module to one decoded segment.

    ``duration`` is the audio's length in seconds; ``previous`` the segment
    kept before it in the same decode (:class:`SpeechFilter` keeps it).
    """
    words = [t for t in data.tokens if not is_special(t.id)]
    if _looped_repeat(data, previous, duration):
        return Cleaned(None, "a repeat past the end of the audio")
    reading = first_reading(words, seconds_left(data, duration))
    if reading < len(words):
        words = words[:reading]
        data = SegmentData(data.start, data.end, "".join(t.text for t in words), tuple(words),
                           data.no_speech_prob)
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
        return Cleaned(None, f"{_ONLY_SOUND} ({data.text.strip()})")
    return Cleaned(SegmentData(data.start, data.end, text, tuple(kept), data.no_speech_prob))


def _looped_repeat(data: SegmentData, previous: SegmentData | None, duration: float) -> bool:
    """The segment repeats the one before, ends well past the audio, and starts too late to be said again."""
    if previous is None or data.end <= duration + REPEAT_OVERRUN_S:
        return False
    if _words_of(data.text) != _words_of(previous.text):
        return False
    return duration - data.start < 0.5 * (previous.end - previous.start)


def seconds_left(data: SegmentData, duration: float) -> float:
    """Seconds of the audio from the segment's start to the end (0 when it starts past it)."""
    return max(0.0, duration - max(data.start, 0.0))


def first_reading(words: Sequence[TokenData], seconds: float) -> int:
    """How many of a segment's word tokens to keep: all, unless they loop.

    They loop when they are one phrase of two tokens or more read at least twice, each
    reading token for token the first (the last may stop early), and there are more of them
    than ``seconds`` of audio could carry (:data:`MAX_TOKENS_PER_SECOND`); then the first
    reading's length. A phrase really said twice fits its audio and is kept whole.
    """
    n = len(words)
    # Without rule 3's two spare tokens: two readings or more of a phrase faster than twice
    # fast speech ("Close the window." twice in 0.9 s) cannot have been said.
    if n <= MAX_TOKENS_PER_SECOND * seconds:
        return n
    ids = [t.id for t in words]
    for period in range(1, n // 2 + 1):   # the shortest phrase the tokens repeat
        if all(ids[i] == ids[i - period] for i in range(period, n)):
            return period if period > 1 else n   # one token again and again is no phrase
    return n


def _past_the_end(data: SegmentData, words: list[TokenData], duration: float) -> bool:
    """The segment runs past the audio's end with more words than the audio left could hold."""
    if data.end <= duration:
        return False
    return len(words) > MAX_TOKENS_PER_SECOND * seconds_left(data, duration) + 2


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
