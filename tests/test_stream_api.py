"""Stream's contract: segment times on the stream clock, async exit off the loop, refused
keyword combinations, feed() through the audio gateway at any rate, and the push source."""

import asyncio
import threading

import numpy as np
import pytest

from lumina import StreamModels
from lumina import ArgumentError, Final, LuminaError, Segmenter, StateError, Stream
from lumina.asr.transcript import Segment, Timings, Transcript
from lumina.audio.convert import ChunkConverter
from lumina.audio.push import PushSource
from lumina.errors import AudioFormatError, StateError
from _stream_util import (LOCKSTEP, ScriptedEngine, StandIn, chunks_of, reference_schedule, transcript,
                          two_utterances)
from _vad_util import SR


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return two_utterances(tmp_path_factory.mktemp("speech"))


class SpanEngine(StandIn):
    """Answers one segment from 0.2 s (the segmenter's pre-roll) to the end of the audio it got."""

    def __init__(self):
        self.finals = []

    def transcribe_samples(self, audio, options, *, should_abort=None, on_segment=None,
                           on_candidate=None):
        if options.speed == "accurate":
            self.finals.append(np.array(audio))
        seg = Segment(0.2, len(audio) / SR, "x", ())
        return Transcript("x", (seg,), "en", "cpu", Timings())


@pytest.mark.speech
def test_final_segment_times_are_stream_time(speech):
    events = list(Stream(SpanEngine(), source=chunks_of(speech), options=LOCKSTEP))
    finals = [e for e in events if isinstance(e, Final)]
    _, _, ends = reference_schedule(speech)
    assert [(f.start, f.end) for f in finals] == [(e.start_sample / SR, e.end_sample / SR) for e in ends]
    assert all(e.start_sample - e.audio_start_sample == 3200 for e in ends)  # a full 200 ms pre-roll
    # The decoder saw the utterance from its pre-roll: 0.2 s into that audio is the speech start.
    for f in finals:
        (seg,) = f.segments
        assert seg.start == pytest.approx(f.start, abs=1e-9)
        assert seg.end == pytest.approx(f.end, abs=1e-9)


@pytest.mark.speech
def test_async_with_stops_off_the_event_loop(speech):
    release = threading.Event()
    released_by_loop = []

    class Stubborn(StandIn):
        """A decode that ignores should_abort until the event loop runs again."""

        entered = threading.Event()

        def transcribe_samples(self, audio, options, **hooks):
            self.entered.set()
            released_by_loop.append(release.wait(5.0))
            return transcript([])

    async def main():
        async with Stream(Stubborn()) as stream:
            stream.feed(speech)               # speech: a partial decode starts and holds on
            await asyncio.to_thread(Stubborn.entered.wait, 10.0)
            # Runs only if the loop is free while __aexit__ waits for the threads.
            asyncio.get_running_loop().call_soon(release.set)
        return stream

    stream = asyncio.run(main())
    # The first decode was let go by the loop, not by its own 5 s limit (a second one, the
    # other utterance's final, may have started before the stop flag was set).
    assert released_by_loop[0] is True and all(released_by_loop)
    assert [t.name for t in threading.enumerate() if t.name.startswith("lumina-")] == []
    stream.join(timeout=0)                    # ended when __aexit__ returned


@pytest.mark.parametrize(("model", "message"), [
    (5, "Stream's model must be a model name, a model file's path, a lumina.SpeechEngine"),
    (object(), "Stream's model must be"),                  # no transcribe_samples: not an engine
    (("tiny.en", "base.en"), "Stream's model must be .* or, for Stream's model, lumina.StreamModels"),
])
def test_a_model_that_is_no_model_is_refused(model, message):
    with pytest.raises(ArgumentError, match=message) as info:
        Stream(model)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    with pytest.raises(ArgumentError, match="StreamModels.final must be a model name"):
        StreamModels(partial="tiny.en", final=model)
    assert not [t for t in threading.enumerate() if t.name.startswith("lumina-")]


def test_one_name_for_both_paths_loads_one_engine_and_the_stream_closes_only_what_it_made(tmp_path):
    ready = ScriptedEngine()
    both = Stream(StreamModels(partial=tmp_path / "m.bin", final=tmp_path / "m.bin"))
    mixed = Stream(StreamModels(partial=ready, final=tmp_path / "m.bin"))
    try:
        assert both._partial_engine is both._final_engine and len(both._owned) == 1
        assert mixed._partial_engine is ready and mixed._owned == [mixed._final_engine]
    finally:
        both.stop()
        mixed.stop()
    with pytest.raises(StateError, match="the engine is closed"):   # made by the stream: closed
        both._final_engine.wait_ready()


def test_the_segmenter_passed_is_never_fed_or_changed():
    mine = Segmenter(hangover_ms=500)
    stream = Stream(ScriptedEngine(), segmenter=mine, options=LOCKSTEP)
    stream.feed(np.concatenate([np.zeros(SR, np.float32), 0.3 * np.ones(SR, np.float32)]))
    stream.close_input()
    list(stream)
    assert stream._scheduler.segmenter is not mine and stream._scheduler.segmenter.hangover_ms == 500
    assert (mine.samples_fed, mine.in_speech, mine.report_pauses) == (0, False, False)


