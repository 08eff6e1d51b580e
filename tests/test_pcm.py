"""The compiled sample converters (lumina._core.pcm) against numpy references."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lumina._core import pcm

FLOATS = hnp.arrays(np.float32, st.integers(0, 300),
                    elements=st.floats(-4.0, 4.0, width=32))


def ref_s16(x):
    return np.clip(np.rint(x.astype(np.float64) * 32768), -32768, 32767).astype(np.int16)


def ref_s24(x):
    return np.clip(np.rint(x.astype(np.float64) * 2**23), -2**23, 2**23 - 1).astype(np.int32)


def ref_s32(x):
    return np.clip(np.rint(x.astype(np.float64) * 2**31), -2**31, 2**31 - 1).astype(np.int64).astype(np.int32)


def pack24(ints):
    u = ints.astype("<i4").view(np.uint8).reshape(-1, 4)
    return u[:, :3].tobytes()


@settings(max_examples=60)
@given(hnp.arrays(np.int16, st.integers(0, 500)))
def test_s16_to_f32_divides_by_32768(x):
    out = np.empty(x.size, np.float32)
    pcm.s16_to_f32(x, out)
    np.testing.assert_array_equal(out, x.astype(np.float32) / np.float32(32768))


@settings(max_examples=60)
@given(hnp.arrays(np.int32, st.integers(0, 500)))
def test_s32_to_f32_matches_float_cast_then_scale(x):
    out = np.empty(x.size, np.float32)
    pcm.s32_to_f32(x, out)
    np.testing.assert_array_equal(out, x.astype(np.float32) / np.float32(2**31))


@settings(max_examples=60)
@given(hnp.arrays(np.int32, st.integers(0, 500), elements=st.integers(-2**23, 2**23 - 1)))
def test_s24_packed_to_f32_divides_by_2_pow_23(ints):
    out = np.empty(ints.size, np.float32)
    pcm.s24_to_f32(pack24(ints), out)
    np.testing.assert_array_equal(out, ints.astype(np.float32) / np.float32(2**23))


@settings(max_examples=40)
@given(hnp.arrays(np.uint8, st.integers(0, 500)))
def test_u8_to_f32_centres_on_128(x):
    out = np.empty(x.size, np.float32)
    pcm.u8_to_f32(x, out)
    np.testing.assert_array_equal(out, (x.astype(np.float32) - 128) / np.float32(128))


@settings(max_examples=40)
@given(hnp.arrays(np.float64, st.integers(0, 300), elements=st.floats(allow_nan=False)))
def test_f64_to_f32_rounds_like_astype(x):
    out = np.empty(x.size, np.float32)
    with np.errstate(over="ignore"):
        expected = x.astype(np.float32)
    pcm.f64_to_f32(x, out)
    np.testing.assert_array_equal(out, expected)


@settings(max_examples=80)
@given(FLOATS)
def test_f32_to_s16_scales_rounds_and_clips(x):
    out = np.empty(x.size, np.int16)
    pcm.f32_to_s16(x, out)
    np.testing.assert_array_equal(out, ref_s16(x))


@settings(max_examples=80)
@given(FLOATS)
def test_f32_to_s24_scales_rounds_and_clips(x):
    packed = bytearray(3 * x.size)
    pcm.f32_to_s24(x, packed)
    assert bytes(packed) == pack24(ref_s24(x))


@settings(max_examples=80)
@given(FLOATS)
def test_f32_to_s32_scales_in_double_rounds_and_clips(x):
    out = np.empty(x.size, np.int32)
    pcm.f32_to_s32(x, out)
    np.testing.assert_array_equal(out, ref_s32(x))


def test_full_scale_conventions():
    x = np.array([1.0, -1.0, 0.5, -0.5, 1.5, -2.0, 0.0, 1 / 65536, 3 / 65536], np.float32)
    s16 = np.empty(x.size, np.int16)
    pcm.f32_to_s16(x, s16)
    assert s16.tolist() == [32767, -32768, 16384, -16384, 32767, -32768, 0, 0, 2]
    s32 = np.empty(x.size, np.int32)
    pcm.f32_to_s32(x, s32)
    assert s32.tolist()[:6] == [2**31 - 1, -2**31, 2**30, -2**30, 2**31 - 1, -2**31]
    back = np.empty(2, np.float32)
    pcm.s16_to_f32(np.array([32767, -32768], np.int16), back)
    assert back.tolist() == [32767 / 32768, -1.0]


def test_nan_encodes_to_zero_and_inf_clips():
    x = np.array([np.nan, np.inf, -np.inf], np.float32)
    s16 = np.empty(3, np.int16)
    pcm.f32_to_s16(x, s16)
    assert s16.tolist() == [0, 32767, -32768]
    packed = bytearray(9)
    pcm.f32_to_s24(x, packed)
    assert bytes(packed) == pack24(np.array([0, 2**23 - 1, -2**23]))
    s32 = np.empty(3, np.int32)
    pcm.f32_to_s32(x, s32)
    assert s32.tolist() == [0, 2**31 - 1, -2**31]


@pytest.mark.parametrize("fmt,dtype", [(pcm.U8, "u1"), (pcm.S16, "<i2"), (pcm.S32, "<i4"),
                                       (pcm.F32, "<f4"), (pcm.F64, "<f8")])
@pytest.mark.parametrize("offset", [0, 1, 3])
def test_decode_reads_little_endian_bytes_at_any_alignment(fmt, dtype, offset):
    rng = np.random.default_rng(7)
    if dtype[-2] == "f":
        values = rng.uniform(-1, 1, 257).astype(dtype)
        expected = values.astype(np.float32)
    else:
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, 257, endpoint=True).astype(dtype)
        expected = np.empty(257, np.float32)
        {pcm.U8: pcm.u8_to_f32, pcm.S16: pcm.s16_to_f32, pcm.S32: pcm.s32_to_f32}[fmt](
            values.astype(values.dtype.newbyteorder("=")), expected)
    raw = memoryview(b"\xAA" * offset + values.tobytes())[offset:]
    out = np.empty(257, np.float32)
    pcm.decode(raw, fmt, out)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("fmt", [pcm.S16, pcm.S24, pcm.S32, pcm.F32])
def test_encode_then_decode_is_the_quantised_input(fmt):
    x = np.linspace(-1.2, 1.2, 1001, dtype=np.float32)
    width = {pcm.S16: 2, pcm.S24: 3, pcm.S32: 4, pcm.F32: 4}[fmt]
    raw = bytearray(width * x.size)
    pcm.encode(x, fmt, raw)
    back = np.empty(x.size, np.float32)
    pcm.decode(bytes(raw), fmt, back)
    expected = {pcm.S16: lambda: ref_s16(x) / np.float32(32768),
                pcm.S24: lambda: ref_s24(x).astype(np.float32) / np.float32(2**23),
                pcm.S32: lambda: ref_s32(x).astype(np.float32) / np.float32(2**31),
                pcm.F32: lambda: x}[fmt]()
    np.testing.assert_array_equal(back, expected.astype(np.float32))


def sequential_mean(frames):
    acc = frames[:, 0].copy()
    for c in range(1, frames.shape[1]):
        acc += frames[:, c]
    return acc / np.float32(frames.shape[1])


@pytest.mark.parametrize("channels", [1, 2, 3, 6, 7])
@pytest.mark.parametrize("frames", [0, 1, 2, 584, 585, 586, 4095, 4096, 4097, 20001])
def test_decode_mono_and_downmix_average_channels_exactly(channels, frames):
    rng = np.random.default_rng(frames * 10 + channels)
    ints = rng.integers(-32768, 32767, (frames, channels), endpoint=True).astype("<i2")
    floats = ints.astype(np.float32) / np.float32(32768)
    mono = np.empty(frames, np.float32)
    pcm.decode_mono(ints.tobytes(), pcm.S16, channels, mono)
    np.testing.assert_array_equal(mono, sequential_mean(floats))
    mixed = np.empty(frames, np.float32)
    pcm.downmix(floats, mixed)
    np.testing.assert_array_equal(mixed, sequential_mean(floats))


def test_first_nonfinite_and_has_nonfinite_and_peak():
    x = np.zeros(100, np.float32)
    assert pcm.first_nonfinite(x) == -1 and pcm.has_nonfinite(x) is False
    x[[40, 70]] = [np.inf, np.nan]
    assert pcm.first_nonfinite(x) == 40 and pcm.has_nonfinite(x) is True
    x[40] = -0.75
    assert pcm.first_nonfinite(x) == 70
    assert pcm.peak(x) == 0.75  # NaN is ignored
    assert pcm.peak(np.empty(0, np.float32)) == 0.0
    assert pcm.first_nonfinite(np.empty(0, np.float32)) == -1


def test_core_rejects_wrong_sizes_and_codes_with_value_error():
    out = np.empty(10, np.float32)
    with pytest.raises(ValueError, match="raw holds 19 bytes, need 20"):
        pcm.decode(bytes(19), pcm.S16, out)
    with pytest.raises(ValueError, match="unknown sample format code 9"):
        pcm.decode(bytes(40), 9, out)
    with pytest.raises(ValueError, match="source has 9 samples but destination has 10"):
        pcm.s16_to_f32(np.zeros(9, np.int16), out)
    with pytest.raises(ValueError, match="out holds 5 bytes, need 20"):
        pcm.encode(out, pcm.S16, bytearray(5))
    with pytest.raises(ValueError, match="cannot encode to sample format code 0"):
        pcm.encode(out, pcm.U8, bytearray(10))
    with pytest.raises(ValueError, match="channels must be in 1..4096, got 0"):
        pcm.decode_mono(bytes(40), pcm.S16, 0, out)
    with pytest.raises(ValueError, match="out has 10 samples, frames has 3 frames"):
        pcm.downmix(np.zeros((3, 2), np.float32), out)


def test_core_refuses_non_contiguous_and_wrong_dtype_buffers():
    out = np.empty(5, np.float32)
    with pytest.raises(ValueError, match="contiguous"):
        pcm.s16_to_f32(np.zeros(10, np.int16)[::2], out)
    with pytest.raises(ValueError, match="Buffer dtype mismatch"):
        pcm.s16_to_f32(np.zeros(5, np.int32), out)
    with pytest.raises(ValueError, match="read-only"):
        pcm.decode(bytes(10), pcm.S16, np.frombuffer(bytes(20), np.float32))
