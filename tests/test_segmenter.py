"""Segmenter: utterance events from synthetic signals and espeak-ng speech."""

import sys
import types

import numpy as np
import pytest

from lumina import AudioFormatError, ArgumentError, MissingDependencyError, Segmenter, StateError
from lumina.audio.vad import EnergyVAD
from lumina._core.vad import Hysteresis
from lumina.streaming import SpeechEnd, SpeechPause, SpeechResume, SpeechStart
from lumina.streaming.segmenter import PAUSE_MIN_MS
from _vad_util import SR, events_summary, write_wav
from lumina.evaluation.utterances import pink_noise, silence, sox_edges, speak, white_noise

TOLERANCE = round(0.150 * SR)   # boundaries within 150 ms


@pytest.fixture(scope="module")
def two_utterances(tmp_path_factory):
    """Speech, 1 s silence, speech, with 1 s silence around; and the true speech spans."""
    tmp = tmp_path_factory.mktemp("speech")
    a = speak("The quick brown fox jumps over the lazy dog", tmp / "a.wav")
    b = speak("Hello world, this is a test", tmp / "b.wav")
    signal = np.concatenate([silence(1.0), a, silence(1.0), b, silence(1.0)])
    first = (SR, SR + len(a))
    second = (2 * SR + len(a), 2 * SR + len(a) + len(b))
    path = write_wav(tmp / "both.wav", signal)
    return signal, [first, second], path, tmp


def segment(signal, chunk, **kwargs):
    # These tests pin the energy VAD: its tones are speech, Silero's are not (test_vad_silero.py).
    kwargs.setdefault("vad", "energy")
    seg = Segmenter(**kwargs)
    events = []
    for i in range(0, len(signal), chunk):
        events += seg.feed(signal[i:i + chunk])
    return events + seg.flush()


