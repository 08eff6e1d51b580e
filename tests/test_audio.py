"""load_audio, audio_info and `lumina info`."""

import io
import math
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
import soxr

from _wav_util import LAYOUTS

import lumina
from lumina import ArgumentError, AudioFormatError, AudioInfo, audio_info, load_audio, write_wav
from lumina.audio import read_wav
from lumina.apps.cli import main

HELLO = pathlib.Path(__file__).resolve().parent.parent / "examples" / "hello.wav"


def sequential_mean(frames):
    acc = frames[:, 0].copy()
    for c in range(1, frames.shape[1]):
        acc += frames[:, c]
    return acc / np.float32(frames.shape[1])


@pytest.fixture(scope="module")
def stereo():
    return np.random.default_rng(3).uniform(-0.9, 0.9, (4410, 2)).astype(np.float32)


def require_ffmpeg():
    # CI installs ffmpeg; a missing one must fail, not skip, so the fallback stays tested.
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg is not None, "ffmpeg must be on PATH for these tests (apt-get install ffmpeg)"
    return ffmpeg


def test_wav_at_target_rate_downmixes_by_exact_average(tmp_path):
    x = np.random.default_rng(4).uniform(-1, 1, (1000, 3)).astype(np.float32)
    write_wav(tmp_path / "x.wav", x, 16000, subtype="FLOAT")
    got = load_audio(tmp_path / "x.wav")
    assert got.dtype == np.float32 and got.shape == (1000,)
    np.testing.assert_array_equal(got, sequential_mean(x))
    np.testing.assert_array_equal(load_audio(tmp_path / "x.wav", validate=True), got)


def test_wav_is_resampled_with_soxr_hq(tmp_path, stereo):
    write_wav(tmp_path / "s.wav", stereo, 44100)
    frames, _ = read_wav(tmp_path / "s.wav")
    expected = soxr.resample(sequential_mean(frames), 44100, 16000, quality="HQ")
    got = load_audio(tmp_path / "s.wav", 16000)
    assert got.dtype == np.float32 and got.shape == (1600,)
    np.testing.assert_array_equal(got, expected)


def test_hello_wav_loads_at_16k():
    got = load_audio(HELLO)
    expected, _ = sf.read(HELLO, dtype="float32")
    np.testing.assert_array_equal(got, expected)


def test_flac_goes_through_soundfile(tmp_path, stereo):
    sf.write(tmp_path / "s.flac", stereo, 22050)
    frames, _ = sf.read(tmp_path / "s.flac", dtype="float32", always_2d=True)
    expected = soxr.resample(sequential_mean(frames), 22050, 16000, quality="HQ")
    np.testing.assert_array_equal(load_audio(tmp_path / "s.flac"), expected)
    np.testing.assert_array_equal(load_audio((tmp_path / "s.flac").read_bytes()), expected)


def test_adpcm_wav_falls_back_to_soundfile(tmp_path, stereo):
    sf.write(tmp_path / "a.wav", stereo, 16000, subtype="IMA_ADPCM")
    frames, _ = sf.read(tmp_path / "a.wav", dtype="float32", always_2d=True)
    np.testing.assert_array_equal(load_audio(tmp_path / "a.wav"), sequential_mean(frames))


def ffmpeg_reference(ffmpeg, path, sr):
    """What lumina must produce: ffmpeg's float decode, then lumina's downmix and soxr."""
    wav = subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(path), "-f", "wav",
                          "-c:a", "pcm_f32le", "-"], capture_output=True, check=True).stdout
    frames, rate = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    return soxr.resample(sequential_mean(frames), rate, sr, quality="HQ")


