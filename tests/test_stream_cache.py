"""A Stream with a phrase cache: a candidate shows at once as the complete Partial; the Final follows the model."""

import dataclasses
import threading

import numpy as np
import pytest

import lumina.evaluation.phrases as su
from _stream_util import ScriptedEngine, chunks_of
from lumina.evaluation.utterances import silence
from lumina import StreamModels, StreamOptions
from lumina import Engine, Final, Partial, PhraseCache, Stream
from lumina.streaming.decoder import Decoder, DecodeJob
from lumina.streaming.delivery import Delivery
from lumina.streaming.stats import Counters
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


@pytest.mark.parametrize("eager", [True, False], ids=["eager", "classic"])
def test_a_retake_shows_the_candidate_then_the_verified_final(tmp_path, speech, eager):
    model = make_model(tmp_path / "micro.bin", "micro")
    phrase = speech.at_16k("turn on the kitchen lights", "en-gb")
    retake = su.gain(speech.at_16k("turn on the kitchen lights", "en-gb", speed=165), 4.0)
    audio = np.concatenate([silence(0.5), phrase, silence(1.0), retake, silence(0.6)]).astype(np.float32)
    with Engine(model, threads=1) as fast, Engine(model, threads=1, cache=PhraseCache()) as accurate:
        stream = Stream(StreamModels(partial=fast, final=accurate), source=chunks_of(audio),
                        options=StreamOptions(lockstep=True, eager=eager, final_speed="accurate"))
        events = list(stream)
    first, second = by_utterance(events).values()
    completes = [[p for p in u if isinstance(p, Partial) and p.complete] for u in (first, second)]
    assert first[-1].origin == "model" and first[-1].text != ""
    *partials, shown, final = second
    assert isinstance(final, Final) and (final.origin, final.text, final.from_cache) == (
        "cache-verified", first[-1].text, True)
    assert isinstance(shown, Partial) and shown.complete and shown.text == final.text
    assert shown.text == shown.stable + shown.unstable
    if eager:
        # Every complete partial is a speculation's (the micro model's fast text equals the
        # candidate, so the candidate is not shown twice); the last one is the confirmed end.
        assert len(completes[0]) + len(completes[1]) == stream.stats.speculations
        assert shown.stable == partials[-1].stable
    else:
        # Classic: no speculation; the one complete partial is the cache's candidate, at once
        # before the Final, extending the stable prefix of the partials before it.
        assert (len(completes[0]), completes[1]) == (0, [shown])
        assert partials and shown.stable == partials[-1].stable and not partials[-1].complete


class CandidateEngine(ScriptedEngine):
    """A ScriptedEngine whose finals first offer ``candidate`` (as an Engine with a cache does)."""

    def __init__(self, script, candidate: str, origin: str) -> None:
        super().__init__(script)
        self.candidate, self.origin = candidate, origin

    def transcribe_samples(self, audio, options, *, should_abort=None, on_segment=None,
                           on_candidate=None):
        result = super().transcribe_samples(audio, options, should_abort=should_abort)
        if options.speed == "accurate" and on_candidate is not None:
            on_candidate(self.candidate)
            return dataclasses.replace(result, origin=self.origin)
        return result


def run_one(speech_audio, candidate: str, origin: str, eager: bool, lockstep: bool = True):
    # Partial hypotheses agree on w5 w6 and never on what follows: "w5 w6" is the stable prefix.
    engine = CandidateEngine(lambda i, a, speed: [5, 6, 100 + i] if speed == "fast" else [5, 6, 9],
                             candidate, origin)
    stream = Stream(engine, source=chunks_of(speech_audio), options=StreamOptions(eager=eager, lockstep=lockstep, final_speed="accurate"))
    return by_utterance(list(stream))[0], stream.stats


@pytest.fixture(scope="module")
def one_phrase(speech):
    phrase = speech.at_16k("send the email", "en-us")
    return np.concatenate([silence(0.4), phrase, silence(0.6)]).astype(np.float32)


@pytest.mark.parametrize("eager", [True, False], ids=["eager", "classic"])
def test_a_candidate_that_extends_the_stable_prefix_is_shown_with_it(one_phrase, eager):
    events, stats = run_one(one_phrase, "w5 w6 w9", "cache-verified", eager)
    *partials, shown, final = events
    assert [p.stable for p in partials][-1] == "w5 w6"
    # Eager: the speculation's complete partial (its fast decode) comes first, then the candidate.
    assert [p.complete for p in partials] == [False] * (len(partials) - eager) + [True] * eager
    assert stats.speculations == int(eager)
    assert (shown.complete, shown.text) == (True, "w5 w6 w9")
    assert (shown.stable, shown.unstable) == ("w5 w6", " w9")
    assert (final.text, final.origin, final.from_cache) == ("w5 w6 w9", "cache-verified", True)