def tone(seconds, dbfs, freq=300.0):
    t = np.arange(round(seconds * SR)) / SR
    return (np.sqrt(2) * 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_silence_gives_no_utterance():
    assert segment(silence(10.0), 1600) == []


@pytest.mark.parametrize("noise", [white_noise, pink_noise])
def test_steady_noise_at_minus_30_dbfs_gives_no_utterance(noise):
    assert segment(noise(15.0, -30.0, seed=3), 320) == []


@pytest.mark.speech
def test_ground_truth_agrees_with_sox(two_utterances):
    signal, truth, path, tmp = two_utterances
    first, last = sox_edges(path, tmp)
    assert abs(first - truth[0][0]) <= 320
    assert abs(last - truth[1][1]) <= 320


@pytest.mark.speech
def test_speech_silence_speech_gives_two_utterances_at_the_right_places(two_utterances):
    signal, truth, _, _ = two_utterances
    events = segment(signal, 320)
    assert [type(e) for e in events] == [SpeechStart, SpeechEnd, SpeechStart, SpeechEnd]
    ends = [e for e in events if isinstance(e, SpeechEnd)]
    assert [e.utterance_id for e in ends] == [0, 1]
    for end, (start_true, end_true) in zip(ends, truth):
        assert abs(end.start_sample - start_true) <= TOLERANCE
        assert abs(end.end_sample - end_true) <= TOLERANCE


@pytest.mark.speech
def test_speech_over_steady_noise_still_gives_two_utterances(two_utterances):
    signal, truth, _, _ = two_utterances
    noisy = signal + pink_noise(len(signal) / SR, -45.0, seed=9)
    ends = [e for e in segment(noisy, 509) if isinstance(e, SpeechEnd)]
    assert len(ends) == 2
    for end, (start_true, end_true) in zip(ends, truth):
        assert abs(end.start_sample - start_true) <= TOLERANCE
        assert abs(end.end_sample - end_true) <= TOLERANCE


@pytest.mark.speech
@pytest.mark.parametrize("chunk", [1, 17, 160, 509, 4096])
def test_events_do_not_depend_on_chunk_size(two_utterances, chunk):
    signal = two_utterances[0]
    if chunk == 1:
        signal = signal[:3 * SR]   # one utterance is enough at one sample per call
    whole = segment(signal, len(signal))
    assert len(whole) >= 2
    assert segment(signal, chunk) == whole


@pytest.mark.speech
def test_audio_includes_the_pre_roll(two_utterances):
    signal = two_utterances[0]
    for end in (e for e in segment(signal, 4096) if isinstance(e, SpeechEnd)):
        assert end.audio_start_sample == end.start_sample - 3200
        assert np.array_equal(end.audio, signal[end.start_sample - 3200:end.end_sample])
        assert end.audio.dtype == np.float32 and not end.audio.flags.writeable


def test_pre_roll_never_reaches_into_the_previous_utterance():
    signal = np.concatenate([silence(1.0), tone(0.5, -20.0), silence(0.4), tone(0.5, -20.0),
                             silence(1.0)])
    ends = [e for e in segment(signal, 160, pre_roll_ms=1000) if isinstance(e, SpeechEnd)]
    assert [(e.audio_start_sample, e.start_sample, e.end_sample) for e in ends] == [
        (0, 16000, 24000), (24000, 30400, 38400)]


def test_short_clicks_are_not_utterances():
    signal = np.concatenate([silence(1.0), tone(0.06, -10.0), silence(1.0)])
    assert segment(signal, 160, min_speech_ms=100) == []


# A steady tone longer than the noise-floor window becomes background for the
# adaptive threshold, so the split tests use a fixed one.
def test_long_utterance_is_split_at_the_quietest_frame():
    speech = tone(4.0, -20.0)
    dip = round(2.4 * SR)
    speech[dip:dip + 320] *= 0.5          # one frame 6 dB quieter, 2.4 s into the speech
    signal = np.concatenate([silence(1.0), speech, silence(1.0)])
    events = segment(signal, 509, max_utterance_s=3.0, threshold_db=-40.0)
    assert events_summary(events) == [
        ("start", 0, 16000), ("end", 0, 16000, 54400, 54400 - 12800),
        ("start", 1, 54400), ("end", 1, 54400, 80000, 80000 - 54400)]


def test_split_utterances_are_contiguous_and_never_too_long():
    signal = np.concatenate([silence(1.0), tone(10.0, -20.0), silence(1.0)])
    ends = [e for e in segment(signal, 4096, max_utterance_s=2.5, threshold_db=-40.0) if isinstance(e, SpeechEnd)]
    assert ends[0].start_sample == SR and ends[-1].end_sample == 11 * SR
    assert all(e.end_sample - e.start_sample <= 2.5 * SR for e in ends)
    assert all(a.end_sample == b.start_sample for a, b in zip(ends, ends[1:]))
    assert np.array_equal(np.concatenate([e.audio for e in ends])[3200:], signal[SR:11 * SR])
    assert len(ends) == 5


def test_a_steady_tone_becomes_background_after_the_floor_window():
    # The adaptive floor is the quietest frame of the last 3 s: a sound that never
    # pauses for that long is treated as background, like a fan.
    signal = np.concatenate([silence(1.0), tone(10.0, -20.0), silence(1.0)])
    ends = [e for e in segment(signal, 4096) if isinstance(e, SpeechEnd)]
    assert [(e.start_sample, e.end_sample) for e in ends] == [(16000, 65280)]


def test_current_audio_holds_the_open_utterance():
    seg = Segmenter(vad="energy")
    signal = np.concatenate([silence(1.0), tone(1.0, -20.0)])
    assert seg.current_audio() is None
    events = seg.feed(signal)
    assert events == [SpeechStart(0, SR, SR - 3200)]   # the 200 ms pre-roll
    assert seg.in_speech
    assert np.array_equal(seg.current_audio(), signal[SR - 3200:])
    ends = seg.flush()
    assert events_summary(ends) == [("end", 0, SR, 2 * SR, SR + 3200)]
    assert seg.current_audio() is None and seg.samples_fed == 0


def test_ids_keep_counting_across_flush():
    seg = Segmenter(vad="energy")
    speech = np.concatenate([silence(0.5), tone(0.5, -20.0)])
    first = seg.feed(speech) + seg.flush()
    second = seg.feed(speech) + seg.flush()
    assert events_summary(first) == [("start", 0, 8000), ("end", 0, 8000, 16000, 11200)]
    assert events_summary(second) == [("start", 1, 8000), ("end", 1, 8000, 16000, 11200)]


@pytest.mark.parametrize(("chunk", "message"), [
    (np.zeros((10, 2, 2), np.float32), r"audio arrays must be 1-D or 2-D \[frames, channels\], got shape"),
    (np.zeros(10, np.complex64), "arrays of dtype complex64 cannot hold audio"),
    (np.array([0.0, np.nan], np.float32), r"sample 1 \(frame 1, channel 0\) is nan"),
    ("not audio", "must be an array of samples, not str"),
])
def test_bad_chunks_raise_audio_format_error_and_lose_nothing(chunk, message):
    seg = Segmenter()
    seg.feed(silence(0.5))
    with pytest.raises(AudioFormatError, match=message) as info:
        seg.feed(chunk)
    assert "Segmenter.feed()" in str(info.value)
    assert seg.samples_fed == 8000


def test_float64_chunks_are_accepted():
    signal = np.concatenate([silence(1.0), tone(0.5, -20.0), silence(1.0)])
    assert segment(signal.astype(np.float64), 800) == segment(signal, 800)


def test_int16_and_multichannel_chunks_go_through_the_gateway():
    # The same rules as everywhere else: int16 scaled by 1/32768, channels averaged.
    signal = np.concatenate([silence(1.0), tone(0.5, -20.0), silence(1.0)])
    pcm = np.round(signal * 32767).astype(np.int16)
    assert segment(pcm, 509) == segment(pcm.astype(np.float32) / 32768, 509)
    stereo = np.stack([signal, np.zeros_like(signal)], axis=1)   # [frames, channels]
    assert segment(stereo, 509) == segment(signal / 2, 509)
    assert len(segment(pcm, 509)) == 2


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"vad": "rnnoise"}, "vad must be 'silero', 'energy' or 'webrtc', got 'rnnoise'"),
    ({"vad": "silero", "threshold_db": -30.0},
     "threshold_db applies only to vad='energy', not vad='silero'"),
    ({"frame_ms": 15}, "frame_ms must be 10, 20 or 30, got 15"),
    ({"max_utterance_s": 1.0}, "max_utterance_s must be >= 2.0, got 1.0"),
    ({"hangover_ms": -1}, "must be >= 0"),
])
def test_bad_settings_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Segmenter(**kwargs)


