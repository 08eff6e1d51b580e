"""The compiled energy VAD: frame energy, hysteresis, adaptive noise floor, chunking."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumina.audio.vad import EnergyVAD
from lumina._core.vad import Hysteresis, frame_db
from _vad_util import SR
from lumina.evaluation.utterances import pink_noise, silence, white_noise


def reference_hysteresis(raw, start_frames, end_frames):
    """Plain-Python model: smooth the whole raw sequence at once (end of stream = silence)."""
    out = []
    speech = False
    i = 0
    n = len(raw)
    while i < n:
        j = i
        while j < n and raw[j] == raw[i]:
            j += 1
        run = j - i
        if raw[i] and not speech:
            speech = run >= start_frames
            out += [int(speech)] * run
        elif not raw[i] and speech:
            speech = not (run >= end_frames or j == n)
            out += [int(speech)] * run
        else:
            out += [int(speech)] * run
        i = j
    return out


def run_vad(vad, signal, chunk):
    parts = [vad.process(signal[i:i + chunk]) for i in range(0, len(signal), chunk)]
    return np.concatenate(parts + [vad.flush()])


def tone(seconds, dbfs, freq=440.0):
    t = np.arange(round(seconds * SR)) / SR
    return (np.sqrt(2) * 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_frame_db_of_constant_and_silent_frames():
    x = np.concatenate([np.full(320, 0.5, np.float32), np.zeros(320, np.float32),
                        np.full(100, 1.0, np.float32)])
    db = frame_db(x, 320)
    assert db.dtype == np.float32 and db.shape == (2,)
    assert db[0] == pytest.approx(20 * np.log10(0.5), abs=1e-5)
    assert db[1] == -100.0


def test_frame_db_rejects_bad_frame_size_and_dtype():
    with pytest.raises(ValueError, match="frame_samples must be > 0, got 0"):
        frame_db(np.zeros(10, np.float32), 0)
    with pytest.raises(ValueError, match="dtype mismatch"):
        frame_db(np.zeros(10, np.float64), 5)


@pytest.mark.parametrize(("raw", "expected"), [
    ([1, 1, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
     [0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]),
    ([1, 1, 1, 1, 0, 0, 0, 1], [1, 1, 1, 1, 0, 0, 0, 0]),
    ([0, 0, 1, 1], [0, 0, 0, 0]),
])
def test_hysteresis_opens_after_start_frames_and_bridges_short_pauses(raw, expected):
    hyst = Hysteresis(3, 3)
    got = np.concatenate([hyst.push(np.array(raw, np.int8)), hyst.flush()])
    assert got.tolist() == expected
    assert hyst.frames_decided == len(raw)


def test_hysteresis_holds_back_undecided_frames():
    hyst = Hysteresis(3, 2)
    assert hyst.push(np.array([1, 1], np.int8)).tolist() == []
    assert hyst.pending == 2
    assert hyst.push(np.array([1], np.int8)).tolist() == [1, 1, 1]
    assert hyst.in_speech
    assert hyst.push(np.array([0], np.int8)).tolist() == []
    assert hyst.push(np.array([0], np.int8)).tolist() == [0, 0]
    assert not hyst.in_speech and hyst.pending == 0


@settings(max_examples=200, deadline=None)
@given(raw=st.lists(st.integers(0, 1), max_size=200), start=st.integers(1, 6),
       end=st.integers(1, 6), cut=st.integers(1, 50))
def test_hysteresis_matches_reference_model_for_any_chunking(raw, start, end, cut):
    hyst = Hysteresis(start, end)
    arr = np.array(raw, np.int8)
    parts = [hyst.push(arr[i:i + cut]) for i in range(0, len(arr), cut)]
    got = np.concatenate(parts + [hyst.flush()]).tolist()
    assert got == reference_hysteresis(raw, start, end)


def test_hysteresis_rejects_zero_frames():
    with pytest.raises(ValueError, match="start_frames must be >= 1, got 0"):
        Hysteresis(0, 3)
    with pytest.raises(ValueError, match="end_frames must be >= 1, got 0"):
        Hysteresis(3, 0)


def test_silence_is_never_speech():
    vad = EnergyVAD()
    out = run_vad(vad, silence(5.0), 4096)
    assert out.shape == (250,) and not out.any()


@pytest.mark.parametrize("noise", [white_noise, pink_noise])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_steady_noise_at_minus_30_dbfs_is_not_speech(noise, seed):
    vad = EnergyVAD(start_frames=5)
    out = run_vad(vad, noise(20.0, -30.0, seed), 1600)
    assert out.shape == (1000,)
    assert int(out.sum()) == 0


def test_noise_floor_follows_steady_noise():
    vad = EnergyVAD()
    vad.process(white_noise(4.0, -30.0))
    assert vad.noise_floor_db == pytest.approx(-31.0, abs=1.0)
    assert vad.threshold_db == pytest.approx(vad.noise_floor_db + 10.0)


def test_tone_over_noise_is_speech_with_exact_frame_boundaries():
    # 1 s noise, 1 s tone 20 dB louder (frame-aligned), 1 s noise.
    noise = white_noise(3.0, -40.0)
    signal = noise.copy()
    signal[SR:2 * SR] += tone(1.0, -20.0)
    out = run_vad(EnergyVAD(), signal, 509)
    speech = np.flatnonzero(out)
    assert (speech[0], speech[-1], len(speech)) == (50, 99, 50)


def test_fixed_threshold_is_used_as_given():
    vad = EnergyVAD(threshold_db=-25.0, start_frames=1, end_frames=1)
    signal = np.concatenate([tone(0.1, -30.0), tone(0.1, -20.0), tone(0.1, -30.0)])
    assert run_vad(vad, signal, 160).tolist() == [0] * 5 + [1] * 5 + [0] * 5
    assert not vad.adaptive and vad.threshold_db == -25.0


@pytest.mark.parametrize("chunk", [1, 17, 160, 509, 4096])
def test_decisions_do_not_depend_on_chunk_size(chunk):
    rng = np.random.default_rng(5)
    signal = white_noise(6.0, -45.0)
    for start in (1.0, 2.5, 4.2):
        a = round(start * SR)
        signal[a:a + 8000] += tone(0.5, -15.0, freq=rng.uniform(200, 800))
    whole = run_vad(EnergyVAD(), signal, len(signal))
    assert whole.sum() > 0
    assert np.array_equal(run_vad(EnergyVAD(), signal, chunk), whole)


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_every_complete_frame_gets_exactly_one_decision(frame_ms):
    vad = EnergyVAD(8000, frame_ms)
    n = 8000 + 7
    out = run_vad(vad, white_noise(n / SR, -20.0), 333)
    assert len(out) == n // (8 * frame_ms)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"frame_ms": 25}, "frame_ms must be 10, 20 or 30, got 25"),
    ({"sample_rate": 0}, "sample_rate must be > 0, got 0"),
    ({"sample_rate": 11025}, "not a whole number of samples"),
    ({"margin_db": 0.0}, "margin_db must be > 0"),
    ({"floor_window_ms": 100}, "floor_window_ms must be >= 500, got 100"),
    ({"start_frames": 0}, "start_frames must be >= 1, got 0"),
])
def test_bad_settings_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EnergyVAD(**kwargs)


def test_wrong_dtype_raises_and_loses_no_state():
    vad = EnergyVAD()
    vad.process(np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="dtype mismatch"):
        vad.process(np.zeros(100, np.float64))
    assert len(vad.process(np.zeros(220, np.float32))) == 1
