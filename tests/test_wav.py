"""read_wav and write_wav: libsndfile parity, hand-built files, malformed input."""

import os
import struct

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from _wav_util import LAYOUTS, chunk, extensible_body, fmt_body, pcm16, riff
from lumina import ArgumentError, AudioFormatError, write_wav
from lumina.audio import read_wav
from lumina.audio import wavfile as _wav

SUBTYPES = ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"]


@pytest.fixture(scope="module")
def noise():
    return np.random.default_rng(1).uniform(-1.0, 1.0, (733, 6))


@pytest.mark.parametrize("subtype", SUBTYPES)
@pytest.mark.parametrize("channels", [1, 2, 3, 6])
@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
@pytest.mark.parametrize("container", ["WAV", "WAVEX"])
def test_decoding_equals_libsndfile(tmp_path, noise, subtype, channels, rate, container):
    path = tmp_path / "x.wav"
    sf.write(path, noise[:, :channels], rate, subtype=subtype, format=container)
    expected, _ = sf.read(path, dtype="float32", always_2d=True)
    tag = struct.unpack_from("<H", path.read_bytes(), 20)[0]
    assert tag == (0xFFFE if container == "WAVEX" else (3 if subtype in ("FLOAT", "DOUBLE") else 1))
    got, got_rate = read_wav(path)
    assert got_rate == rate and got.dtype == np.float32 and got.shape == (733, channels)
    np.testing.assert_array_equal(got, expected)


def test_sources_path_str_bytes_bytearray_memoryview_and_file_agree(tmp_path, noise):
    path = tmp_path / "x.wav"
    sf.write(path, noise[:, :2], 16000, subtype="PCM_16")
    data = path.read_bytes()
    reference, _ = read_wav(path)
    with open(path, "rb") as file:
        from_file = read_wav(file)[0]
    for got in (read_wav(str(path))[0], read_wav(data)[0], read_wav(bytearray(data))[0],
                read_wav(memoryview(data))[0], from_file):
        np.testing.assert_array_equal(got, reference)


def test_odd_chunks_with_pad_byte_list_fact_and_unknown_chunks_are_skipped():
    ints = np.array([[1, -2], [300, -32768], [32767, 0]])
    data = riff(chunk(b"LIST", b"INFOIART\x05\0\0\0abcd\0"),  # odd body: pad byte follows
                chunk(b"junk", b"\x01\x02\x03"),
                chunk(b"fmt ", fmt_body(channels=2)),
                chunk(b"fact", struct.pack("<I", 3)),
                chunk(b"bext", b"x" * 7),
                chunk(b"data", pcm16(ints)),
                chunk(b"LIST", b"INFO"))
    got, rate = read_wav(data)
    assert rate == 16000
    np.testing.assert_array_equal(got, ints / np.float32(32768))


def test_data_size_smaller_than_file_stops_at_declared_size():
    ints = np.arange(8).reshape(4, 2)
    data = riff(chunk(b"fmt ", fmt_body(channels=2)), chunk(b"data", pcm16(ints)),
                chunk(b"LIST", b"INFOtrailing chunk not audio"))
    np.testing.assert_array_equal(read_wav(data)[0], ints / np.float32(32768))


@pytest.mark.parametrize("declared", [0, 0xFFFFFFFF, 10_000, 13])
@pytest.mark.parametrize("riff_size", [0, 0xFFFFFFFF, 7])
def test_lying_sizes_read_the_whole_frames_present(declared, riff_size):
    ints = np.arange(-6, 6).reshape(6, 2)
    body = pcm16(ints) + b"\x7f"  # a stray byte: not a whole frame
    data = riff(chunk(b"fmt ", fmt_body(channels=2)), chunk(b"data", body, size=declared),
                size=riff_size)
    got, _ = read_wav(data)
    frames = 3 if declared == 13 else 6  # 13 bytes honestly declared: 3 whole frames
    np.testing.assert_array_equal(got, ints[:frames] / np.float32(32768))


