from libc.stdint cimport int16_t, int32_t, uint8_t

# Sample encodings the core decodes (little-endian, as stored in WAV data).
cdef enum SampleFormat:
    FMT_U8 = 0
    FMT_S16 = 1
    FMT_S24 = 2
    FMT_S32 = 3
    FMT_F32 = 4
    FMT_F64 = 5

cdef Py_ssize_t sample_width(int fmt) noexcept nogil
cdef void decode_raw(const uint8_t* src, int fmt, float* dst, Py_ssize_t n) noexcept nogil
cdef void decode_raw_mono(const uint8_t* src, int fmt, Py_ssize_t channels,
                          float* dst, Py_ssize_t frames) noexcept nogil
cdef void encode_raw(const float* src, int fmt, uint8_t* dst, Py_ssize_t n) noexcept nogil
cdef Py_ssize_t find_nonfinite(const float* x, Py_ssize_t n) noexcept nogil
