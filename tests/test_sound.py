"""Real device capture: espeak-ng speech played into a PulseAudio null sink, captured by lumina."""

import threading

import numpy as np
import pytest

from lumina import DeviceError, MicrophoneSource, Segmenter
from lumina.streaming import SpeechEnd
from lumina.testing.pulse import PulseServer, missing_tools, rescan_portaudio
from _vad_util import SR, stop_while_consuming, write_wav
from lumina.evaluation.utterances import silence, sox_edges, speak

pytestmark = pytest.mark.sound

TOLERANCE = round(0.150 * SR)


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    missing = missing_tools()
    assert not missing, f"the sound tests need these programs installed: {missing}"
    server = PulseServer(tmp_path_factory.mktemp("pulse"))
    server.start()
    server.point_this_process_here()
    rescan_portaudio()
    yield server
    server.stop()
    server.restore_this_process()
    rescan_portaudio()


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """The file played: 0.5 s silence, speech, 1 s silence, speech, 0.5 s silence; true spans."""
    tmp = tmp_path_factory.mktemp("played")
    a = speak("Open the pod bay doors please", tmp / "a.wav")
    b = speak("Turn on the kitchen lights", tmp / "b.wav")
    lead = round(0.5 * SR)
    signal = np.concatenate([silence(0.5), a, silence(1.0), b, silence(0.5)])
    spans = [(lead, lead + len(a)), (lead + len(a) + SR, lead + len(a) + SR + len(b))]
    path = write_wav(tmp / "played.wav", signal)
    first, last = sox_edges(path, tmp)
    assert abs(first - spans[0][0]) <= 320 and abs(last - spans[1][1]) <= 320
    return path, spans


def capture_while_playing(server, wav, extra_s=1.5):
    """Capture from the monitor while paplay plays ``wav``; return the segmenter's SpeechEnds."""
    seg = Segmenter(vad="energy")   # sample-exact edges on clean speech, as sox measures them
    events = []
    with MicrophoneSource("pulse") as mic:
        mic.start()
        player = server.play(wav)
        fed_after_end = None
        for chunk in mic:
            events += seg.feed(chunk)
            if fed_after_end is None and player.poll() is not None:
                fed_after_end = seg.samples_fed
            if fed_after_end is not None and seg.samples_fed - fed_after_end >= extra_s * SR:
                break
            assert seg.samples_fed < 30 * SR, "paplay never finished playing the file"
        _, err = player.communicate(timeout=10)
        assert player.returncode == 0, err
        overflows = mic.overflows
    events += seg.flush()
    return [e for e in events if isinstance(e, SpeechEnd)], overflows


def test_microphone_capture_finds_both_utterances(pulse, played):
    wav, spans = played
    ends, overflows = capture_while_playing(pulse, wav)
    assert overflows == 0
    assert len(ends) == 2
    # Capture and playback start with an unknown offset (stream start-up, server
    # latency): align on the first onset, then every other boundary must agree.
    offset = ends[0].start_sample - spans[0][0]
    found = [(e.start_sample - offset, e.end_sample - offset) for e in ends]
    for (start, end), (start_true, end_true) in zip(found, spans):
        assert abs(start - start_true) <= TOLERANCE
        assert abs(end - end_true) <= TOLERANCE


def test_unknown_device_name_lists_the_available_inputs(pulse):
    with pytest.raises(DeviceError) as info:
        MicrophoneSource("no-such-microphone")
    message = str(info.value)
    assert "found no input device whose name contains 'no-such-microphone'" in message
    assert "'pulse'" in message


def test_microphone_stop_from_another_thread_returns_promptly(pulse):
    baseline = set(threading.enumerate())
    mic = MicrophoneSource("pulse")
    chunks = stop_while_consuming(mic)
    assert mic.stopped
    assert set(threading.enumerate()) == baseline
    assert chunks and all(n > 0 for n in chunks)