def test_rf64_uses_the_ds64_data_size():
    ints = np.arange(10).reshape(10, 1)
    ds64 = struct.pack("<QQQI", 0, 8, 4, 0)  # data size 8 bytes = 4 frames
    data = riff(chunk(b"ds64", ds64), chunk(b"fmt ", fmt_body()),
                chunk(b"data", pcm16(ints), size=0xFFFFFFFF), magic=b"RF64", size=0xFFFFFFFF)
    np.testing.assert_array_equal(read_wav(data)[0], ints[:4] / np.float32(32768))


def test_extensible_with_fewer_valid_bits_decodes_by_container():
    ints = np.array([[0x123400, -0x100], [0x7FFF00, -0x800000]])
    raw = ints.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    data = riff(chunk(b"fmt ", extensible_body(channels=2, bits=24, valid_bits=20)),
                chunk(b"data", raw))
    np.testing.assert_array_equal(read_wav(data)[0], ints / np.float32(2**23))


def test_zero_frames_gives_an_empty_array_of_the_right_shape():
    got, rate = read_wav(riff(chunk(b"fmt ", fmt_body(channels=3, bits=24, rate=8000)),
                              chunk(b"data", b"")))
    assert got.shape == (0, 3) and got.dtype == np.float32 and rate == 8000


def test_many_tiny_chunks_parse_in_one_pass():
    data = riff(*[chunk(b"junk", b"")] * 50_000, chunk(b"fmt ", fmt_body()),
                chunk(b"data", pcm16(np.array([5]))))
    assert read_wav(data)[0].tolist() == [[5 / 32768]]


# ---------------------------------------------------------------- malformed input

CANONICAL_FRAMES = np.array([[1, -1], [2, -2], [3, -3], [4, -4], [5, -5]])
CANONICAL = riff(chunk(b"fmt ", fmt_body(channels=2)), chunk(b"data", pcm16(CANONICAL_FRAMES)))


def expected_truncation_error(k):
    if k == 0:
        return "file is empty (0 bytes); expected a WAV file"
    if k < 12:
        return f"file is truncated: {k} bytes, a RIFF/WAVE header needs at least 12"
    if k == 12:
        return "no 'fmt ' chunk before the end of the file"
    if k < 20:
        return f"file is truncated: chunk header at byte 12 needs 8 bytes, {k - 12} remain"
    if k < 36:
        return f"file is truncated: chunk b'fmt ' at byte 12 declares 16 bytes but only {k - 20} remain"
    if k == 36:
        return "no 'data' chunk before the end of the file"
    return f"file is truncated: chunk header at byte 36 needs 8 bytes, {k - 36} remain"


