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
from _vad_util import SR
from lumina.evaluation.utterances import silence, speak

CHUNK = 320  # 20 ms, what FileSource yields by default
#: Events that depend on the audio alone: every partial step decoded, nothing aborted.
#: Lockstep with finals on the accurate path: the scheduling tests tell the paths apart by speed
#: (partials are always fast). The default final speed has its own tests (test_stream_defaults.py).
LOCKSTEP = StreamOptions(lockstep=True, final_speed="accurate")
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
    return "".join(t.text for s in engine.transcribe(audio, speed="fast", beam_size=1).segments for t in s.tokens).strip()


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
    (its fast decode through LocalAgreement, as streams run it), else ``text_of(audio)``.
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
            tokens = [t for s in engine.transcribe(audio, speed="fast", beam_size=1).segments for t in s.tokens]
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
