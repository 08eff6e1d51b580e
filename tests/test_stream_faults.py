"""Stream faults and shutdown: drops at the ring, device loss and reconnection, stop(), asyncio, errors."""

import asyncio
import threading

import numpy as np
import pytest

from lumina import StreamOptions
from lumina import (AudioFormatError, DeviceError, DeviceLost, Dropped, FileSource, Final, LuminaError,
                    ModelNotFoundError, Partial, SpeechStarted, SpeechStopped, Stream)
from lumina.errors import StateError
from lumina.audio.sources import AudioSource
from _stream_util import LOCKSTEP, ScriptedEngine, chunks_of, reference_schedule, two_utterances
from _server_util import until
from _vad_util import SR, write_wav
from lumina.evaluation.utterances import silence


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return two_utterances(tmp_path_factory.mktemp("speech"))


@pytest.fixture()
def no_new_threads():
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) == before


def wait_until(condition, what):
    for _ in range(2000):
        if condition():
            return
        threading.Event().wait(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.speech
def test_a_pipeline_behind_a_push_source_drops_at_the_ring_and_reports_it(speech, no_new_threads):
    gate = threading.Event()
    engine = ScriptedEngine(lambda i, a, s: [1], gate=gate)
    stream = Stream(engine, options=StreamOptions(lockstep=True, ring_seconds=1.0))
    start = round(0.5 * SR)
    stream.feed(speech[:start + SR // 2])     # 0.5 s of speech: a partial decode starts and hangs
    wait_until(engine.entered.is_set, "the first decode")
    # Lockstep waits for each partial decode it submits: the pipeline stops after that chunk.
    wait_until(lambda: stream.stats.audio_s == 1.0, "the pipeline to read 1.0 s")
    stream.feed(speech[start + SR // 2:start + SR])
    stream.feed(np.zeros(3 * SR, np.float32))  # 3.5 s into a 1 s ring: the oldest 2.5 s are lost
    gate.set()
    stream.close_input()
    events = list(stream)
    drops = [e for e in events if isinstance(e, Dropped)]
    assert drops == [Dropped(5 * SR // 2, 5 * SR // 2, 1.0)]
    assert stream.stats.dropped_samples == 5 * SR // 2
    assert stream.stats.audio_s == 2.0        # 1.0 s read before, the ring's last 1 s after
    assert [type(e) for e in events].count(Final) == 1


class FlakyMic(AudioSource):
    """Yields its chunks, then raises DeviceError (an unplugged microphone), or ends."""

    device_name = "Flaky USB mic"

    def __init__(self, chunks, fail_with=None):
        super().__init__()
        self._chunks = list(chunks)
        self._fail_with = fail_with

    def _next_chunk(self):
        if self._chunks:
            return self._chunks.pop(0)
        if self._fail_with:
            raise DeviceError(self._fail_with)
        return None


@pytest.mark.speech
def test_device_loss_reports_and_reconnects_with_backoff_keeping_the_audio(speech):
    cut = round(1.0 * SR)                     # inside the first utterance
    opened = []

    def factory():
        opened.append(len(opened))
        if len(opened) == 1:
            return FlakyMic(chunks_of(speech[:cut]), fail_with="device unplugged")
        if len(opened) == 2:
            raise DeviceError("no such device")
        return FlakyMic(chunks_of(speech[cut:]))

    engine = ScriptedEngine(lambda i, a, s: [len(a)])
    events = list(Stream(engine, source=factory, options=LOCKSTEP))
    lost = [e for e in events if isinstance(e, DeviceLost)]
    assert lost == [DeviceLost("Flaky USB mic", "device unplugged", 0, 0.1),
                    DeviceLost("microphone", "no such device", 1, 0.2)]
    assert len(opened) == 3
    finals = [e for e in events if isinstance(e, Final)]
    # The utterance cut by the loss is one utterance: the audio before the loss was kept.
    plain = list(Stream(ScriptedEngine(lambda i, a, s: [len(a)]), source=chunks_of(speech), options=LOCKSTEP))
    assert [(f.utterance_id, f.start, f.end, f.text) for f in finals] == [
        (f.utterance_id, f.start, f.end, f.text) for f in plain if isinstance(f, Final)]


@pytest.mark.speech
def test_a_source_that_cannot_reopen_ends_the_stream_after_reporting(speech):
    mic = FlakyMic(chunks_of(speech[:round(1.2 * SR)]), fail_with="gone")
    events = list(Stream(ScriptedEngine(lambda i, a, s: [7]), source=mic, options=LOCKSTEP))
    assert isinstance(events[-1], Final)                # the open utterance still gets its final
    assert [e for e in events if isinstance(e, DeviceLost)] == [DeviceLost("Flaky USB mic", "gone", 0, None)]
    assert mic.stopped


@pytest.mark.speech
def test_stop_from_another_thread_aborts_the_decode_and_leaves_no_thread(speech, tmp_path, no_new_threads):
    wav = write_wav(tmp_path / "long.wav", np.concatenate([speech] * 20))
    gate = threading.Event()                   # never set: decodes hang until aborted
    engine = ScriptedEngine(gate=gate)
    stream = Stream(engine, source=FileSource(wav, realtime=True), options=StreamOptions(final_speed="accurate"))
    got = []
    consumer = threading.Thread(target=lambda: got.extend(stream))
    consumer.start()
    wait_until(engine.entered.is_set, "a decode to start")
    stopper = threading.Thread(target=stream.stop)
    stopper.start()
    stopper.join()
    consumer.join()
    assert engine.aborted == 1
    assert got == [SpeechStarted(0, 0.5, 0.3)]   # the speech was found; nothing was decoded
    assert list(stream) == []                 # a stopped stream's iteration ends at once


@pytest.mark.speech
def test_stop_from_inside_a_callback(speech, no_new_threads):
    seen = []

    def on_partial(event):
        seen.append(event)
        stream.stop()

    stream = Stream(ScriptedEngine(lambda i, a, s: [1]), source=chunks_of(speech), on_partial=on_partial)
    stream.start()
    stream.join(timeout=30)
    assert len(seen) == 1 and isinstance(seen[0], Partial)


def test_stop_before_start_and_twice():
    stream = Stream(ScriptedEngine())
    stream.stop()
    stream.stop()
    with pytest.raises(LuminaError, match="this stream was stopped"):
        iter(stream)


@pytest.mark.speech
def test_async_for_gets_the_same_events_and_shuts_down(speech, no_new_threads):
    expected = list(Stream(ScriptedEngine(lambda i, a, s: [i % 3]), source=chunks_of(speech),
                           options=LOCKSTEP))

    async def consume():
        events = []
        async with Stream(ScriptedEngine(lambda i, a, s: [i % 3]), source=chunks_of(speech),
                          options=LOCKSTEP) as stream:
            async for event in stream:
                events.append(event)
        return events

    got = asyncio.run(consume())
    key = lambda es: [(type(e), e.utterance_id, getattr(e, "text", None)) for e in es]  # noqa: E731
    assert key(got) == key(expected)


@pytest.mark.speech
def test_cancelling_an_async_consumer_then_stopping(tmp_path, speech, no_new_threads):
    wav = write_wav(tmp_path / "long.wav", np.concatenate([silence(30.0)]))

    async def main():
        stream = Stream(ScriptedEngine(), source=FileSource(wav, realtime=True))

        async def consume():
            return [e async for e in stream]

        task = asyncio.create_task(consume())
        await until(lambda: stream.stats.audio_s > 0)   # iterating: the stream runs, nothing to say
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        stream.stop()
        return [e async for e in stream]     # ended: the iteration finishes at once

    assert asyncio.run(main()) == []


@pytest.mark.speech
def test_model_that_cannot_load_ends_a_live_stream_and_is_raised(tmp_path, speech, no_new_threads):
    source = FileSource(write_wav(tmp_path / "long.wav", np.concatenate([speech] * 8)), realtime=True)
    stream = Stream(tmp_path / "missing.bin", source=source)
    with pytest.raises(ModelNotFoundError, match="missing.bin"):
        list(stream)
    with pytest.raises(ModelNotFoundError):
        stream.join(timeout=10)
    assert source.stopped
    assert stream.stats.audio_s < 8 * len(speech) / SR  # the failure stopped the playback early


@pytest.mark.speech
def test_misuse_raises_clear_errors(speech, tmp_path):
    pull = Stream(ScriptedEngine(), source=chunks_of(speech))
    with pytest.raises(LuminaError, match=r"feed\(\) needs a stream made with source=None"):
        pull.feed(speech)
    with pytest.raises(LuminaError, match=r"close_input\(\) applies only to a stream made with source=None"):
        pull.close_input()
    with pytest.raises(LuminaError, match="delivers its events to callbacks"):
        iter(Stream(ScriptedEngine(), on_final=print))
    push = Stream(ScriptedEngine())
    with pytest.raises(AudioFormatError, match=r"sample 1 \(frame 1, channel 0\) is nan; Stream.feed\(\)"):
        push.feed(np.array([0.0, np.nan], np.float32))
    with pytest.raises(AudioFormatError, match=r"Stream.feed\(\): audio arrays must be 1-D or 2-D"):
        push.feed(np.zeros((2, 2, 2), np.float32))
    with pytest.raises(AudioFormatError, match=r"Stream.feed\(\): sample_rate must be between 1 and"):
        push.feed(speech[:10], sample_rate=0)
    push.close_input()
    with pytest.raises(StateError, match=r"Stream.feed\(\) after close_input\(\) or stop\(\)"):
        push.feed(speech[:10])
    assert list(push) == []
    stopped = Stream(ScriptedEngine())
    stopped.feed(speech[:10])
    stopped.stop()
    with pytest.raises(StateError, match=r"Stream.feed\(\) after close_input\(\) or stop\(\)"):
        stopped.feed(speech[:10])
    with pytest.raises(ValueError, match="step must be > 0 seconds, got 0"):
        Stream(ScriptedEngine(), options=StreamOptions(step=0))
    with pytest.raises(ValueError, match="final_speed must be 'accurate' or 'fast', got 'best'"):
        Stream(ScriptedEngine(), options=StreamOptions(final_speed="best"))
    for budget in (0, -0.1, True, "0.1"):
        with pytest.raises(ValueError, match=f"decode_budget must be > 0 or None, got {budget!r}"):
            StreamOptions(decode_budget=budget)
    with pytest.raises(TypeError, match="source must be None, 'microphone', a path"):
        Stream(ScriptedEngine(), source=42)


@pytest.mark.speech
def test_live_mode_skips_steps_while_a_decode_runs_and_counts_them(speech):
    gate = threading.Event()                  # closed until the source is exhausted
    engine = ScriptedEngine(lambda i, a, s: [1], gate=gate)
    # The real scheduler, driven directly: the first partial step submits a decode that never
    # finishes in time (busy from then on); every later step interval of speech is skipped once.
    sched, partials, ends = reference_schedule(speech, busy=lambda partials: bool(partials),
                                               lockstep=False, eager=False)
    first_due = ends[0].audio_start_sample + len(partials[0].audio)

    def source():
        for i, chunk in enumerate(chunks_of(speech)):
            yield chunk
            if (i + 1) * len(chunk) == first_due:   # that partial was submitted: let it start
                wait_until(engine.entered.is_set, "the partial decode to start")
        wait_until(lambda: engine.aborted == 1, "the partial decode to be aborted")
        gate.set()

    # The classic schedule (eager=False): no speculation when speech stops, so the only decodes
    # are partials every step and one final per utterance after the hang-over.
    stream = Stream(engine, source=source(), options=StreamOptions(eager=False, hangover=None,
                                                                   final_speed="accurate"))
    events = list(stream)
    assert len(partials) == 1 and len(ends) == 2
    assert sched.skipped_steps > 10
    assert engine.aborted == 1                # the partial was aborted when its utterance ended
    assert [s for s, _ in engine.calls] == ["fast", "accurate", "accurate"]  # nothing queued up
    assert stream.stats.skipped_steps == sched.skipped_steps
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped, Final] * 2
