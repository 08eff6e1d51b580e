"""IterableSource, FileSource and device lookup (no sound server needed)."""

import threading

import numpy as np
import pytest
import soundfile as sf
import soxr

from lumina import (ArgumentError, AudioFormatError, AudioNotFoundError, DeviceError, FileSource,
                    IterableSource, MicrophoneSource)
from lumina.audio.sources import find_input_device
from _vad_util import SR, stop_while_consuming
from lumina.evaluation.utterances import white_noise


def test_iterable_source_passes_float32_mono_through_unchanged():
    chunks = [np.arange(5, dtype=np.float32) / 10, np.zeros(0, np.float32), np.ones(3, np.float32)]
    with IterableSource(chunks) as src:
        out = list(src)
    assert len(out) == 2       # the empty chunk is skipped
    assert np.array_equal(out[0], chunks[0]) and np.array_equal(out[1], chunks[2])
    assert all(c.dtype == np.float32 for c in out)


def test_iterable_source_converts_int16_and_mixes_down_channels():
    stereo = np.array([[16384, -16384], [32767, 32767], [-32768, 0]], np.int16)
    (out,) = list(IterableSource([stereo]))
    assert out.dtype == np.float32
    assert out.tolist() == [0.0, pytest.approx(32767 / 32768), -0.5]


def test_iterable_source_resamples_48k_like_one_shot_soxr():
    audio = white_noise(1.0, -20.0)
    audio48 = soxr.resample(audio, SR, 48000).astype(np.float32)
    chunks = [audio48[i:i + 999] for i in range(0, len(audio48), 999)]
    out = np.concatenate(list(IterableSource(chunks, sample_rate=48000)))
    expected = soxr.resample(audio48, 48000, SR, quality="HQ")
    assert len(out) == len(expected) == SR
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize(("chunk", "message"), [
    (np.zeros(4, bool), "IterableSource: arrays of dtype bool cannot hold audio"),
    (np.zeros((2, 2, 2), np.float32), r"IterableSource: audio arrays must be 1-D or 2-D \[frames, "
                                      r"channels\], got shape \(2, 2, 2\)"),
    (np.array([0.0, np.inf]), r"sample 1 \(frame 1, channel 0\) is inf; IterableSource must hold finite samples"),
])
def test_iterable_source_rejects_bad_chunks(chunk, message):
    with pytest.raises(AudioFormatError, match=message):
        list(IterableSource([chunk]))


def test_iterable_source_takes_unsigned_pcm_like_every_entry_point():
    # uint8 is offset binary: 128 is silence (it used to be refused here alone).
    (out,) = list(IterableSource([np.array([0, 128, 255], np.uint8)]))
    assert out.tolist() == [-1.0, 0.0, 127 / 128]


@pytest.mark.parametrize("rate", [0, -1, 1.5, True, "16000"])
def test_iterable_source_rejects_bad_rate(rate):
    with pytest.raises(AudioFormatError, match="IterableSource: sample_rate must be"):
        IterableSource([], sample_rate=rate)


def test_iterable_source_needs_an_iterable():
    with pytest.raises(ArgumentError, match="IterableSource needs an iterable of arrays, not int"):
        IterableSource(5)


@pytest.mark.parametrize("chunk_ms", [0, -20, 2.5, True])
def test_file_source_rejects_a_bad_chunk_length(wav44, chunk_ms):
    with pytest.raises(ArgumentError, match=f"chunk_ms must be an int > 0, got {chunk_ms!r}"):
        FileSource(wav44[0], chunk_ms=chunk_ms)


@pytest.fixture()
def wav44(tmp_path):
    """1 s of noise at 44.1 kHz stereo, and what it must become (16 kHz mono)."""
    audio = np.stack([white_noise(1.0, -20.0, 1), white_noise(1.0, -20.0, 2)], axis=1)
    audio44 = soxr.resample(audio, SR, 44100)
    path = tmp_path / "noise.wav"
    sf.write(path, audio44, 44100, subtype="FLOAT")
    expected = soxr.resample(audio44.mean(axis=1), 44100, SR, quality="HQ")
    return path, expected


def test_file_source_yields_the_whole_file_in_chunks(wav44):
    path, expected = wav44
    with FileSource(path, realtime=False, chunk_ms=20) as src:
        chunks = list(src)
        assert src.duration_s == pytest.approx(1.0, abs=1e-3)
    assert [len(c) for c in chunks[:-1]] == [320] * (len(chunks) - 1)
    assert 0 < len(chunks[-1]) <= 320
    np.testing.assert_allclose(np.concatenate(chunks), expected, atol=1e-4)


def test_file_source_missing_file_is_an_audio_not_found_error(tmp_path):
    with pytest.raises(AudioNotFoundError, match="nope.wav: no such file"):
        FileSource(tmp_path / "nope.wav")


