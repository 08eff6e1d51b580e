from libc.stdint cimport uint64_t


cdef enum:
    FP_SR = 16000        # the only rate the core accepts; Python resamples first
    FP_NFFT = 512        # FFT size (32 ms)
    FP_WIN = 400         # analysis window (25 ms)
    FP_HOP = 160         # frame hop (10 ms)
    FP_NMEL = 24         # mel bands, 100-3800 Hz so 8 kHz sources lose nothing
    FP_NCEP = 12         # cepstra c1..c12 kept per frame (c0 is replaced by energy)
    FP_NBASE = 13        # FP_NCEP + one relative log-energy column: compared for every pair
    FP_NFEAT = 14        # FP_NBASE + high-band tilt, compared when both sides are wideband
    FP_NBIN = 257        # FP_NFFT // 2 + 1
    FP_NHALF = 256       # FP_NFFT // 2 (twiddle count)


cdef class Fingerprint:
    cdef readonly object features      # float32 (n_frames, FP_NFEAT), read-only, C order
    cdef readonly object summary       # float32 (FP_NMEL,): coarse spectral shape for prefiltering
    cdef readonly uint64_t exact_key   # 64-bit hash of the canonical 16 kHz samples
    cdef readonly double duration      # seconds of speech after trimming silence
    cdef readonly Py_ssize_t n_frames
    cdef readonly bint wideband        # the audio carries the 4-7.8 kHz band (frication)

    cdef double _distance(self, Fingerprint other, double abandon)
