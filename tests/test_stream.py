"""Stream pipeline: order of events, partial schedule and texts, stable prefixes, finals, silence."""

import collections
import threading

import numpy as np
import pytest

from lumina import StreamModels, StreamOptions
from lumina import (Engine, FileSource, load_audio, Final, LuminaError, Partial, Segmenter,
                    SpeechStarted, SpeechStopped, Stream)
from lumina.streaming import SpeechEnd
from lumina.streaming.agreement import LocalAgreement
from lumina.testing import make_model
from _stream_util import (LOCKSTEP, MICRO_SEED, CountingEngine, ScriptedEngine, chunks_of,
                          reference_schedule,
                          two_utterances)
from _vad_util import SR, write_wav
from lumina.evaluation.utterances import pink_noise, silence, white_noise


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("speech")
    return write_wav(tmp / "two.wav", two_utterances(tmp))


@pytest.fixture(scope="module")
def speech(speech_wav):
    """The samples FileSource reads from speech_wav (16-bit quantised)."""
    return load_audio(speech_wav, SR)


def agreed(engine, decodes):
    """(text, stable, unstable) of each reference window: its fast decode through LocalAgreement, as streams run it."""
    policies = collections.defaultdict(LocalAgreement)
    return [policies[d.utterance_id].update(
        [t for s in engine.transcribe(d.audio, speed="fast", beam_size=1).segments for t in s.tokens])
        for d in decodes]


def reference(engine, audio, **options):
    """The reference schedule with the engine's partial texts fed back (the adaptive hang-over)."""
    return reference_schedule(audio, engine=engine, **options)


def run_lockstep(engine, wav, **options):
    stream = Stream(engine, source=FileSource(wav, realtime=False),
                    options=StreamOptions(**({"lockstep": True, "final_speed": "accurate"} | options)))
    return list(stream)


@pytest.mark.speech
def test_file_stream_matches_the_reference_schedule_exactly(micro_engine, speech, speech_wav):
    events = run_lockstep(micro_engine, speech_wav)
    _, partials_ref, ends = reference(micro_engine, speech)
    assert len(ends) == 2
    partials = [e for e in events if isinstance(e, Partial)]
    finals = [e for e in events if isinstance(e, Final)]
    # One partial per step, each the fast decode of the utterance so far, and one complete
    # partial (up to where speech stopped) at every pause.
    assert [(p.utterance_id, p.complete) for p in partials] == [(d.utterance_id, d.complete)
                                                                 for d in partials_ref]
    assert [(p.text, p.stable, p.unstable) for p in partials] == agreed(micro_engine, partials_ref)
    assert [p.audio_time for p in partials] == [
        (d.audio.size + e.audio_start_sample) / SR for d in partials_ref
        for e in ends if e.utterance_id == d.utterance_id]
    # The last partial of each utterance is the complete one of its final pause.
    last = {p.utterance_id: p for p in partials}
    assert [last[e.utterance_id].complete for e in ends] == [True, True]
    assert [last[e.utterance_id].audio_time for e in ends] == [e.end_sample / SR for e in ends]
    # One final per utterance, the accurate decode of exactly the segmenter's utterance audio.
    assert [(f.utterance_id, f.start, f.end) for f in finals] == [
        (e.utterance_id, e.start_sample / SR, e.end_sample / SR) for e in ends]
    assert [f.text for f in finals] == [micro_engine.transcribe(e.audio).text for e in ends]
    assert all(not f.from_cache and f.segments for f in finals)
    # Each utterance is announced when the VAD confirms it and when it ends, just before its final.
    started = [e for e in events if isinstance(e, SpeechStarted)]
    stopped = [e for e in events if isinstance(e, SpeechStopped)]
    assert started == [SpeechStarted(e.utterance_id, e.start_sample / SR, e.audio_start_sample / SR)
                       for e in ends]
    assert stopped == [SpeechStopped(e.utterance_id, e.start_sample / SR, e.end_sample / SR, False)
                       for e in ends]
    for e in ends:
        kinds = [type(x) for x in events if x.utterance_id == e.utterance_id]
        assert kinds[0] is SpeechStarted and kinds[-2:] == [SpeechStopped, Final]
    assert len(events) == len(started) + len(partials) + len(stopped) + len(finals)