def test_file_source_stop_from_another_thread_ends_the_iteration(wav44):
    baseline = set(threading.enumerate())
    src = FileSource(wav44[0], realtime=True, chunk_ms=20)
    got = stop_while_consuming(src)
    assert 1 <= len(got) < 50          # the file holds 50 chunks: it did not play to the end
    assert list(src) == []             # stopped for good
    assert set(threading.enumerate()) == baseline


def test_stop_before_iteration_yields_nothing():
    src = IterableSource([np.ones(10, np.float32)])
    src.stop()
    assert list(src) == [] and src.stopped


def test_device_lookup_errors_list_what_exists(monkeypatch):
    import sounddevice as sd
    fake = [
        {"index": 0, "name": "HDA Intel PCH: ALC892 Analog", "max_input_channels": 2,
         "max_output_channels": 2, "default_samplerate": 44100.0},
        {"index": 1, "name": "HDMI 0", "max_input_channels": 0,
         "max_output_channels": 8, "default_samplerate": 48000.0},
    ]
    monkeypatch.setattr(sd, "query_devices", lambda: fake)
    assert find_input_device("alc892")["index"] == 0
    assert find_input_device(0)["name"] == "HDA Intel PCH: ALC892 Analog"
    with pytest.raises(DeviceError, match=(
            r"found no input device with index 1; available input devices: "
            r"0: 'HDA Intel PCH: ALC892 Analog'")):
        find_input_device(1)
    with pytest.raises(DeviceError, match="found no input device whose name contains 'usb'"):
        MicrophoneSource("usb")
    with pytest.raises(ArgumentError, match="device must be None, an int or a str, got float"):
        find_input_device(1.5)


def test_no_devices_at_all_says_so(monkeypatch):
    import sounddevice as sd
    monkeypatch.setattr(sd, "query_devices", lambda: [])
    with pytest.raises(DeviceError, match="no input devices are available"):
        find_input_device("mic")


class FakeInputStream:
    """sounddevice.InputStream without a device: the test plays PortAudio and calls the callback."""

    def __init__(self, **kwargs):
        self.kwargs, self.active = kwargs, False

    def start(self):
        self.active = True

    def abort(self, ignore_errors=True):
        self.active = False

    def close(self, ignore_errors=True):
        pass


def _fake_microphone(monkeypatch, native_rate):
    import sounddevice as sd
    fake = [{"index": 0, "name": "fake mic", "max_input_channels": 1, "max_output_channels": 0,
             "default_samplerate": float(native_rate)}]
    monkeypatch.setattr(sd, "query_devices", lambda: fake)
    streams = []
    monkeypatch.setattr(sd, "InputStream", lambda **kw: streams.append(FakeInputStream(**kw)) or streams[-1])
    return streams


@pytest.mark.parametrize("native_rate", [16000, 48000])
def test_microphone_dropped_counts_16k_samples_whatever_the_device_rate(monkeypatch, native_rate):
    # It used to count capture-rate samples: 3x the lost time at 48 kHz.
    streams = _fake_microphone(monkeypatch, native_rate)
    with MicrophoneSource("fake", ring_seconds=0.1) as mic:
        assert mic.sample_rate == native_rate
        callback = streams[0].kwargs["callback"]
        block = np.zeros((mic.block_frames, 1), np.float32)
        status = type("Status", (), {"input_overflow": False})()
        for _ in range(10):  # 0.2 s into a 0.1 s ring that nobody reads: 0.1 s lost
            callback(block, mic.block_frames, None, status)
        assert mic.dropped == 1600


def test_reopen_asks_for_the_same_device_with_the_same_settings(monkeypatch):
    streams = _fake_microphone(monkeypatch, 48000)
    with MicrophoneSource("fake", sample_rate=22050, block_ms=40, ring_seconds=0.5) as mic:
        with mic.reopen() as again:
            assert again is not mic and len(streams) == 2
            assert (again.device_name, again.sample_rate, again.block_frames) == (
                "fake mic", 22050, mic.block_frames)
            assert streams[1].kwargs["samplerate"] == 22050 and streams[1].kwargs["blocksize"] == 882


def test_a_stream_reads_the_microphone_it_is_given_then_reopens_it(monkeypatch):
    from lumina.streaming.stream import Stream
    from _stream_util import ScriptedEngine

    streams = _fake_microphone(monkeypatch, 16000)
    mic = MicrophoneSource("fake")
    stream = Stream(ScriptedEngine(), source=mic)
    factory = stream._pipeline._factory
    try:
        assert factory() is mic and mic.reuse_chunks      # first the source given
        second = factory()                                 # after a loss: the same device again
        assert second is not mic and second.device_name == "fake mic" and len(streams) == 2
        second.close()
    finally:
        stream.stop()


def test_microphone_sample_rate_is_checked(monkeypatch):
    _fake_microphone(monkeypatch, 44100)
    with pytest.raises(AudioFormatError, match="MicrophoneSource: sample_rate must be"):
        MicrophoneSource("fake", sample_rate=0)
    with MicrophoneSource("fake", sample_rate=22050) as mic:
        assert mic.sample_rate == 22050
