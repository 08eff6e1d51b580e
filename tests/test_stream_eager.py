"""Eager end of utterance through a whole Stream: speculations, their discarding, one Final each."""

import collections
import threading
import time

import numpy as np
import pytest

from lumina import StreamOptions
from lumina import (ArgumentError, FileSource, Final, HangoverPolicy, Partial, Segmenter, Stream,
                    TranscriptionAborted)
from lumina.streaming.agreement import LocalAgreement
from _stream_util import (LOCKSTEP, ScriptedEngine, StandIn, chunks_of, reference_schedule, tokens_text,
                          transcript)
from _vad_util import SR, write_wav
from lumina.evaluation.utterances import silence

CHUNK = 320


def tone(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


def with_pause(pause: float) -> np.ndarray:
    """Speech (a tone) 16000-24000, a pause, 0.5 s of speech again, 1 s of silence."""
    return np.concatenate([silence(1.0), tone(0.5), silence(pause), tone(0.5), silence(1.0)])


GAP = with_pause(0.1)         # speech stops at 24000, resumes at 25600, stops at 33600
PRE_ROLL = 3200


def tone_segmenter() -> Segmenter:
    return Segmenter(vad="energy", threshold_db=-40.0)   # fixed: a steady tone stays speech


def by_length(i, audio, speed):
    """Fast decodes answer 1, accurate ones the number of samples they were given."""
    return [1] if speed == "fast" else [len(audio)]


def one_final_each(events) -> list:
    """The Finals, after checking every utterance has exactly one and nothing of it follows it."""
    finals = [e for e in events if isinstance(e, Final)]
    assert len({f.utterance_id for f in finals}) == len(finals)
    done = set()
    for e in events:
        assert e.utterance_id not in done
        if isinstance(e, Final):
            done.add(e.utterance_id)
    return finals


def test_a_resumed_pause_discards_the_speculation_and_the_utterance_gets_one_final():
    engine = ScriptedEngine(by_length)
    stream = Stream(engine, source=chunks_of(GAP), segmenter=tone_segmenter(), options=LOCKSTEP)
    events = list(stream)
    _, decodes, ends = reference_schedule(GAP, segmenter=tone_segmenter(), text_of=lambda a: "w1")
    assert [e.end_sample for e in ends] == [33600]
    # Lockstep: a speculation is its complete partial (fast); its final is decoded only when
    # the hang-over confirms it. The one at the pause (audio up to 24000) is discarded when
    # speech resumes; the last one (up to 33600) answers the final: one accurate decode.
    first, last = 24000 - (16000 - PRE_ROLL), 33600 - (16000 - PRE_ROLL)
    fast = [n for speed, n in engine.calls if speed == "fast"]
    assert [(speed, n) for speed, n in engine.calls if speed != "fast"] == [("accurate", last)]
    assert fast == [len(d.audio) for d in decodes]
    assert [(d.complete, len(d.audio)) for d in decodes if d.complete] == [(True, first), (True, last)]
    partials = [e for e in events if isinstance(e, Partial)]
    assert [(p.complete, p.audio_time) for p in partials] == [
        (d.complete, (16000 - PRE_ROLL + len(d.audio)) / SR) for d in decodes]
    (final,) = one_final_each(events)
    assert (final.text, final.segments[0].tokens[0].id) == (f"w{last}", last)
    assert (final.start, final.end) == (1.0, 2.1)
    stats = stream.stats
    assert (stats.speculations, stats.speculative_discarded, stats.speculative_used) == (2, 1, 1)
    assert (stats.partial_decodes, stats.final_decodes) == (len(decodes), 1)


class HoldsFirstSpeculation(StandIn):
    """Answers at once, except the first decode of ``hold`` samples: that one runs until aborted."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.calls: list[tuple[str, int]] = []
        self.holding = threading.Event()
        self.aborted = 0

    def transcribe_samples(self, audio, options, *, should_abort=None, on_segment=None,
                           on_candidate=None):
        speed = options.speed
        self.calls.append((speed, len(audio)))
        if len(audio) == self.hold and not self.holding.is_set():
            self.holding.set()
            deadline = time.monotonic() + 10
            while not should_abort():
                assert time.monotonic() < deadline, "the speculation was never aborted"
                time.sleep(0.002)
            self.aborted += 1
            raise TranscriptionAborted("speech resumed")
        return transcript(by_length(0, audio, speed))


def test_live_mode_aborts_a_running_speculation_when_speech_resumes():
    first, last = 24000 - (16000 - PRE_ROLL), 33600 - (16000 - PRE_ROLL)
    engine = HoldsFirstSpeculation(first)

    def source():
        for i, chunk in enumerate(chunks_of(GAP)):
            yield chunk
            if (i + 1) * CHUNK == 24640:       # the pause (its 2nd silent frame) was processed:
                assert engine.holding.wait(10)  # the speculation's decode is running; read on

    stream = Stream(engine, source=source(), segmenter=tone_segmenter(),
                    options=StreamOptions(final_speed="accurate"))
    events = list(stream)
    assert engine.aborted == 1
    (final,) = one_final_each(events)
    assert final.text == f"w{last}"
    complete = [e.audio_time for e in events if isinstance(e, Partial) and e.complete]
    assert complete == [2.1]                  # the aborted speculation emitted nothing
    assert [c for c in engine.calls if c[0] == "accurate"] == [("accurate", last)]
    stats = stream.stats
    assert (stats.speculations, stats.speculative_discarded, stats.speculative_used) == (2, 1, 1)


@pytest.mark.parametrize("text, policy, finals", [
    (" Open the door.", HangoverPolicy(sentence_end_ms=160), [(1.0, 1.5), (1.7, 2.2)]),  # 160 ms ends it
    (" Open the door.", "default", [(1.0, 2.2)]),    # the default 300 ms after a sentence end
    (" Open the door,", "default", [(1.0, 2.2)]),    # mid-sentence: 700 ms keeps it together
    (" Open the door", "default", [(1.0, 2.2)]),     # no evidence: the segmenter's 300 ms
    (" Open the door.", None, [(1.0, 2.2)]),         # no policy: the segmenter's 300 ms
])
def test_the_stream_adapts_the_hangover_to_the_partial_text(text, policy, finals):
    policy = HangoverPolicy() if policy == "default" else policy
    engine = ScriptedEngine(lambda i, a, s: [1], text_of=lambda i: text)
    events = list(Stream(engine, source=chunks_of(with_pause(0.2)), segmenter=tone_segmenter(),
                         options=StreamOptions(hangover=policy, lockstep=True, final_speed="accurate")))
    assert [(f.start, f.end) for f in one_final_each(events)] == finals


@pytest.mark.parametrize("bad", ["short", 160, True])
def test_hangover_must_be_a_policy_or_none(bad):
    with pytest.raises(ArgumentError, match="hangover must be a HangoverPolicy or None"):
        Stream(ScriptedEngine(), options=StreamOptions(hangover=bad))


def test_without_eager_the_hangover_stays_fixed_and_nothing_is_speculated():
    engine = ScriptedEngine(lambda i, a, s: [1], text_of=lambda i: " Open the door.")
    stream = Stream(engine, source=chunks_of(with_pause(0.2)), segmenter=tone_segmenter(),
                    options=StreamOptions(eager=False, lockstep=True, hangover=None, final_speed="accurate"))
    events = list(stream)
    assert [(f.start, f.end) for f in one_final_each(events)] == [(1.0, 2.2)]
    assert not any(e.complete for e in events if isinstance(e, Partial))
    assert [s for s, _ in engine.calls].count("accurate") == 1
    assert stream.stats.speculations == 0


# ---------------------------------------------------------------- a real (micro) model

@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """Two espeak phrases; speech pauses briefly inside each (stops, word gaps)."""
    from _stream_util import two_utterances
    tmp = tmp_path_factory.mktemp("speech")
    return two_utterances(tmp)


def key(events):
    return [(type(e).__name__, e.utterance_id, getattr(e, "text", None), getattr(e, "stable", None),
             getattr(e, "complete", None), getattr(e, "audio_time", getattr(e, "end", None)))
            for e in events]


def test_micro_model_lockstep_speculations_and_one_final_per_utterance(micro_engine, speech):
    stream = Stream(micro_engine, source=chunks_of(speech), options=LOCKSTEP)
    events = list(stream)
    _, decodes, ends = reference_schedule(speech, engine=micro_engine)
    finals = one_final_each(events)
    # Each Final is the accurate decode of exactly its SpeechEnd's audio (up to where speech stopped).
    assert [(f.utterance_id, f.text) for f in finals] == [
        (e.utterance_id, micro_engine.transcribe(e.audio).text) for e in ends]
    speculations = sum(d.complete for d in decodes)
    stats = stream.stats
    assert speculations > 2                   # speech paused inside the phrases too
    assert (stats.speculations, stats.speculative_used, stats.speculative_discarded) == (
        speculations, 2, speculations - 2)
    # The complete partials: LocalAgreement (as streams run it) over the fast decodes, each of the audio up to a pause.
    agreements = collections.defaultdict(LocalAgreement)
    texts = [(d.complete, agreements[d.utterance_id].update(
        [t for s in micro_engine.transcribe(d.audio, speed="fast", beam_size=1).segments for t in s.tokens])[0])
        for d in decodes]
    assert [(p.complete, p.text) for p in events if isinstance(p, Partial)] == texts
    assert any(tokens_text(micro_engine, d.audio) for d in decodes if d.complete)
    # The same audio gives the same events twice: partials, complete partials and finals.
    assert key(list(Stream(micro_engine, source=chunks_of(speech), options=LOCKSTEP))) == key(events)


def test_micro_model_live_mode_gives_one_final_per_utterance(micro_engine, speech, tmp_path):
    stream = Stream(micro_engine, source=FileSource(write_wav(tmp_path / "s.wav", speech), realtime=False),
                    options=StreamOptions(final_speed="accurate"))
    events = list(stream)
    from lumina import load_audio
    _, _, ends = reference_schedule(load_audio(tmp_path / "s.wav", SR))
    assert [(f.utterance_id, f.text) for f in one_final_each(events)] == [
        (e.utterance_id, micro_engine.transcribe(e.audio).text) for e in ends]
    # Live: the speculations at the pauses inside the phrases were discarded (aborted, skipped
    # or dropped), whatever the timing; the last of each utterance answered its final.
    _, decodes, _ = reference_schedule(speech)
    stats = stream.stats
    speculations = sum(d.complete for d in decodes)
    assert (stats.speculations, stats.speculative_used, stats.speculative_discarded) == (
        speculations, 2, speculations - 2)


def test_eager_must_be_a_bool():
    from lumina import ArgumentError
    with pytest.raises(ArgumentError, match="eager must be True or False, got 'yes'"):
        Stream(ScriptedEngine(), options=StreamOptions(eager="yes"))