def test_webrtc_without_the_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "webrtcvad", None)   # import fails
    with pytest.raises(MissingDependencyError, match="pip install webrtcvad"):
        Segmenter(vad="webrtc")


def test_webrtc_adapter_frames_and_smooths_like_the_energy_vad(monkeypatch):
    class FakeVad:
        """Stands in for webrtcvad.Vad: speech when the 16-bit frame is loud."""

        def __init__(self, mode):
            self.mode = mode

        def is_speech(self, frame: bytes, rate: int) -> bool:
            assert rate == SR and len(frame) == 640
            return int(np.abs(np.frombuffer(frame, "<i2")).max()) > 1000

    monkeypatch.setitem(sys.modules, "webrtcvad", types.SimpleNamespace(Vad=FakeVad))
    signal = np.concatenate([silence(1.0), tone(0.5, -20.0), silence(1.0)])
    events = segment(signal, 509, vad="webrtc")
    assert events_summary(events) == [("start", 0, 16000), ("end", 0, 16000, 24000, 11200)]


def test_current_audio_into_copies_what_current_audio_returns():
    seg = Segmenter(vad="energy")
    out = np.full(seg.max_open_samples, 7.0, np.float32)
    assert seg.current_audio_into(out) == 0
    seg.feed(np.concatenate([silence(1.0), tone(1.0, -20.0)]))
    n = seg.current_audio_into(out)
    assert n == SR + 3200 and np.array_equal(out[:n], seg.current_audio())
    assert out[n] == 7.0                                  # nothing written past it
    assert seg.max_open_samples >= seg.max_utterance_samples + seg.pre_roll_samples