@pytest.mark.speech
def test_engines_per_path_and_models_per_path_are_accepted(speech):
    fast, accurate = ScriptedEngine(lambda i, a, s: [1]), ScriptedEngine(lambda i, a, s: [2])
    events = list(Stream(StreamModels(partial=fast, final=accurate), source=chunks_of(speech),
                         options=LOCKSTEP))
    assert {s for s, _ in fast.calls} == {"fast"} and {s for s, _ in accurate.calls} == {"accurate"}
    assert [e.text for e in events if isinstance(e, Final)] == ["w2", "w2"]


def finals_of(stream_feeder, speech):
    engine = SpanEngine()
    stream = Stream(engine, options=LOCKSTEP)
    stream_feeder(stream)
    stream.close_input()
    events = list(stream)
    return [(f.utterance_id, f.start, f.end) for f in events if isinstance(f, Final)], engine.finals


@pytest.mark.speech
def test_feed_takes_int16_multichannel_chunks_through_the_gateway(speech):
    pcm = np.round(speech * 32767).astype(np.int16)
    stereo = np.stack([pcm, pcm], axis=1)            # [frames, channels], equal channels
    got, audio = finals_of(lambda s: [s.feed(c) for c in chunks_of(stereo, 509)], speech)
    want, want_audio = finals_of(lambda s: [s.feed(c) for c in chunks_of(pcm.astype(np.float32) / 32768, 509)],
                                 speech)
    assert got == want and len(got) == 2
    assert all(np.array_equal(a, b) for a, b in zip(audio, want_audio))


@pytest.mark.speech
def test_feed_resamples_other_rates_as_one_stream(speech):
    import soxr
    at_48k = soxr.resample(speech, SR, 48000).astype(np.float32)
    chunks = chunks_of(at_48k, 960 + 7)
    convert = ChunkConverter(48000)
    expected = np.concatenate([convert(c) for c in chunks] + [convert.flush()])
    got, audio = finals_of(lambda s: [s.feed(c, sample_rate=48000) for c in chunks], speech)
    want, want_audio = finals_of(lambda s: s.feed(expected), speech)
    assert got == want and len(got) == 2
    assert all(np.array_equal(a, b) for a, b in zip(audio, want_audio))


def test_push_source_reads_what_was_written_and_ends():
    source = PushSource(1.0)
    source.write(np.arange(10, dtype=np.int16))
    source.write(np.full((3, 2), 0.5, np.float32))
    source.end()
    chunks = list(source)
    assert len(chunks) == 1
    assert np.array_equal(chunks[0], np.concatenate([np.arange(10) / 32768, [0.5] * 3]).astype(np.float32))
    with pytest.raises(StateError, match="after the input was closed"):
        source.write(np.zeros(4, np.float32))


def test_push_source_reusing_its_buffer_and_dropping_at_the_ring():
    source = PushSource(0.01, reuse_chunks=True)     # 160 samples
    source.write(np.ones(100, np.float32))
    first = next(source)
    assert np.array_equal(first, np.ones(100, np.float32))
    source.write(np.arange(300, dtype=np.float32) / 1000)   # 140 of these are lost
    second = next(source)
    assert np.shares_memory(first, second)                   # one buffer, allocated once
    assert np.array_equal(second, np.arange(140, 300, dtype=np.float32) / 1000)
    assert source.dropped == 140
    source.stop()
    assert list(source) == []


def test_push_source_refuses_bad_input_and_keeps_going():
    source = PushSource(1.0, what="feed()")
    source.write(np.ones(5, np.float32))
    with pytest.raises(AudioFormatError, match=r"sample 0 .* is nan; feed\(\) must hold finite samples"):
        source.write(np.array([np.nan], np.float32))
    with pytest.raises(AudioFormatError, match="sample_rate must be an integer"):
        source.write(np.ones(5, np.float32), sample_rate=44100.5)
    with pytest.raises(ValueError, match="seconds must be > 0"):
        PushSource(0)
    source.end()
    assert [len(c) for c in source] == [5]


def test_push_source_wakes_a_waiting_reader():
    source = PushSource(1.0)
    got = []
    reader = threading.Thread(target=lambda: got.extend(source))
    reader.start()
    for _ in range(20):
        source.write(np.ones(16, np.float32))
    source.end()
    reader.join(10)
    assert not reader.is_alive()
    assert sum(len(c) for c in got) == 320


@pytest.mark.speech
def test_partial_audio_comes_from_one_pooled_block_returned_after_each_decode(speech):
    seen = []

    class Recording(ScriptedEngine):
        def transcribe_samples(self, audio, options, **hooks):
            if options.speed == "fast":
                seen.append(np.array(audio))
            return super().transcribe_samples(audio, options, **hooks)

    stream = Stream(Recording(), source=chunks_of(speech), options=LOCKSTEP)
    list(stream)
    _, partials, _ = reference_schedule(speech)
    assert len(seen) == len(partials) > 10
    assert all(np.array_equal(a, d.audio) for a, d in zip(seen, partials))
    assert any(d.complete for d in partials)          # speculations' audio comes from the pool too
    pool = stream._pipeline._blocks._pool
    assert (pool.allocated, pool.in_use) == (1, 0)   # every decode (lockstep) reused the same block
