"""Helpers of the stream tests: espeak speech signals, engine stand-ins and the schedule driven directly."""

from __future__ import annotations

import collections
import dataclasses
import pathlib
import threading
import typing

import numpy as np

from lumina import Segmenter, StreamOptions
from lumina.streaming.agreement import LocalAgreement
from lumina.streaming.hangover import HangoverPolicy
from lumina.streaming.scheduler import FinalDue, Scheduler, SpeculationDue
from lumina.asr.transcript import Segment, Timings, Token, Transcript
from lumina.errors import TranscriptionAborted
from _vad_util import SR, silence, speak

CHUNK = 320  # 20 ms, what FileSource yields by default
#: Events that depend on the audio alone: every partial step decoded, nothing aborted.
LOCKSTEP = StreamOptions(lockstep=True)
# The micro model with this seed gives hypotheses whose tails change as audio grows.
MICRO_SEED = 2


def two_utterances(tmp: pathlib.Path) -> np.ndarray:
    """0.5 s silence, a phrase, 1 s silence, another phrase, 0.5 s silence."""
    a = speak("Open the pod bay doors please", tmp / "a.wav")
    b = speak("Turn on the kitchen lights", tmp / "b.wav")
    return np.concatenate([silence(0.5), a, silence(1.0), b, silence(0.5)]).astype(np.float32)


def chunks_of(audio: np.ndarray, n: int = CHUNK) -> list[np.ndarray]:
    return [audio[i:i + n] for i in range(0, len(audio), n)]


class Decode(typing.NamedTuple):
    """A decode the schedule asks for: the utterance, its audio, and whether it is a speculation."""

    utterance_id: int
    audio: np.ndarray
    complete: bool = False


def tokens_text(engine, audio) -> str:
    """The text a partial of ``audio`` shows: its fast decode's tokens joined (what LocalAgreement gives)."""
    return "".join(t.text for s in engine.transcribe(audio, speed="fast").segments for t in s.tokens).strip()


def reference_schedule(audio: np.ndarray, step: float = 0.25, chunk: int = CHUNK,
                       busy=lambda partials: False, lockstep: bool = True, eager: bool = True,
                       engine=None, text_of=lambda audio: "", segmenter: Segmenter | None = None):
    """What a Stream must do, from the real Scheduler driven without threads or engines.

    Returns ``(scheduler, decodes, ends)``: the partial decodes as :class:`Decode`
    in order (speculations' complete partials included, ``complete=True``), and
    the SpeechEnd events (the flush's included). ``busy(decodes so far)`` answers
    whether a decode would be running at each chunk. The text of each partial
    is handed to the scheduler where a lockstep stream hands it (right after
    each partial or speculation): with ``engine``, the text the stream shows
    (its fast decode through LocalAgreement-2), else ``text_of(audio)``.
    """
    sched = Scheduler(segmenter or Segmenter(), step, lockstep=lockstep, eager=eager,
                      first_step=None if eager else step,
                      hangover=HangoverPolicy() if eager else None)
    decodes, ends = [], []
    agreements = collections.defaultdict(LocalAgreement)

    def decode(audio, complete):
        utterance = sched.open_utterance
        decodes.append(Decode(utterance, audio, complete))
        if engine is None:
            text = text_of(audio)
        else:
            tokens = [t for s in engine.transcribe(audio, speed="fast").segments for t in s.tokens]
            text = agreements[utterance].update(tokens)[0]
        sched.note_text(utterance, text)

    def act(due):
        for item in due:
            if isinstance(item, FinalDue):
                ends.append(item.end)
            elif isinstance(item, SpeculationDue):
                full = sched.segmenter.current_audio()
                decode(full[:len(full) - (sched.segmenter.samples_fed - item.end_sample)], True)

    for piece in chunks_of(audio, chunk):
        act(sched.feed(piece))
        if sched.partial_due(busy(decodes)):
            decode(sched.segmenter.current_audio(), False)
    act(sched.flush())
    return sched, decodes, ends


def transcript(ids: list[int], text_of=lambda i: f" w{i}") -> Transcript:
    tokens = tuple(Token(i, text_of(i), 1.0, 0.0, 0.0) for i in ids)
    segments = (Segment(0.0, 1.0, "".join(t.text for t in tokens).strip(), tokens),) if tokens else ()
    return Transcript("".join(t.text for t in tokens).strip(), segments, "en", "cpu", Timings())


class StandIn:
    """What the engine protocol (lumina.SpeechEngine) asks of a stand-in besides ``transcribe_samples``."""

    device, is_ready = "cpu", True

    def close(self) -> None:
        pass


class ScriptedEngine(StandIn):
    """An engine stand-in: answers each call from a script and records what it was asked.

    ``script(call_index, audio, speed)`` returns the token ids of the answer;
    ``text_of(token_id)`` their texts; ``origin`` is the answers' ``Transcript.origin``.
    ``gate``, when given, makes every call wait for it (while honouring
    ``should_abort``), so tests can hold the decoder still.
    """

    def __init__(self, script=lambda i, audio, speed: [], gate: threading.Event | None = None,
                 origin: str = "model", text_of=lambda i: f" w{i}") -> None:
        self.script = script
        self.text_of = text_of
        self.gate = gate
        self.origin = origin
        self.calls: list[tuple[str, int]] = []   # (speed, number of samples)
        self.entered = threading.Event()
        self.aborted = 0
        self._lock = threading.Lock()

    def transcribe_samples(self, audio, options, *, should_abort=None, on_segment=None,
                           on_candidate=None):
        with self._lock:
            index = len(self.calls)
            self.calls.append((options.speed, len(audio)))
        self.entered.set()
        while self.gate is not None and not self.gate.wait(0.01):
            if should_abort is not None and should_abort():
                self.aborted += 1
                raise TranscriptionAborted("aborted")
        return dataclasses.replace(transcript(self.script(index, audio, options.speed), self.text_of),
                                   origin=self.origin)


class CountingEngine(StandIn):
    """Wraps a real Engine and counts its calls."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.calls = 0

    def transcribe_samples(self, audio, options, **hooks):
        self.calls += 1
        return self.engine.transcribe_samples(audio, options, **hooks)


# ---------------------------------------------------------------- sentences with a pause inside

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


class SentenceOracle(StandIn):
    """An engine stand-in that knows the words of a :class:`PausedSentence` and where they are.

    It answers every decode with the words the audio covers, the way a trained model would:
    the first half's words in proportion to how much of it the audio holds; once the first half
    is complete, its words and ``mid_mark`` (what the model ends a mid-sentence fragment with:
    ``""``, ``","``, ``"..."``, or a stray ``"."``); once the whole sentence is there, every
    word and a period. It finds where a window of audio starts by its content.
    """

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
        return transcript(ids, lambda i: text[i])


def count_utterances(sentence: PausedSentence, mid_mark: str, eager: bool = True,
                     **options) -> int:
    """How many utterances (Finals) a lockstep Stream makes of the sentence with an oracle engine.

    ``eager=False`` is the classic schedule: no speculation and the segmenter's fixed hang-over
    (unless ``hangover`` is given); ``options`` go to StreamOptions.
    """
    from lumina import Final, Stream, StreamOptions
    if not eager:
        options.setdefault("hangover", None)
    stream = Stream(SentenceOracle(sentence, mid_mark), source=chunks_of(sentence.audio),
                    options=StreamOptions(eager=eager, lockstep=True, **options))
    return sum(isinstance(e, Final) for e in stream)
