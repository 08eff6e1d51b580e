# cython: language_level=3, boundscheck=False, wraparound=False
"""PCM sample conversion: the inner loops of WAV decoding and encoding.

Every function here assumes the Python layer (lumina.audio) has validated
its input; it checks only what it needs to stay memory safe (buffer sizes)
and raises lumina's ArgumentError (a ValueError) when those are wrong.  All loops run without the GIL.

Conventions (the ones libsndfile uses with clipping enabled):
int -> float divides by 2**(bits-1), so int16 -32768 -> -1.0 and 32767 ->
0.99997; float -> int multiplies by 2**(bits-1), rounds half to even and
clips to the integer range, so 1.0 -> 32767 and -1.0 -> -32768.
NaN encodes to 0.
"""

from libc.math cimport fabsf, isfinite, lrint, lrintf
from libc.stdint cimport int16_t, int32_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy
from lumina.errors import ArgumentError

# Python-visible names of the SampleFormat enum (declared in pcm.pxd).
U8 = FMT_U8
S16 = FMT_S16
S24 = FMT_S24
S32 = FMT_S32
F32 = FMT_F32
F64 = FMT_F64

# Samples decoded per scratch block when downmixing (fits in L1 cache).
cdef enum:
    SCRATCH = 4096


# --------------------------------------------------------------------------
# scalar helpers: little-endian loads/stores assembled from bytes, so they
# work at any alignment (chunk data may start at any even offset) and on
# any host byte order; compilers fold them into single loads on x86/ARM.

cdef inline float u8_to_float(uint8_t v) noexcept nogil:
    return <float>(<int>v - 128) * (1.0 / 128.0)


cdef inline float s16_to_float(int16_t v) noexcept nogil:
    return <float>v * (1.0 / 32768.0)


cdef inline float s24_to_float(int32_t v) noexcept nogil:
    return <float>v * (1.0 / 8388608.0)


cdef inline float s32_to_float(int32_t v) noexcept nogil:
    # (float)v rounds to 24 bits first, as libsndfile does.
    return <float>v * (1.0 / 2147483648.0)


cdef inline int16_t load_s16(const uint8_t* p) noexcept nogil:
    return <int16_t>(<uint32_t>p[0] | (<uint32_t>p[1] << 8))


cdef inline int32_t load_s24(const uint8_t* p) noexcept nogil:
    # Put the 24 bits at the top of a 32-bit word, then shift back with sign.
    cdef uint32_t u = (<uint32_t>p[0] << 8) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 24)
    return (<int32_t>u) >> 8


cdef inline uint32_t load_u32(const uint8_t* p) noexcept nogil:
    return (<uint32_t>p[0] | (<uint32_t>p[1] << 8)
            | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24))


cdef inline float load_f32(const uint8_t* p) noexcept nogil:
    cdef uint32_t u = load_u32(p)
    cdef float f
    memcpy(&f, &u, 4)
    return f


cdef inline double load_f64(const uint8_t* p) noexcept nogil:
    cdef uint64_t u = <uint64_t>load_u32(p) | (<uint64_t>load_u32(p + 4) << 32)
    cdef double d
    memcpy(&d, &u, 8)
    return d


cdef inline int16_t float_to_s16(float v) noexcept nogil:
    cdef float s = v * 32768.0
    if s >= 32767.0:
        return 32767
    if s <= -32768.0:
        return -32768
    if s != s:
        return 0
    return <int16_t>lrintf(s)


cdef inline int32_t float_to_s24(float v) noexcept nogil:
    cdef float s = v * 8388608.0
    if s >= 8388607.0:
        return 8388607
    if s <= -8388608.0:
        return -8388608
    if s != s:
        return 0
    return <int32_t>lrintf(s)


cdef inline int32_t float_to_s32(float v) noexcept nogil:
    # float32 has 24 bits, so scale in double to keep the exact product.
    cdef double s = <double>v * 2147483648.0
    if s >= 2147483647.0:
        return 2147483647
    if s <= -2147483648.0:
        return -2147483648
    if s != s:
        return 0
    return <int32_t>lrint(s)


cdef inline void store_u32(uint8_t* p, uint32_t u) noexcept nogil:
    p[0] = <uint8_t>u
    p[1] = <uint8_t>(u >> 8)
    p[2] = <uint8_t>(u >> 16)
    p[3] = <uint8_t>(u >> 24)


# --------------------------------------------------------------------------
# block loops (declared in pcm.pxd)