@pytest.mark.parametrize("suffix,extra", [(".m4a", []), (".aac", ["-f", "adts"])])
def test_formats_soundfile_cannot_read_go_through_ffmpeg(tmp_path, stereo, suffix, extra):
    ffmpeg = require_ffmpeg()
    write_wav(tmp_path / "s.wav", stereo, 44100)
    path = tmp_path / ("s" + suffix)
    subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(tmp_path / "s.wav"), "-c:a", "aac",
                    *extra, str(path)], check=True)
    with pytest.raises(sf.LibsndfileError):
        sf.read(path)
    expected = ffmpeg_reference(ffmpeg, path, 16000)
    got = load_audio(path)
    assert got.dtype == np.float32 and got.size >= 1600  # AAC adds priming samples
    np.testing.assert_array_equal(got, expected)
    if suffix == ".aac":  # a stream format: also readable from bytes through a pipe
        np.testing.assert_array_equal(load_audio(path.read_bytes()), expected)


def test_undecodable_file_names_both_decoders(tmp_path):
    require_ffmpeg()
    path = tmp_path / "junk.bin"
    path.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioFormatError, match=r"^cannot decode audio: soundfile says .*; ffmpeg says "):
        load_audio(path)


def test_missing_ffmpeg_gives_a_clear_error(tmp_path, monkeypatch):
    path = tmp_path / "junk.bin"
    path.write_bytes(b"x" * 100)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(AudioFormatError, match="install ffmpeg"):
        load_audio(path)


def test_bad_wav_is_not_passed_to_other_decoders(tmp_path):
    path = tmp_path / "bad.wav"
    path.write_bytes(b"RIFF\0\0\0\0WAVE" + b"fmt " + (14).to_bytes(4, "little") + bytes(14))
    with pytest.raises(AudioFormatError, match="^'fmt ' chunk is 14 bytes, needs at least 16$"):
        load_audio(path)
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    with pytest.raises(AudioFormatError, match=r"^file is empty \(0 bytes\); expected audio$"):
        load_audio(empty)


# ---------------------------------------------------------------- arrays



@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("channels", [1, 2])
def test_arrays_in_any_layout_equal_c_float32(stereo, layout, channels):
    x = np.ascontiguousarray(stereo[:, :channels])
    variant = LAYOUTS[layout](x)
    if channels == 1:
        x, variant = x[:, 0], variant[:, 0]
    reference = load_audio(x, 16000, source_sample_rate=44100)
    np.testing.assert_array_equal(load_audio(variant, 16000, source_sample_rate=44100), reference)
    assert reference.shape == (1600,)


def test_integer_arrays_are_scaled():
    ints = np.array([[-32768, 32767], [16384, 0]], dtype=np.int16)
    np.testing.assert_array_equal(load_audio(ints), [(-1.0 + 32767 / 32768) / 2, 0.25])
    np.testing.assert_array_equal(load_audio(ints.astype(">i2")), load_audio(ints))
    np.testing.assert_array_equal(load_audio(np.array([0, 128, 255], np.uint8)),
                                  [-1.0, 0.0, 127 / 128])
    np.testing.assert_array_equal(load_audio(np.array([-2**31, 2**30], np.int32)), [-1.0, 0.5])


def test_array_result_never_aliases_the_input():
    x = np.zeros(100, np.float32)
    out = load_audio(x)
    out[0] = 1.0
    assert x[0] == 0.0


@pytest.mark.parametrize("array,message", [
    (np.array([object(), object()]), "arrays of dtype object cannot hold audio"),
    (np.zeros(3, np.complex128), "arrays of dtype complex128 cannot hold audio"),
    (np.zeros(3, bool), "arrays of dtype bool cannot hold audio"),
    (np.zeros(3, "U1"), "arrays of dtype <U1 cannot hold audio"),
    (np.zeros((2, 2, 2), np.float32), r"^load_audio\(\): audio arrays must be 1-D or 2-D \[frames, channels\], got shape \(2, 2, 2\)$"),
    (np.zeros((2, 48000), np.float32), r"array of shape \(2, 48000\) has 48000 channels; .*pass array.T"),
    (np.zeros((10, 0), np.float32), r"array of shape \(10, 0\) has 0 channels"),
])
def test_unusable_arrays_are_rejected(array, message):
    with pytest.raises(AudioFormatError, match=message):
        load_audio(array)