@pytest.mark.parametrize("k", range(len(CANONICAL)))
def test_every_truncation_offset_gives_an_exact_outcome(k):
    head = CANONICAL[:k]
    if k < 44:
        with pytest.raises(AudioFormatError) as info:
            read_wav(head)
        assert str(info.value) == expected_truncation_error(k)
    else:  # inside the data: every whole frame present, nothing more
        got, _ = read_wav(head)
        np.testing.assert_array_equal(got, CANONICAL_FRAMES[:(k - 44) // 4] / np.float32(32768))


RICH = riff(chunk(b"LIST", b"INFOISFT\x03\0\0\0ab\0"), chunk(b"fmt ", extensible_body(channels=2)),
            chunk(b"fact", struct.pack("<I", 5)), chunk(b"data", pcm16(CANONICAL_FRAMES)))


def test_every_truncation_of_a_file_with_more_chunks():
    data_offset = RICH.index(b"data") + 8
    for k in range(len(RICH)):
        if k < data_offset:
            with pytest.raises(AudioFormatError, match=r"truncated|empty|^no '(fmt |data)' chunk"):
                read_wav(RICH[:k])
        else:
            assert read_wav(RICH[:k])[0].shape == ((k - data_offset) // 4, 2)


def test_truncated_file_on_disk_is_mapped_and_reads_whole_frames(tmp_path):
    path = tmp_path / "cut.wav"
    path.write_bytes(CANONICAL[:44 + 4 * 3 + 2])
    np.testing.assert_array_equal(read_wav(path)[0], CANONICAL_FRAMES[:3] / np.float32(32768))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioFormatError, match=r"^file is empty \(0 bytes\)"):
        read_wav(empty)


BAD_FILES = {
    "wrong magic": (b"OggS" + bytes(40), "not a WAV file: starts with b'OggS', expected b'RIFF'"),
    "rifx": (b"RIFX" + bytes(4) + b"WAVE" + bytes(30), "big-endian RIFX WAV is not supported"),
    "avi": (riff(kind=b"AVI "), "RIFF file of type b'AVI ', not b'WAVE'"),
    "channels 0": (riff(chunk(b"fmt ", fmt_body(channels=0, block_align=2)), chunk(b"data", b"")),
                   "'fmt ' chunk declares 0 channels; supported: 1 to 1024"),
    "channels 65535": (riff(chunk(b"fmt ", fmt_body(channels=65535, block_align=2)), chunk(b"data", b"")),
                       "'fmt ' chunk declares 65535 channels; supported: 1 to 1024"),
    "rate 0": (riff(chunk(b"fmt ", fmt_body(rate=0)), chunk(b"data", b"")),
               "'fmt ' chunk declares a sample rate of 0 Hz; supported: 1 to 1000000"),
    "rate huge": (riff(chunk(b"fmt ", fmt_body(rate=0xFFFFFFFF // 2)), chunk(b"data", b"")),
                  "'fmt ' chunk declares a sample rate of 2147483647 Hz"),
    "bits 7": (riff(chunk(b"fmt ", fmt_body(bits=7, block_align=1)), chunk(b"data", b"")),
               "PCM with 7 bits per sample is not supported (supported: 8, 16, 24, 32)"),
    "float 16": (riff(chunk(b"fmt ", fmt_body(tag=3, bits=16)), chunk(b"data", b"")),
                 "IEEE float with 16 bits per sample is not supported (supported: 32, 64)"),
    "block_align": (riff(chunk(b"fmt ", fmt_body(channels=2, block_align=3)), chunk(b"data", b"")),
                    "'fmt ' chunk declares block_align 3, but 2 channels of 16-bit samples need 4"),
    "block_align overflow": (riff(chunk(b"fmt ", fmt_body(channels=1024, bits=32, block_align=0)),
                                  chunk(b"data", b"")),
                             "'fmt ' chunk declares block_align 0, but 1024 channels of 32-bit samples need 4096"),
    "adpcm": (riff(chunk(b"fmt ", fmt_body(tag=2, bits=4, block_align=256)), chunk(b"data", b"")),
              "WAV format tag 0x0002 (Microsoft ADPCM) is not supported by read_wav"),
    "short fmt": (riff(chunk(b"fmt ", fmt_body()[:14]), chunk(b"data", b"")),
                  "'fmt ' chunk is 14 bytes, needs at least 16"),
    "short extensible": (riff(chunk(b"fmt ", extensible_body()[:30]), chunk(b"data", b"")),
                         "WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is 30 bytes, needs at least 40"),
    "ambisonic guid": (riff(chunk(b"fmt ", extensible_body(guid_tail=bytes(14))), chunk(b"data", b"")),
                       "WAVE_FORMAT_EXTENSIBLE sub-format GUID 0100" + "00" * 14 + " is not a PCM or float format"),
    "data before fmt": (riff(chunk(b"data", b"\0\0"), chunk(b"fmt ", fmt_body())),
                        "'data' chunk at byte 12 comes before the 'fmt ' chunk"),
    "no data": (riff(chunk(b"fmt ", fmt_body()), chunk(b"LIST", b"INFO")),
                "no 'data' chunk before the end of the file"),
    "two fmt": (riff(chunk(b"fmt ", fmt_body()), chunk(b"fmt ", fmt_body()), chunk(b"data", b"")),
                "second 'fmt ' chunk at byte 36"),
    "chunk past eof": (riff(chunk(b"LIST", b"INFO", size=1000), chunk(b"fmt ", fmt_body())),
                       "file is truncated: chunk b'LIST' at byte 12 declares 1000 bytes but only"),
    "short ds64": (riff(chunk(b"ds64", bytes(8)), magic=b"RF64"), "'ds64' chunk is 8 bytes, needs at least 24"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_headers_name_the_problem(name):
    data, message = BAD_FILES[name]
    with pytest.raises(AudioFormatError) as info:
        read_wav(data)
    assert str(info.value).startswith(message)


def test_unsupported_encodings_raise_the_unsupported_subclass():
    with pytest.raises(_wav.UnsupportedEncoding):
        read_wav(BAD_FILES["adpcm"][0])


def test_wrong_source_types():
    with pytest.raises(ArgumentError, match="audio source must be a path, bytes, a binary file object "
                                            r"or \(where arrays are taken\) a numpy array, not int"):
        read_wav(42)
    import io
    with pytest.raises(AudioFormatError, match="file object returned str, not bytes; open it in binary mode"):
        read_wav(io.StringIO("RIFF"))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_any_bytes_give_a_result_or_audio_format_error(data):
    for candidate in (data, b"RIFF\xff\xff\xff\xffWAVE" + data, CANONICAL[:36] + data):
        try:
            samples, rate = read_wav(candidate)
        except AudioFormatError:
            continue
        assert samples.dtype == np.float32 and samples.ndim == 2 and 1 <= rate <= 1_000_000


@settings(max_examples=300)
@given(st.lists(st.tuples(st.integers(0, len(RICH) - 1), st.integers(0, 255)), min_size=1, max_size=6))
def test_corrupted_bytes_of_a_valid_file_give_a_result_or_audio_format_error(edits):
    data = bytearray(RICH)
    for offset, value in edits:
        data[offset] = value
    try:
        samples, _ = read_wav(bytes(data))
    except AudioFormatError as exc:
        assert str(exc)
    else:
        assert samples.dtype == np.float32 and samples.shape[0] * samples.shape[1] <= len(data)


# ---------------------------------------------------------------- writing

def quantised(x, bits):
    scale = 2.0 ** (bits - 1)
    ints = np.clip(np.rint(x.astype(np.float64) * scale), -scale, scale - 1)
    return ints


FRAMES = hnp.arrays(np.float32, st.tuples(st.integers(0, 200), st.integers(1, 4)),
                    elements=st.floats(-1.5, 1.5, width=32))


@settings(max_examples=40, deadline=None)
@given(FRAMES, st.sampled_from(["PCM_16", "PCM_24", "PCM_32"]))
def test_pcm_round_trip_is_exact_after_quantisation(tmp_path_factory, x, subtype):
    path = tmp_path_factory.mktemp("w") / "x.wav"
    write_wav(path, x, 22050, subtype=subtype)
    bits = int(subtype[4:])
    ints = quantised(x, bits)
    got, rate = read_wav(path)
    assert rate == 22050
    np.testing.assert_array_equal(got, (ints.astype(np.int32).astype(np.float32)
                                        / np.float32(2.0 ** (bits - 1))))
    dtype = "int16" if bits == 16 else "int32"
    libsndfile, _ = sf.read(path, dtype=dtype, always_2d=True)
    shift = 8 if bits == 24 else 0  # libsndfile left-justifies 24-bit samples in int32
    np.testing.assert_array_equal(libsndfile, (ints.astype(np.int64) << shift).reshape(libsndfile.shape))


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(0, 200), st.integers(1, 3)),
                  elements=st.floats(width=32)))
def test_float_round_trip_is_bit_exact(tmp_path_factory, x):
    path = tmp_path_factory.mktemp("w") / "x.wav"
    write_wav(path, x, 8000, subtype="FLOAT")
    got, _ = read_wav(path)
    assert got.tobytes() == x.tobytes()
    assert sf.info(path).subtype == "FLOAT" and sf.info(path).frames == x.shape[0]


def test_pcm16_clipping_convention(tmp_path):
    path = tmp_path / "c.wav"
    write_wav(path, np.array([1.0, -1.0, 1.5, -1.5, 0.5, 0.25 / 32768]), 16000)
    assert sf.read(path, dtype="int16")[0].tolist() == [32767, -32768, 32767, -32768, 16384, 0]


def test_odd_sized_pcm24_data_is_padded_and_readable(tmp_path):
    path = tmp_path / "odd.wav"
    write_wav(path, np.array([0.5, -0.5, 0.25], np.float32), 16000, subtype="PCM_24")
    data = path.read_bytes()
    assert len(data) == 44 + 9 + 1 and struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    assert sf.read(path, dtype="float32")[0].tolist() == [0.5, -0.5, 0.25]




@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_write_wav_reads_every_memory_layout_like_c_float32(tmp_path, noise, layout):
    x = noise[:100, :3].astype(np.float32)
    variant = LAYOUTS[layout](x)
    write_wav(tmp_path / "ref.wav", x, 16000)
    write_wav(tmp_path / "var.wav", variant, 16000)
    assert (tmp_path / "var.wav").read_bytes() == (tmp_path / "ref.wav").read_bytes()


def test_write_wav_of_int16_is_lossless(tmp_path):
    ints = np.array([[-32768, 32767], [0, -1], [12345, -12345]], dtype=">i2")
    write_wav(tmp_path / "i.wav", ints, 16000)
    assert sf.read(tmp_path / "i.wav", dtype="int16")[0].tolist() == ints.tolist()


def test_write_wav_rejects_bad_arguments_with_clear_errors(tmp_path):
    path = tmp_path / "x.wav"
    with pytest.raises(AudioFormatError, match=r"subtype 'PCM_8' is not supported; use one of \['FLOAT', 'PCM_16', 'PCM_24', 'PCM_32'\]"):
        write_wav(path, np.zeros(4), 16000, subtype="PCM_8")
    with pytest.raises(AudioFormatError, match=r"^write_wav\(\): sample_rate must be between 1 and 1000000 Hz, got 0$"):
        write_wav(path, np.zeros(4), 0)
    bad = np.zeros((4, 2), np.float32)
    bad[2, 1] = np.nan
    with pytest.raises(AudioFormatError, match=r"^sample 5 \(frame 2, channel 1\) is nan; audio cannot be "
                                               "written as integer PCM"):
        write_wav(path, bad, 16000)
    with pytest.raises(AudioFormatError, match="arrays of dtype complex64 cannot hold audio"):
        write_wav(path, np.zeros(4, np.complex64), 16000)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_failed_write_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "keep.wav"
    write_wav(path, np.zeros(10), 16000)
    before = path.read_bytes()

    def explode(file, flat, sample_format):
        file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(_wav, "_write_samples", explode)
    with pytest.raises(OSError, match="disk full"):
        write_wav(path, np.ones(10), 16000)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.wav"]


def test_written_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_wav(tmp_path / "m.wav", np.zeros(3), 16000)
    finally:
        os.umask(old)
    assert (tmp_path / "m.wav").stat().st_mode & 0o777 == 0o640


def test_large_paths_are_memory_mapped_and_the_map_is_closed(tmp_path, noise, monkeypatch):
    import mmap
    path = tmp_path / "big.wav"
    sf.write(path, noise[:, :2], 16000, subtype="PCM_24")
    maps, real_mmap = [], mmap.mmap

    def spy(*args, **kwargs):
        maps.append(real_mmap(*args, **kwargs))
        return maps[-1]

    monkeypatch.setattr(_wav, "MAP_THRESHOLD", 0)
    monkeypatch.setattr(_wav.mmap, "mmap", spy)
    got, _ = read_wav(path)
    np.testing.assert_array_equal(got, sf.read(path, dtype="float32")[0])
    assert len(maps) == 1 and maps[0].closed
    with pytest.raises(AudioFormatError, match="no 'data' chunk"):
        path.write_bytes(CANONICAL[:36])
        read_wav(path)
    assert len(maps) == 2 and maps[1].closed