# ---------------------------------------------------------------- pauses and the hang-over

def raw_flags(signal) -> np.ndarray:
    """The energy VAD's raw speech flags per frame (no smoothing: one frame opens, one closes)."""
    vad = EnergyVAD(SR, 20, start_frames=1, end_frames=1)
    return np.concatenate([vad.process(signal), vad.flush()])


def runs_of(flags: np.ndarray, value: int) -> list[tuple[int, int]]:
    """[(first, end)] frame runs of ``value``."""
    padded = np.concatenate([[1 - value], flags, [1 - value]]) == value
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def pause_events(signal, chunk, **kwargs):
    kwargs.setdefault("vad", "energy")  # compared with the energy VAD's raw flags
    seg = Segmenter(**kwargs)
    seg.report_pauses = True
    events = []
    for i in range(0, len(signal), chunk):
        events += seg.feed(signal[i:i + chunk])
    return events + seg.flush()


@pytest.mark.parametrize("chunk", [1, 17, 320, 509, 4096, None])
def test_pauses_do_not_depend_on_chunk_size(two_utterances, chunk):
    signal = two_utterances[0]
    if chunk == 1:
        signal = signal[:3 * SR]
    whole = pause_events(signal, len(signal))
    assert any(isinstance(e, SpeechResume) for e in whole)
    assert pause_events(signal, chunk or len(signal)) == whole


