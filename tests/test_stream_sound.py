"""Real device: espeak-ng speech played into a PulseAudio null sink, transcribed live by a Stream."""

import threading

import pytest

from lumina import MicrophoneSource
from lumina import DeviceError, Engine, Final, Partial, Stream
from lumina.testing import make_model
from _stream_util import MICRO_SEED, ScriptedEngine
from _vad_util import SR
from test_sound import TOLERANCE, played, pulse  # noqa: F401  (the fixtures of the capture test)

pytestmark = pytest.mark.sound


def test_stream_segments_and_transcribes_what_the_microphone_hears(pulse, played, tmp_path):  # noqa: F811
    wav, spans = played
    events = []
    two_finals = threading.Event()

    def on_event(event):
        events.append(event)
        if sum(isinstance(e, Final) for e in events) == 2:
            two_finals.set()

    with Engine(make_model(tmp_path / "m.bin", "micro", seed=MICRO_SEED), threads=1) as engine:
        stream = Stream(engine, source=MicrophoneSource("pulse"), on_event=on_event)
        stream.start()
        for _ in range(1000):                 # the pipeline opens the device in its own thread
            if stream.stats.audio_s >= 0.2:
                break
            threading.Event().wait(0.01)
        player = pulse.play(wav)
        _, err = player.communicate(timeout=30)
        assert player.returncode == 0, err
        assert two_finals.wait(timeout=20), f"got {events}"
        stream.stop()
    finals = [e for e in events if isinstance(e, Final)]
    partials = [e for e in events if isinstance(e, Partial)]
    assert [f.utterance_id for f in finals] == [0, 1]
    assert all(f.text for f in finals)
    # Each utterance had partials before its final, in order.
    assert [e.utterance_id for e in events] == sorted(e.utterance_id for e in events)
    assert {p.utterance_id for p in partials} == {0, 1}
    assert stream.stats.dropped_samples == 0
    # Boundaries agree with the ones sox measured, after aligning capture and playback on the first onset.
    offset = round(finals[0].start * SR) - spans[0][0]
    for final, (start_true, end_true) in zip(finals, spans):
        assert abs(round(final.start * SR) - offset - start_true) <= TOLERANCE
        assert abs(round(final.end * SR) - offset - end_true) <= TOLERANCE


def test_unknown_microphone_fails_at_construction(pulse):  # noqa: F811
    with pytest.raises(DeviceError, match="found no input device whose name contains 'no-such-mic'"):
        Stream(ScriptedEngine(), source=MicrophoneSource("no-such-mic"))