def test_the_first_bad_sample_is_named(tmp_path):
    x = np.zeros((10, 2), np.float32)
    x[6, 1], x[8, 0] = np.inf, np.nan
    for validate in (False, True):  # arrays are always checked (the gateway's rule)
        with pytest.raises(AudioFormatError, match=r"^sample 13 \(frame 6, channel 1\) is inf; "
                                                   r"load_audio\(\) must hold finite samples$"):
            load_audio(x, validate=validate)
    write_wav(tmp_path / "n.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioFormatError, match=r"^sample 13 \(frame 6, channel 1\) is inf; "
                                               r"audio must be finite \(validate=True\)$"):
        load_audio(tmp_path / "n.wav", validate=True)
    assert np.isinf(load_audio(tmp_path / "n.wav")[6])  # a file without validate passes through


@pytest.mark.parametrize("kwargs,message", [
    ({"sample_rate": 0}, r"^load_audio\(\): sample_rate must be between 1 and 1000000 Hz, got 0$"),
    ({"sample_rate": 16000.0}, "sample_rate must be an integer number of Hz, got 16000.0"),
    ({"sample_rate": True}, "sample_rate must be an integer number of Hz, got True"),
    ({"source_sample_rate": -5}, "source_sample_rate must be between 1 and 1000000 Hz, got -5"),
])
def test_bad_rates_are_rejected(kwargs, message):
    with pytest.raises(AudioFormatError, match=message):
        load_audio(np.zeros(10, np.float32), **kwargs)


def test_source_sample_rate_is_only_for_arrays():
    with pytest.raises(AudioFormatError, match="source_sample_rate applies only to array sources"):
        load_audio(HELLO, source_sample_rate=8000)


# ---------------------------------------------------------------- info and CLI

def test_audio_info_of_hello_wav():
    frames, _ = read_wav(HELLO)
    peak = float(np.abs(frames).max())
    assert audio_info(HELLO) == AudioInfo("WAV", "PCM_16", 16000, 1, 75161, 75161 / 16000,
                                          20 * math.log10(peak))


def test_audio_info_of_silence_flac_and_garbage(tmp_path):
    write_wav(tmp_path / "z.wav", np.zeros((70000, 2)), 8000, subtype="PCM_24")
    assert audio_info(tmp_path / "z.wav") == AudioInfo("WAV", "PCM_24", 8000, 2, 70000, 8.75, -math.inf)
    sf.write(tmp_path / "h.flac", np.full(100, 0.5), 22050)
    assert audio_info(tmp_path / "h.flac") == AudioInfo("FLAC", "PCM_16", 22050, 1, 100, 100 / 22050,
                                                        20 * math.log10(0.5))
    (tmp_path / "g.bin").write_bytes(b"garbage!" * 4)
    with pytest.raises(AudioFormatError, match="^cannot read audio: .*audio_info reads WAV and the formats libsndfile reads"):
        audio_info(tmp_path / "g.bin")


def test_cli_info_prints_one_exact_line(capsys):
    assert main(["info", str(HELLO)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{HELLO}: WAV PCM_16, 16000 Hz, 1 channel, 4.70 s, peak -2.40 dBFS\n"
    assert err == ""


def test_cli_info_reports_bad_files_and_still_prints_good_ones(tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF")
    write_wav(tmp_path / "s.wav", np.zeros((48000, 2)), 48000)
    assert main(["info", str(bad), str(tmp_path / "missing.wav"), str(tmp_path / "s.wav")]) == 1
    out, err = capsys.readouterr()
    assert out == f"{tmp_path / 's.wav'}: WAV PCM_16, 48000 Hz, 2 channels, 1.00 s, peak -inf dBFS\n"
    assert err.splitlines() == [
        f"lumina: error: {bad}: file is truncated: 4 bytes, a RIFF/WAVE header needs at least 12",
        f"lumina: error: {tmp_path / 'missing.wav'}: no such file",
    ]


def test_public_names_are_exported():
    for name in ("load_audio", "write_wav", "audio_info", "AudioInfo"):
        assert name in lumina.__all__ and getattr(lumina, name) is getattr(lumina.audio, name)
    assert "read_wav" in lumina.audio.__all__ and "read_wav" not in lumina.__all__   # plumbing