def test_pauses_are_the_raw_silences_of_at_least_pause_min_ms_inside_each_utterance(two_utterances):
    signal = two_utterances[0]
    events = pause_events(signal, 320)
    # Without report_pauses the same starts and ends, nothing else.
    assert [e for e in events if isinstance(e, (SpeechStart, SpeechEnd))] == segment(signal, 320)
    raw = raw_flags(signal)
    expected, moments = [], 0
    for start, end, audio_start in [(e.start_sample // 320, e.end_sample // 320, e.audio_start_sample)
                                     for e in events if isinstance(e, SpeechEnd)]:
        utt = len([e for e in expected if isinstance(e, SpeechStart)])
        expected.append(SpeechStart(utt, start * 320, audio_start))
        for a, b in runs_of(raw[start:end], 0):
            if (b - a) * 20 < PAUSE_MIN_MS:   # a moment of silence (a closure): no pause
                moments += 1
                continue
            expected += [SpeechPause(utt, (start + a) * 320), SpeechResume(utt, (start + b) * 320)]
        expected.append(SpeechPause(utt, end * 320))   # the silence that ended it
        expected.append(("end", utt, end * 320))
    got = [("end", e.utterance_id, e.end_sample) if isinstance(e, SpeechEnd) else e for e in events]
    assert got == expected
    assert moments > 0 and any(isinstance(e, SpeechResume) for e in got)   # both kinds occur here


@pytest.mark.parametrize("hang_ms", [20, 100, 160, 240, 300])
def test_a_shorter_utterance_hangover_is_a_hysteresis_on_the_raw_flags(two_utterances, hang_ms):
    # While the segmenter's hang-over is at most the VAD's, its utterances are exactly those of
    # a plain hysteresis over the raw flags: min_speech_ms to open, the hang-over to close.
    signal = two_utterances[0]
    seg = Segmenter(vad="energy")
    events = []
    for i in range(0, len(signal), 320):
        new = seg.feed(signal[i:i + 320])
        if any(isinstance(e, SpeechStart) for e in new) and seg.in_speech:
            seg.utterance_hangover_ms = hang_ms
        events += new
    events += seg.flush()
    hyst = Hysteresis(5, hang_ms // 20)
    smooth = np.concatenate([hyst.push(raw_flags(signal)), hyst.flush()])
    assert [(e.start_sample // 320, e.end_sample // 320) for e in events if isinstance(e, SpeechEnd)] == \
        runs_of(smooth, 1)
    if hang_ms < 140:       # the comma of "Hello world, this is a test" (140 ms) splits it
        assert len(runs_of(smooth, 1)) > 2


def burst(gap, after):
    """1 s of silence, 0.5 s of tone, ``gap`` s of silence, ``after`` s of tone, 1 s of silence."""
    return np.concatenate([silence(1.0), tone(0.5, -20.0), silence(gap), tone(after, -20.0),
                           silence(1.0)])


@pytest.mark.parametrize("gap, after, ends", [
    (0.4, 0.06, [24000]),          # the VAD closed after 300 ms: a 60 ms click cannot resume
    (0.4, 0.2, [24000 + 6400 + 3200]),   # 200 ms of speech (>= min_speech_ms) resumes it
    (0.2, 0.06, [24000 + 3200 + 960]),   # within the VAD's hang-over one speech frame resumes
])
def test_a_longer_utterance_hangover_spans_the_vads(gap, after, ends):
    seg = Segmenter(vad="energy", threshold_db=-40.0)
    events = []
    signal = burst(gap, after)
    for i in range(0, len(signal), 320):
        new = seg.feed(signal[i:i + 320])
        if any(isinstance(e, SpeechStart) for e in new):
            seg.utterance_hangover_ms = 700
        events += new
    events += seg.flush()
    assert [e.end_sample for e in events if isinstance(e, SpeechEnd)] == ends


def test_tentative_end_and_the_audio_up_to_it():
    seg = Segmenter(vad="energy", threshold_db=-40.0)
    seg.report_pauses = True
    signal = burst(0.2, 0.5)
    assert seg.feed(signal[:24000]) == [SpeechStart(0, 16000, 12800)]
    assert seg.tentative_end is None
    assert seg.feed(signal[24000:24000 + 1600]) == [SpeechPause(0, 24000)]
    assert seg.tentative_end == 24000 and seg.in_speech
    out = np.full(seg.max_open_samples, 9.0, np.float32)
    n = seg.current_audio_into(out, end=24000)
    assert n == 24000 - 12800 and np.array_equal(out[:n], signal[12800:24000]) and out[n] == 9.0
    assert seg.current_audio_into(out) == 25600 - 12800
    assert seg.feed(signal[25600:27200]) == []
    assert seg.feed(signal[27200:27520]) == [SpeechResume(0, 27200)]
    assert seg.tentative_end is None


def test_the_utterance_hangover_is_checked_and_resets_at_each_utterance():
    seg = Segmenter(vad="energy", hangover_ms=240)
    assert (seg.hangover_ms, seg.utterance_hangover_ms) == (240, 240)
    with pytest.raises(StateError, match="applies to an open utterance; none is open"):
        seg.utterance_hangover_ms = 100
    seg.feed(np.concatenate([silence(1.0), tone(0.5, -20.0)]))
    for bad in (-1, 3001, "x", True, None):
        with pytest.raises(ArgumentError, match="utterance_hangover_ms must be a number of ms from 0 to 3000"):
            seg.utterance_hangover_ms = bad
    seg.utterance_hangover_ms = 150
    assert seg.utterance_hangover_ms == 160        # whole frames
    seg.utterance_hangover_ms = 0
    assert seg.utterance_hangover_ms == 20         # at least one frame
    seg.flush()
    seg.feed(np.concatenate([silence(1.0), tone(0.5, -20.0)]))
    assert seg.utterance_hangover_ms == 240        # the next utterance starts afresh


def test_pauses_with_a_vad_that_does_not_declare_its_start_rule(monkeypatch):
    class FakeVad:
        def __init__(self, mode):
            pass

        def is_speech(self, frame: bytes, rate: int) -> bool:
            return int(np.abs(np.frombuffer(frame, "<i2")).max()) > 1000

    monkeypatch.setitem(sys.modules, "webrtcvad", types.SimpleNamespace(Vad=FakeVad))
    signal = burst(0.1, 0.5)
    whole = pause_events(signal, len(signal), vad="webrtc")
    assert [e for e in whole if not isinstance(e, SpeechEnd)] == [
        SpeechStart(0, 16000, 12800), SpeechPause(0, 24000), SpeechResume(0, 25600),
        SpeechPause(0, 33600)]
    for chunk in (17, 509, 4096):
        assert pause_events(signal, chunk, vad="webrtc") == whole