@pytest.mark.speech
def test_events_arrive_in_order_and_every_utterance_gets_one_final(micro_engine, speech_wav):
    events = run_lockstep(micro_engine, speech_wav)
    seen_final = set()
    order = []
    for e in events:
        assert e.utterance_id not in seen_final  # nothing of an utterance after its final
        if not order or order[-1] != e.utterance_id:
            order.append(e.utterance_id)
        if isinstance(e, Final):
            seen_final.add(e.utterance_id)
    assert order == [0, 1]
    assert seen_final == {0, 1}
    assert [type(e) for e in events].count(Final) == 2
    partials = [e for e in events if isinstance(e, Partial)]
    times = [e.audio_time for e in partials if not e.complete]
    assert times == sorted(times)
    # A complete partial ends where speech stopped, which the VAD decides one 20 ms frame late:
    # a partial due in that frame (every 100 ms until an utterance shows text) ends just after it.
    for before, complete in zip(partials, partials[1:]):
        if complete.complete:
            assert complete.audio_time >= before.audio_time - 0.02 - 1e-9


@pytest.mark.speech
def test_micro_hypotheses_never_agree_long_enough_to_become_stable(micro_engine, speech_wav):
    partials = [e for e in run_lockstep(micro_engine, speech_wav) if isinstance(e, Partial)]
    assert all(p.text == p.stable + p.unstable for p in partials)
    # The seed's hypotheses never agree three times running on a word that another word follows
    # (how stable prefixes grow, and never change, is the next test's).
    assert {p.utterance_id for p in partials} == {0, 1} and all(p.stable == "" for p in partials)


@pytest.mark.speech
def test_stable_prefixes_grow_by_the_words_three_hypotheses_share(speech):
    """Fast decode k reads words 1..k+1 and a last word of its own: from the third on, the
    words the last three share, less the last (a word follows it in each), are stable; each
    partial's stable prefix therefore extends the one before and never changes."""
    fast_calls = []

    def script(i, audio, speed):
        if speed != "fast":
            return [1, 2]
        fast_calls.append(i)
        k = len(fast_calls) - 1
        return list(range(1, k + 2)) + [100 + k]

    one = speech[:round(2.2 * SR)]  # only the first utterance
    events = list(Stream(ScriptedEngine(script), source=chunks_of(one), options=LOCKSTEP))
    partials = [e for e in events if isinstance(e, Partial)]
    assert len(partials) == len(fast_calls) >= 5
    for k, p in enumerate(partials):
        assert p.stable == " ".join(f"w{n}" for n in range(1, k)) and p.text == p.stable + p.unstable


@pytest.mark.speech
def test_stream_is_deterministic_in_lockstep(micro_engine, speech_wav):
    def key(events):
        return [(type(e).__name__, e.utterance_id, getattr(e, "text", None)) for e in events]
    assert key(run_lockstep(micro_engine, speech_wav)) == key(run_lockstep(micro_engine, speech_wav))


@pytest.mark.parametrize("quiet", [silence(8.0), pink_noise(8.0, -30.0, seed=3),
                                   white_noise(8.0, -30.0, seed=4)], ids=["silence", "pink", "white"])
def test_silence_and_steady_noise_give_no_events_and_never_run_the_model(micro_engine, tmp_path, quiet):
    counting = CountingEngine(micro_engine)
    stream = Stream(counting, source=FileSource(write_wav(tmp_path / "q.wav", quiet),
                                                       realtime=False), options=LOCKSTEP)
    assert list(stream) == []
    assert counting.calls == 0
    assert stream.stats.audio_s == pytest.approx(8.0)


@pytest.mark.speech
def test_iterable_source_and_push_feed_give_the_file_stream_events(micro_engine, speech, speech_wav):
    def key(events):
        return [(type(e), e.utterance_id, getattr(e, "text", None)) for e in events]

    expected = key(run_lockstep(micro_engine, speech_wav))
    from_iterable = list(Stream(micro_engine, source=chunks_of(speech), options=LOCKSTEP))
    assert key(from_iterable) == expected

    stream = Stream(micro_engine, options=LOCKSTEP)
    # Pushed from another thread in 20 ms chunks; the pipeline may read several at once,
    # so only the finals (not the partial schedule) are comparable.
    pusher = threading.Thread(target=lambda: ([stream.feed(c) for c in chunks_of(speech)],
                                              stream.close_input()))
    pusher.start()
    got = list(stream)
    pusher.join()
    assert [(type(e), e.utterance_id, e.text) for e in got if isinstance(e, Final)] == [
        x for x in expected if x[0] is Final]