cdef Py_ssize_t sample_width(int fmt) noexcept nogil:
    if fmt == FMT_U8:
        return 1
    if fmt == FMT_S16:
        return 2
    if fmt == FMT_S24:
        return 3
    if fmt == FMT_F64:
        return 8
    return 4


cdef void decode_raw(const uint8_t* src, int fmt, float* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if fmt == FMT_U8:
        for i in range(n):
            dst[i] = u8_to_float(src[i])
    elif fmt == FMT_S16:
        for i in range(n):
            dst[i] = s16_to_float(load_s16(src + 2 * i))
    elif fmt == FMT_S24:
        for i in range(n):
            dst[i] = s24_to_float(load_s24(src + 3 * i))
    elif fmt == FMT_S32:
        for i in range(n):
            dst[i] = s32_to_float(<int32_t>load_u32(src + 4 * i))
    elif fmt == FMT_F32:
        for i in range(n):
            dst[i] = load_f32(src + 4 * i)
    else:
        for i in range(n):
            dst[i] = <float>load_f64(src + 8 * i)


cdef void decode_raw_mono(const uint8_t* src, int fmt, Py_ssize_t channels,
                          float* dst, Py_ssize_t frames) noexcept nogil:
    # Decode a block of whole frames into scratch, then average each frame:
    # the sum runs channel by channel in float32 and is divided by the count.
    cdef float scratch[SCRATCH]
    cdef Py_ssize_t width = sample_width(fmt)
    cdef Py_ssize_t per_block = SCRATCH // channels
    cdef Py_ssize_t done = 0, count, f, c
    cdef float acc
    cdef float n = <float>channels
    if channels == 1:
        decode_raw(src, fmt, dst, frames)
        return
    while done < frames:
        count = min(per_block, frames - done)
        decode_raw(src + done * channels * width, fmt, scratch, count * channels)
        for f in range(count):
            acc = scratch[f * channels]
            for c in range(1, channels):
                acc = acc + scratch[f * channels + c]
            dst[done + f] = acc / n
        done += count


cdef void encode_raw(const float* src, int fmt, uint8_t* dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef int16_t s16
    cdef int32_t s32
    cdef uint32_t bits
    if fmt == FMT_S16:
        for i in range(n):
            s16 = float_to_s16(src[i])
            dst[2 * i] = <uint8_t>s16
            dst[2 * i + 1] = <uint8_t>(<uint16_t>s16 >> 8)
    elif fmt == FMT_S24:
        for i in range(n):
            s32 = float_to_s24(src[i])
            dst[3 * i] = <uint8_t>s32
            dst[3 * i + 1] = <uint8_t>(<uint32_t>s32 >> 8)
            dst[3 * i + 2] = <uint8_t>(<uint32_t>s32 >> 16)
    elif fmt == FMT_S32:
        for i in range(n):
            store_u32(dst + 4 * i, <uint32_t>float_to_s32(src[i]))
    else:
        for i in range(n):
            memcpy(&bits, &src[i], 4)
            store_u32(dst + 4 * i, bits)


cdef Py_ssize_t find_nonfinite(const float* x, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if not isfinite(x[i]):
            return i
    return -1


# --------------------------------------------------------------------------
# Python entry points

cdef inline int check_fmt(int fmt) except -1:
    if fmt < FMT_U8 or fmt > FMT_F64:
        raise ArgumentError(f"unknown sample format code {fmt}")
    return 0


def decode(const uint8_t[::1] raw, int fmt, float[::1] out):
    """Decode ``len(out)`` little-endian samples of format ``fmt`` from ``raw``."""
    check_fmt(fmt)
    cdef Py_ssize_t n = out.shape[0]
    if raw.shape[0] < n * sample_width(fmt):
        raise ArgumentError(f"raw holds {raw.shape[0]} bytes, need {n * sample_width(fmt)}")
    if n == 0:
        return
    with nogil:
        decode_raw(&raw[0], fmt, &out[0], n)


def decode_mono(const uint8_t[::1] raw, int fmt, Py_ssize_t channels, float[::1] out):
    """Decode ``len(out)`` interleaved frames and average their ``channels``."""
    check_fmt(fmt)
    if channels < 1 or channels > SCRATCH:
        raise ArgumentError(f"channels must be in 1..{SCRATCH}, got {channels}")
    cdef Py_ssize_t frames = out.shape[0]
    cdef Py_ssize_t need = frames * channels * sample_width(fmt)
    if raw.shape[0] < need:
        raise ArgumentError(f"raw holds {raw.shape[0]} bytes, need {need}")
    if frames == 0:
        return
    with nogil:
        decode_raw_mono(&raw[0], fmt, channels, &out[0], frames)


def encode(const float[::1] src, int fmt, uint8_t[::1] out):
    """Encode ``src`` as little-endian S16, S24, S32 or F32 bytes into ``out``."""
    if fmt not in (FMT_S16, FMT_S24, FMT_S32, FMT_F32):
        raise ArgumentError(f"cannot encode to sample format code {fmt}")
    cdef Py_ssize_t n = src.shape[0]
    if out.shape[0] < n * sample_width(fmt):
        raise ArgumentError(f"out holds {out.shape[0]} bytes, need {n * sample_width(fmt)}")
    if n == 0:
        return
    with nogil:
        encode_raw(&src[0], fmt, &out[0], n)


def downmix(const float[:, ::1] frames, float[::1] out):
    """Average the channels of ``frames`` [frames, channels] into ``out``."""
    cdef Py_ssize_t n = frames.shape[0], channels = frames.shape[1]
    cdef Py_ssize_t f, c
    cdef float acc, count = <float>channels
    if out.shape[0] != n:
        raise ArgumentError(f"out has {out.shape[0]} samples, frames has {n} frames")
    if channels < 1:
        raise ArgumentError("frames must have at least one channel")
    with nogil:
        for f in range(n):
            acc = frames[f, 0]
            for c in range(1, channels):
                acc = acc + frames[f, c]
            out[f] = acc / count


def s16_to_f32(const int16_t[::1] src, float[::1] dst):
    """int16 -> float32, dividing by 32768."""
    cdef Py_ssize_t i, n = _same_length(src.shape[0], dst.shape[0])
    with nogil:
        for i in range(n):
            dst[i] = s16_to_float(src[i])


def s24_to_f32(const uint8_t[::1] packed, float[::1] dst):
    """3-byte little-endian int24 -> float32, dividing by 2**23."""
    decode(packed, FMT_S24, dst)


def s32_to_f32(const int32_t[::1] src, float[::1] dst):
    """int32 -> float32, dividing by 2**31."""
    cdef Py_ssize_t i, n = _same_length(src.shape[0], dst.shape[0])
    with nogil:
        for i in range(n):
            dst[i] = s32_to_float(src[i])


def u8_to_f32(const uint8_t[::1] src, float[::1] dst):
    """Unsigned 8-bit (128 = silence) -> float32."""
    decode(src, FMT_U8, dst)


def f64_to_f32(const double[::1] src, float[::1] dst):
    """float64 -> float32, rounding to nearest (overflow gives +-inf)."""
    cdef Py_ssize_t i, n = _same_length(src.shape[0], dst.shape[0])
    with nogil:
        for i in range(n):
            dst[i] = <float>src[i]


def f32_to_s16(const float[::1] src, int16_t[::1] dst):
    """float32 -> int16: scale by 32768, round half to even, clip."""
    cdef Py_ssize_t i, n = _same_length(src.shape[0], dst.shape[0])
    with nogil:
        for i in range(n):
            dst[i] = float_to_s16(src[i])


def f32_to_s24(const float[::1] src, uint8_t[::1] packed):
    """float32 -> 3-byte little-endian int24: scale by 2**23, round, clip."""
    encode(src, FMT_S24, packed)


def f32_to_s32(const float[::1] src, int32_t[::1] dst):
    """float32 -> int32: scale by 2**31 (in double), round, clip."""
    cdef Py_ssize_t i, n = _same_length(src.shape[0], dst.shape[0])
    with nogil:
        for i in range(n):
            dst[i] = float_to_s32(src[i])


def first_nonfinite(const float[::1] x):
    """Index of the first NaN or infinite sample of ``x``, or -1."""
    cdef Py_ssize_t n = x.shape[0], found = -1
    if n == 0:
        return -1
    with nogil:
        found = find_nonfinite(&x[0], n)
    return found


def has_nonfinite(const float[::1] x):
    """True when ``x`` holds a NaN or an infinity."""
    return first_nonfinite(x) >= 0


def peak(const float[::1] x):
    """Largest absolute sample value of ``x`` (0.0 when empty; NaN is ignored)."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef float m = 0.0, a
    with nogil:
        for i in range(n):
            a = fabsf(x[i])
            if a > m:
                m = a
    return m


cdef inline Py_ssize_t _same_length(Py_ssize_t a, Py_ssize_t b) except -1:
    if a != b:
        raise ArgumentError(f"source has {a} samples but destination has {b}")
    return a
