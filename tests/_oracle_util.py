"""A word-faithful stand-in for whisper.cpp, for judging the phrase cache's answers.

Random-weight models decode meaningless, nearly constant tokens whatever the words (the micro
model gives the same single token for every phrase), so they cannot tell "turn on" from "turn
off" and cannot show that a verification rejects a confusable *because the words differ*.
:class:`OracleModel` can: it takes the place of :class:`lumina.asr.backend.WhisperModel`
inside a real :class:`~lumina.Engine` (real gateway, real PhraseCache, real verification
logic) and decodes each call as the phrase the test says the audio holds. Like a real
model, its two decodes of one phrase differ in form but not in words: an accurate decode
(full 30 s window) is capitalised with a full stop, a shortened one (``audio_ctx`` cut:
fast or verification) is lower case without punctuation.
"""

from __future__ import annotations

import contextlib
import dataclasses

import pytest

import lumina.evaluation.phrases as su
import lumina.asr.model_pool
import lumina.asr.shared_model
from lumina import Engine
from lumina.evaluation.phrases import FrozenCache
from lumina.asr.backend import RunResult, SegmentData, TokenData

EOT = 50256


class OracleModel:
    """Decodes every call as :attr:`label` (the phrase the test says the audio holds).

    Records each run as ``(number of samples, DecodeOptions)`` in :attr:`runs`.
    """

    label = ""  # class-wide: the engine builds the instance itself
    runs: list = []
    vocabulary: dict[str, int] = {}

    def __init__(self, path, *, use_gpu: bool = False, **_: object) -> None:
        self.path = path
        self.concurrency = 1
        self.gpu_backend = None
        self.english_only = True
        self.n_audio_ctx = 1500
        self.load_log = ()

    def run(self, audio, options, should_abort=None, on_segment=None) -> RunResult:
        OracleModel.runs.append((len(audio), options))
        if should_abort is not None and should_abort():
            return RunResult((), "en", 0.0, 0.0, 0.0, True)
        text = self.label if options.audio_ctx else self.label.capitalize() + "."
        if not self.label:
            return RunResult((), "en", 0.0, 0.0, 0.0, False)
        tokens = tuple(TokenData(self._id(" " + w), " " + w, 1.0, 0.0, 0.0) for w in text.split())
        return RunResult((SegmentData(0.0, len(audio) / 16000, " " + text, tokens),), "en",
                         0.0, 0.0, 0.0, False)

    @classmethod
    def _id(cls, piece: str) -> int:
        return cls.vocabulary.setdefault(piece, len(cls.vocabulary) + 1)

    def is_special(self, token_id: int) -> bool:
        return token_id >= EOT

    def close(self) -> None:
        pass


@contextlib.contextmanager
def oracle_engines():
    """Engines made inside this block run on :class:`OracleModel` instead of whisper.cpp."""
    OracleModel.runs = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lumina.asr.model_pool, "WhisperModel", OracleModel)
        patch.setattr(lumina.asr.shared_model, "SharedModel",
                      lambda path, concurrency, **options: OracleModel(path, **options))
        yield OracleModel


def hears(label: str):
    """Set what the oracle hears in the next calls; returns the class for chaining."""
    OracleModel.label = label
    return OracleModel


@dataclasses.dataclass
class Tally:
    """Outcomes of engine calls judged against the phrase each audio really holds.

    A *wrong Final* is a transcript whose text came from the cache (``origin`` starting with
    ``"cache-"``) while the audio holds another phrase (compared as lower-case words, so the
    accurate decode's capital and full stop do not count).
    """

    calls: int = 0
    exact: int = 0
    verified: int = 0
    unverified: int = 0
    model: int = 0
    wrong: list = dataclasses.field(default_factory=list)
    false_candidates: list = dataclasses.field(default_factory=list)

    def add(self, name: str, label: str, transcript, candidate: str | None) -> None:
        self.calls += 1
        origin = transcript.origin
        field = {"cache-exact": "exact", "cache-verified": "verified",
                 "cache-unverified": "unverified", "model": "model"}[origin]
        setattr(self, field, getattr(self, field) + 1)
        if origin.startswith("cache-") and _words(transcript.text) != _words(label):
            self.wrong.append((name, transcript.text, origin))
        if candidate is not None and _words(candidate) != _words(label):
            self.false_candidates.append((name, candidate))

    @property
    def hits(self) -> int:
        return self.exact + self.verified + self.unverified


