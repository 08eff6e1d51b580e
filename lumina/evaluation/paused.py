"""Sentences said in two breaths: the split-error corpus of a stream's hang-over, and an oracle engine.

A pause inside a sentence is not the end of an utterance, so a stream that
splits there makes an error. :func:`paused_sentences` speaks each sentence of
:data:`PAUSED_SENTENCES` with espeak-ng in two halves with each pause of
:data:`PAUSES` between them; :class:`SentenceOracle` is an engine (it implements
:class:`lumina.SpeechEngine`) that transcribes what a window of that audio
holds, the way a trained model would, ending a fragment with the mark it is
given; :func:`count_utterances` counts the finals a lockstep stream makes of a
sentence. The tests and ``benchmarks/compare_stream.py`` measure the adaptive
hang-over on it. Needs Debian's ``espeak-ng`` and ``sox``.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from lumina.asr.transcript import Segment, Timings, Token, Transcript
from lumina.audio.convert import SAMPLE_RATE as SR
from lumina.evaluation.utterances import silence, speak
from lumina.streaming import Final, Stream, StreamOptions

__all__ = ["PAUSED_SENTENCES", "PAUSES", "PausedSentence", "SentenceOracle", "count_utterances",
           "paused_sentences"]

#: Sentences said in two breaths: (first half, second half). A pause between the halves is
#: mid-sentence, so splitting the utterance there is an error.
PAUSED_SENTENCES = (
    ("I would like to order", "a large pizza with extra cheese"),
    ("Please send the report", "to the whole team before Friday"),
    ("The weather tomorrow", "will be sunny and warm"),
    ("Turn off the lights", "in the kitchen and the hall"),
)
#: The inserted pauses (s): the corpus of the issue, 300-600 ms.
PAUSES = (0.3, 0.4, 0.5, 0.6)
# Token ids of the marks an oracle ends a text with (their own tokens, so LocalAgreement
# compares words and marks separately).
_MARK_IDS = {",": 1000, "...": 1001, ".": 1002}


@dataclasses.dataclass(frozen=True)
class PausedSentence:
    """A sentence with a pause inside: its audio and where each half starts and ends (samples)."""

    halves: tuple[str, str]
    pause: float
    audio: np.ndarray
    first: tuple[int, int]
    second: tuple[int, int]


def paused_sentences(tmp: pathlib.Path, pauses=PAUSES, sentences=PAUSED_SENTENCES) -> list[PausedSentence]:
    """Each sentence spoken by espeak-ng in two halves with each pause between them, in silence."""
    tmp.mkdir(parents=True, exist_ok=True)
    out = []
    for k, halves in enumerate(sentences):
        a = speak(halves[0], tmp / f"ps{k}a.wav")
        b = speak(halves[1], tmp / f"ps{k}b.wav")
        for pause in pauses:
            lead = round(0.5 * SR)
            first = (lead, lead + len(a))
            second = (first[1] + round(pause * SR), first[1] + round(pause * SR) + len(b))
            audio = np.concatenate([silence(0.5), a, silence(pause), b, silence(1.0)]).astype(np.float32)
            out.append(PausedSentence(halves, pause, audio, first, second))
    return out


class SentenceOracle:
    """An engine stand-in that knows the words of a :class:`PausedSentence` and where they are.

    It answers every decode with the words the audio covers, the way a trained model would:
    the first half's words in proportion to how much of it the audio holds; once the first half
    is complete, its words and ``mid_mark`` (what the model ends a mid-sentence fragment with:
    ``""``, ``","``, ``"..."``, or a stray ``"."``); once the whole sentence is there, every
    word and a period. It finds where a window of audio starts by its content.
    """

    is_ready, device = True, "cpu"       # the engine protocol's: no model to load

    def __init__(self, sentence: PausedSentence, mid_mark: str, tolerance: int = 800) -> None:
        self.sentence = sentence
        self.mid_mark = mid_mark
        self.tolerance = tolerance            # samples the VAD may end a half early
        self.words = [w for half in sentence.halves for w in half.split()]
        self.n_first = len(sentence.halves[0].split())

    def _offset(self, window: np.ndarray) -> int:
        """Where ``window`` starts in the sentence's audio (its first sound, found by content)."""
        audio = self.sentence.audio
        j = int(np.flatnonzero(window)[0])
        snippet = window[j:j + 16]
        candidates = np.flatnonzero(audio == snippet[0])
        for i in candidates:
            if np.array_equal(audio[i:i + 16], snippet):
                return int(i) - j
        raise AssertionError("the window is not from this sentence")

    def transcribe_samples(self, audio, options, *, should_abort=None, on_segment=None,
                           on_candidate=None):
        start = self._offset(audio)
        end = start + len(audio)
        s = self.sentence
        if end >= s.second[1] - self.tolerance:
            ids, mark = list(range(len(self.words))), "."
        elif end >= s.first[1] - self.tolerance:
            ids, mark = list(range(self.n_first)), self.mid_mark
        else:
            heard = max(0, min(end, s.first[1]) - s.first[0]) / (s.first[1] - s.first[0])
            ids, mark = list(range(int(self.n_first * heard))), ""
        if start > s.first[1]:                # a split left only the second half in this utterance
            ids = [i for i in ids if i >= self.n_first] or list(range(self.n_first, len(self.words)))
        if mark:
            ids.append(_MARK_IDS[mark])
        text = {i: " " + w for i, w in enumerate(self.words)} | {v: k for k, v in _MARK_IDS.items()}
        return _transcript(ids, lambda i: text[i])

    def close(self) -> None:
        """Nothing to free."""


def count_utterances(sentence: PausedSentence, mid_mark: str, eager: bool = True,
                     **options) -> int:
    """How many utterances (Finals) a lockstep Stream makes of the sentence with an oracle engine.

    ``eager=False`` is the classic schedule: no speculation and the segmenter's fixed hang-over
    (unless ``hangover`` is given); ``options`` go to StreamOptions.
    """
    if not eager:
        options.setdefault("hangover", None)
    chunks = [sentence.audio[i:i + 320] for i in range(0, len(sentence.audio), 320)]   # 20 ms
    stream = Stream(SentenceOracle(sentence, mid_mark), source=chunks,
                    options=StreamOptions(eager=eager, lockstep=True, **options))
    return sum(isinstance(e, Final) for e in stream)


def _transcript(ids: list[int], text_of) -> Transcript:
    tokens = tuple(Token(i, text_of(i), 1.0, 0.0, 0.0) for i in ids)
    text = "".join(t.text for t in tokens).strip()
    segments = (Segment(0.0, 1.0, text, tokens),) if tokens else ()
    return Transcript(text, segments, "en", "cpu", Timings())
