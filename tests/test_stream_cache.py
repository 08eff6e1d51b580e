"""A Stream with a phrase cache: a candidate shows at once as the complete Partial; the Final follows the model."""

import dataclasses

import numpy as np
import pytest

import _speech_util as su
from _stream_util import ScriptedEngine, chunks_of
from _vad_util import silence
from lumina import Engine, Final, Partial, PhraseCache, Stream
from lumina.testing import make_model

pytestmark = pytest.mark.speech


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return su.SpeechBank(tmp_path_factory.mktemp("stream-cache-speech"))


def by_utterance(events):
    out = {}
    for e in events:
        if isinstance(e, (Partial, Final)):
            out.setdefault(e.utterance_id, []).append(e)
    return out


def test_a_retake_shows_the_candidate_then_the_verified_final(tmp_path, speech):
    model = make_model(tmp_path / "micro.bin", "micro")
    phrase = speech.at_16k("turn on the kitchen lights", "en-gb")
    retake = su.gain(speech.at_16k("turn on the kitchen lights", "en-gb", speed=165), 4.0)
    audio = np.concatenate([silence(0.5), phrase, silence(1.0), retake, silence(0.6)]).astype(np.float32)
    with Engine(model, threads=1) as fast, Engine(model, threads=1, cache=PhraseCache()) as accurate:
        events = list(Stream(partial_engine=fast, final_engine=accurate, source=chunks_of(audio),
                             lockstep=True))
    first, second = by_utterance(events).values()
    assert first[-1].origin == "model"
    assert [p.complete for p in first if isinstance(p, Partial)].count(True) == 0
    *partials, shown, final = second
    assert isinstance(shown, Partial) and shown.complete and shown.text == first[-1].text != ""
    assert shown.text == shown.stable + shown.unstable
    assert partials and shown.stable == partials[-1].stable
    assert isinstance(final, Final) and (final.origin, final.text, final.from_cache) == (
        "cache-verified", first[-1].text, True)


class CandidateEngine(ScriptedEngine):
    """A ScriptedEngine whose finals first offer ``candidate`` (as an Engine with a cache does)."""

    def __init__(self, script, candidate: str, origin: str) -> None:
        super().__init__(script)
        self.candidate, self.origin = candidate, origin

    def transcribe(self, audio, *, speed="accurate", language=None, should_abort=None,
                   on_candidate=None):
        result = super().transcribe(audio, speed=speed, language=language, should_abort=should_abort)
        if speed == "accurate" and on_candidate is not None:
            on_candidate(self.candidate)
            return dataclasses.replace(result, origin=self.origin)
        return result


def run_one(speech_audio, candidate: str, origin: str):
    # Partial hypotheses agree on w5 w6 and never on what follows: "w5 w6" is the stable prefix.
    engine = CandidateEngine(lambda i, a, speed: [5, 6, 100 + i] if speed == "fast" else [5, 6, 9],
                             candidate, origin)
    events = list(Stream(engine=engine, source=chunks_of(speech_audio), lockstep=True))
    return by_utterance(events)[0]


@pytest.fixture(scope="module")
def one_phrase(speech):
    phrase = speech.at_16k("send the email", "en-us")
    return np.concatenate([silence(0.4), phrase, silence(0.6)]).astype(np.float32)


def test_a_candidate_that_extends_the_stable_prefix_is_shown_with_it(one_phrase):
    events = run_one(one_phrase, "w5 w6 w9", "cache-verified")
    *partials, shown, final = events
    assert [p.stable for p in partials][-1] == "w5 w6"
    assert (shown.complete, shown.text) == (True, "w5 w6 w9")
    assert (shown.stable, shown.unstable) == ("w5 w6", " w9")
    assert (final.text, final.origin) == ("w5 w6 w9", "cache-verified")


def test_a_candidate_that_contradicts_the_stable_prefix_is_not_shown(one_phrase):
    events = run_one(one_phrase, "w5 w7 w9", "model")
    assert [e.complete for e in events if isinstance(e, Partial)].count(True) == 0
    assert isinstance(events[-1], Final) and events[-1].origin == "model"


def test_engines_without_on_candidate_keep_working(one_phrase):
    engine = ScriptedEngine(lambda i, a, speed: [5, 6])
    events = by_utterance(list(Stream(engine=engine, source=chunks_of(one_phrase), lockstep=True)))[0]
    assert isinstance(events[-1], Final) and events[-1].origin == "model"
    assert all(not e.complete for e in events if isinstance(e, Partial))