@pytest.mark.speech
def test_progressive_refinement_uses_each_model_for_its_path(tmp_path, speech, speech_wav):
    fast_path = make_model(tmp_path / "p.bin", "micro", seed=3)
    final_path = make_model(tmp_path / "f.bin", "micro", seed=MICRO_SEED)
    stream = Stream(StreamModels(partial=fast_path, final=final_path),
                    source=FileSource(speech_wav, realtime=False),
                    options=LOCKSTEP)
    events = list(stream)
    with Engine(fast_path, threads=1) as fast, Engine(final_path, threads=1) as accurate:
        _, partials_ref, ends = reference(fast, speech)
        assert [(e.text, e.stable, e.unstable) for e in events if isinstance(e, Partial)] == agreed(
            fast, partials_ref)
        assert [e.text for e in events if isinstance(e, Final)] == [
            accurate.transcribe(e.audio).text for e in ends]
    # The stream created both engines and closed them when it ended.
    for engine in (stream._partial_engine, stream._final_engine):
        with pytest.raises(LuminaError, match="the engine is closed"):
            engine.transcribe(speech[:SR])


@pytest.mark.speech
def test_final_speed_fast_decodes_finals_in_fast_mode(micro_engine, speech, speech_wav):
    events = run_lockstep(micro_engine, speech_wav, final_speed="fast")
    _, _, ends = reference(micro_engine, speech)
    assert [e.text for e in events if isinstance(e, Final)] == [
        micro_engine.transcribe(e.audio, speed="fast").text for e in ends]


@pytest.mark.speech
def test_one_model_serves_partials_fast_and_finals_accurate(speech):
    engine = ScriptedEngine(lambda i, audio, speed: [1, 2])
    stream = Stream(engine, source=chunks_of(speech), options=LOCKSTEP)
    list(stream)
    speeds = [s for s, _ in engine.calls]
    _, partials_ref, ends = reference_schedule(speech, text_of=lambda audio: "w1 w2")
    speculations = sum(d.complete for d in partials_ref)
    # Lockstep: each speculation decodes its fast complete partial; the accurate final of the
    # last one of each utterance is decoded when the hang-over confirms it.
    assert speeds.count("fast") == len(partials_ref)
    assert speeds.count("accurate") == 2
    assert (stream.stats.speculations, stream.stats.speculative_used,
            stream.stats.speculative_discarded) == (speculations, 2, speculations - 2)
    assert (stream.stats.partial_decodes, stream.stats.final_decodes) == (len(partials_ref), 2)


@pytest.mark.speech
def test_local_agreement_in_the_pipeline(speech):
    hypotheses = [[5, 6, 7], [5, 6, 7, 11], [5, 6, 7, 12], [5, 8, 9], [5, 8, 9, 10]]
    fast_calls = []

    def script(i, audio, speed):
        if speed != "fast":
            return [5, 8, 9, 10]
        fast_calls.append(i)
        return hypotheses[min(len(fast_calls) - 1, 4)]

    engine = ScriptedEngine(script)
    one = speech[:round(2.2 * SR)]  # only the first utterance
    events = list(Stream(engine, source=chunks_of(one), options=LOCKSTEP))
    partials = [(e.stable, e.unstable) for e in events if isinstance(e, Partial)]
    # Three agreed on "w5 w6 w7", of which "w5 w6" are words all three go on after; "w8" then
    # replaces "w6" (the tail follows the stable words, lined up by word), "w9 w10" come after them.
    assert partials[:5] == [("", "w5 w6 w7"), ("", "w5 w6 w7 w11"), ("w5 w6", " w7 w12"), ("w5 w6", " w9"),
                            ("w5 w6", " w9 w10")]
    final = events[-1]
    assert isinstance(final, Final) and final.text == "w5 w8 w9 w10"