def _words(text: str) -> list[str]:
    return text.lower().rstrip(".").split()


# ----------------------------------------------------------------------------- the whole-set run

def run_queries(engine, queries, tally: Tally) -> Tally:
    """Transcribe ``(name, phrase, audio, sample_rate)`` queries, telling the oracle the phrase."""
    for name, label, audio, sr in queries:
        seen = []
        hears(label)
        transcript = engine.transcribe(audio, sample_rate=sr, on_candidate=seen.append)
        tally.add(name, label, transcript, seen[0] if seen else None)
    return tally


def fill(engine, cache: FrozenCache, recordings) -> None:
    """Transcribe ``(phrase, audio)`` recordings into the cache (misses), then freeze it.

    While filling, only identical audio matches (threshold 1.0): the same phrase in another
    voice would otherwise be a verified candidate and never get its own entry.
    """
    threshold, cache.threshold = cache.threshold, 1.0
    try:
        for phrase, audio in recordings:
            hears(phrase)
            assert engine.transcribe(audio).origin == "model"
    finally:
        cache.threshold = threshold
    cache.frozen = True


def pairs_only(bank, model_path, direction: int, **cache_options) -> Tally:
    """The other sides of the minimal pairs against a cache of one side (every voice)."""
    cached, asked = su.pair_sides(direction)
    with oracle_engines():
        cache = FrozenCache(**cache_options)
        with Engine(model_path, cache=cache, warmup=False) as engine:
            fill(engine, cache, [(p, bank.at_16k(p, v)) for p in cached for v in su.VOICES])
            other = [(n, p, t.audio, t.sr) for n, p, t in su.pair_takes(bank, asked)]
            return run_queries(engine, other, Tally())


def whole_set(bank, model_path, **cache_options) -> dict[int, tuple[Tally, Tally]]:
    """Every re-take and confusable of the evaluation through an engine on the oracle.

    Direction 0: the 44 phrases (one voice each) and the first side of each minimal pair
    (every voice) are cached; the re-takes of all of them, the 173 calibration confusables
    and every take of the pairs' other sides are asked. Direction 1: the pairs reversed.
    Returns ``{direction: (re-takes tally, confusables tally)}``.
    """
    phrases = [(p, bank.at_16k(p, su.VOICES[i % 4])) for i, p in enumerate(su.PHRASES)]
    retakes = [(f"{p!r} {t.label}", p, t.audio, t.sr) for i, p in enumerate(su.PHRASES)
               for t in su.retakes(bank, p, su.VOICES[i % 4], seed=i)]
    confusing = [(n, label, a, 16000) for n, label, a in su.labelled_confusables(bank)]
    results = {}
    with oracle_engines():
        for direction in (0, 1):
            cached, asked = su.pair_sides(direction)
            cache = FrozenCache(**cache_options)
            with Engine(model_path, cache=cache, warmup=False) as engine:
                pairs = [(p, bank.at_16k(p, v)) for p in cached for v in su.VOICES]
                fill(engine, cache, pairs + (phrases if direction == 0 else []))
                own = [(n, p, t.audio, t.sr) for n, p, t in su.pair_takes(bank, cached)]
                other = [(n, p, t.audio, t.sr) for n, p, t in su.pair_takes(bank, asked)]
                results[direction] = (
                    run_queries(engine, own + (retakes if direction == 0 else []), Tally()),
                    run_queries(engine, other + (confusing if direction == 0 else []), Tally()))
    return results