@pytest.mark.parametrize("eager", [True, False], ids=["eager", "classic"])
def test_a_candidate_that_contradicts_the_stable_prefix_is_not_shown(one_phrase, eager):
    events, stats = run_one(one_phrase, "w5 w7 w9", "model", eager)
    completes = [e.text for e in events if isinstance(e, Partial) and e.complete]
    assert completes == (["w5 w6 w103"] if eager else [])   # the speculation's, never the candidate
    assert all("w7" not in e.text for e in events)
    assert isinstance(events[-1], Final) and (events[-1].origin, events[-1].text) == ("model", "w5 w6 w9")


def test_a_live_speculation_shows_the_candidate_and_its_final_keeps_the_origin(one_phrase):
    # Not lockstep: the speculation decodes the final at once (the candidate shows then) and
    # holds it; the confirmed end takes it without another decode.
    events, stats = run_one(one_phrase, "w5 w6 w9", "cache-verified", eager=True, lockstep=False)
    *_, speculated, shown, final = events
    # Live partials may be skipped, so the stable prefix is "w5 w6" or, after one decode, "".
    assert speculated.complete and speculated.stable in ("", "w5 w6")
    assert (shown.complete, shown.text, shown.stable) == (True, "w5 w6 w9", speculated.stable)
    assert (final.text, final.origin) == ("w5 w6 w9", "cache-verified")
    assert (stats.speculations, stats.speculative_used, stats.speculative_discarded) == (1, 1, 0)
    assert stats.final_decodes == 1


@pytest.mark.parametrize("eager", [True, False], ids=["eager", "classic"])
def test_engines_without_on_candidate_keep_working(one_phrase, eager):
    engine = ScriptedEngine(lambda i, a, speed: [5, 6])
    stream = Stream(engine, source=chunks_of(one_phrase), options=StreamOptions(eager=eager, lockstep=True, final_speed="accurate"))
    events = by_utterance(list(stream))[0]
    assert isinstance(events[-1], Final) and (events[-1].origin, events[-1].text) == ("model", "w5 w6")
    completes = [e.text for e in events if isinstance(e, Partial) and e.complete]
    assert completes == (["w5 w6"] if eager else [])   # a speculation's only


@pytest.mark.parametrize("resumed", [False, True], ids=["confirmed", "speech-resumed"])
def test_a_speculation_cancelled_before_its_candidate_shows_none(resumed):
    # The decoder alone: a speculation whose speech resumes (the pipeline marks it cancelled)
    # while its complete partial decodes must not show the cache's candidate afterwards.
    job = DecodeJob("speculate", 0, np.zeros(16000, np.float32), end_sample=16000)
    engine = CandidateEngine(lambda i, a, speed: [5, 6] if speed == "fast" else [5, 6, 9],
                             "w5 w6 w9", "cache-verified")
    decode = engine.transcribe_samples

    def transcribe_samples(audio, options, **hooks):
        if options.speed == "fast" and resumed:
            job.cancelled = True   # what the pipeline does when speech resumes
        return decode(audio, options, **hooks)

    engine.transcribe_samples = transcribe_samples
    delivery, stopping = Delivery(), threading.Event()
    decoder = Decoder(engine, engine, final_speed="accurate", final_beam_size=1, language=None,
                      delivery=delivery, counters=Counters(), stopping=stopping, on_failure=stopping.set,
                      on_exit=lambda: None)
    thread = threading.Thread(target=decoder.run)
    thread.start()
    decoder.submit(job)
    if not resumed:   # the hang-over confirms the end: the final job takes the held speculation
        decoder.submit(DecodeJob("final", 0, np.zeros(16000, np.float32), end_sample=16000))
    decoder.end()
    thread.join(10)
    events = [(type(e).__name__, e.text, getattr(e, "complete", None), getattr(e, "origin", None))
              for e in delivery.iterate()]
    speculated = ("Partial", "w5 w6", True, None)
    if resumed:  # the final decode still ran (cancelled after the partial) but shows nothing
        assert events == [speculated]
        assert engine.calls == [("fast", 16000), ("accurate", 16000)]
    else:
        assert events == [speculated, ("Partial", "w5 w6 w9", True, None),
                          ("Final", "w5 w6 w9", None, "cache-verified")]
        assert engine.calls == [("fast", 16000), ("accurate", 16000)]  # no second final decode