@pytest.mark.speech
def test_utterance_with_no_words_still_gets_one_empty_final(speech):
    # The VAD passed the audio (it is speech); the model found no words: Final(text="").
    engine = ScriptedEngine(lambda i, audio, speed: [])
    events = list(Stream(engine, source=chunks_of(speech), options=LOCKSTEP))
    finals = [e for e in events if isinstance(e, Final)]
    assert [(f.utterance_id, f.text, f.segments) for f in finals] == [(0, "", ()), (1, "", ())]
    assert all(p.text == "" and p.stable == "" for p in events if isinstance(p, Partial))


@pytest.mark.speech
def test_the_origin_of_the_engine_s_answer_is_passed_through(speech):
    engine = ScriptedEngine(lambda i, audio, speed: [3], origin="cache-exact")
    events = list(Stream(engine, source=chunks_of(speech), options=LOCKSTEP))
    finals = [f for f in events if isinstance(f, Final)]
    assert [(f.origin, f.from_cache) for f in finals] == [("cache-exact", True)] * 2


def test_max_utterance_split_gives_each_part_its_final(micro_engine):
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(5 * SR) / SR)).astype(np.float32)
    audio = np.concatenate([silence(0.5), tone, silence(1.0)])
    engine = ScriptedEngine(lambda i, a, speed: [len(a)])
    seg = Segmenter(vad="energy", max_utterance_s=2.0, threshold_db=-30.0)  # a steady tone stays speech
    events = list(Stream(engine, source=chunks_of(audio), segmenter=seg, options=LOCKSTEP))
    finals = [e for e in events if isinstance(e, Final)]
    assert [f.utterance_id for f in finals] == [0, 1, 2]
    ref = Segmenter(vad="energy", max_utterance_s=2.0, threshold_db=-30.0)
    ends = [e for c in chunks_of(audio) for e in ref.feed(c) if isinstance(e, SpeechEnd)]
    ends += [e for e in ref.flush() if isinstance(e, SpeechEnd)]
    assert [(f.start, f.end) for f in finals] == [(e.start_sample / SR, e.end_sample / SR) for e in ends]
    assert all(f.end - f.start <= 2.0 for f in finals)
    # The final of each part decoded exactly that part's audio (the script answers its length).
    assert [f.segments[0].tokens[0].id for f in finals] == [len(e.audio) for e in ends]
    assert finals[1].start == finals[0].end and finals[2].start == finals[1].end


@pytest.mark.speech
def test_callbacks_receive_the_events_in_order(micro_engine, speech_wav):
    expected = run_lockstep(micro_engine, speech_wav)
    partials, finals, every = [], [], []
    stream = Stream(micro_engine, source=FileSource(speech_wav, realtime=False), options=LOCKSTEP,
                    on_partial=partials.append, on_final=finals.append, on_event=every.append)
    stream.start()
    stream.join(timeout=60)
    key = lambda es: [(type(e), e.utterance_id, getattr(e, "text", None)) for e in es]  # noqa: E731
    assert key(every) == key(expected)
    assert key(partials) == key(e for e in expected if isinstance(e, Partial))
    assert key(finals) == key(e for e in expected if isinstance(e, Final))
    threads = {t.name for t in threading.enumerate()}
    assert "lumina-stream" not in threads and "lumina-decode" not in threads


@pytest.mark.speech
def test_latency_fields_are_measured_from_arrival(micro_engine, speech_wav):
    for e in run_lockstep(micro_engine, speech_wav):
        if isinstance(e, (Partial, Final)):
            assert e.latency >= 0.0
    # audio_time is where the partial's window ends: a whole number of 20 ms chunks.
    times = [e.audio_time for e in run_lockstep(micro_engine, speech_wav) if isinstance(e, Partial)]
    assert all(round(t * SR) % 320 == 0 for t in times)


@pytest.mark.speech
def test_a_live_stream_keeps_the_decode_time_of_each_utterance_for_its_budget(speech):
    """The decoder adds up each utterance's decode seconds (what live mode's decode budget reads);
    with one utterance that is every decode the stream made."""
    one = speech[:round(2.2 * SR)]  # only the first utterance
    stream = Stream(ScriptedEngine(lambda i, audio, speed: [1]), source=chunks_of(one))
    assert stream._scheduler.decode_budget == StreamOptions().decode_budget == 0.15
    finals = [e for e in stream if isinstance(e, Final)]
    assert [f.utterance_id for f in finals] == [0]
    assert stream._decoder.decoded == (0, stream.stats.decode_s)
