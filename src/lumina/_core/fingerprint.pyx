# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Audio fingerprints of short spoken phrases, and their alignment-based similarity.

The core takes float32 mono 16 kHz samples (the Python layer validates, downmixes and
resamples) and computes, without the GIL:

* 10 ms frames of mel-cepstra (24 mel bands between 100 Hz and 3.8 kHz, so that an 8 kHz
  source carries the same band as a 48 kHz one), after trimming leading and trailing frames
  more than ``TRIM_DB`` below the loudest frame or within ``NOISE_MARGIN_DB`` of the
  background level (the quietest tenth of the frames), so steady noise trims like silence;
* per-utterance mean and variance normalisation of each cepstral column, which removes gain
  (a constant in the log domain) and most of a fixed channel colouring;
* a relative log-energy column, floored, so the rhythm of the phrase takes part in matching;
* a high/low band tilt column (4-7.8 kHz over 100-3800 Hz, clamped), compared only when
  both takes carry the high band, because a final "s" or "z" lives mostly up there;
* an exact 64-bit key of the samples, for the identical-audio case.

Similarity aligns two frame sequences with dynamic time warping inside a Sakoe-Chiba band
(spoken repetitions differ in tempo), both ends anchored (silence is trimmed first), and
scores the larger of the mean squared frame cost along the best path and a weighted worst
80 ms stretch of it: a missing or extra word or final "s" is a short stretch of high cost
that the mean alone dilutes.  The result maps to [0, 1].
"""

from libc.math cimport cos, sin, log, exp, sqrt, ceil, floor, M_PI, INFINITY
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memcmp

import numpy as np
from lumina.errors import ArgumentError


# Tuning constants; changing any of them changes stored fingerprints, so bump FEATURE_VERSION.
FEATURE_VERSION = 2
cdef double TRIM_DB = 30.0        # frames this far below the loudest are silence at the edges
cdef double FLOOR_LN = 4.605      # 20 dB dynamic range kept in log-mel (natural log units)
cdef double ENERGY_WEIGHT = 0.3   # weight of the relative log-energy column
cdef double BAND = 0.2            # Sakoe-Chiba half-width, as a fraction of the normalised time axis
cdef double SCALE = 1.4426950408889634  # 1/ln 2: distance 1.0 is similarity 0.5
cdef double WINDOW = 8.0          # frames (80 ms) of the worst-stretch window: about one phoneme
cdef double WORST_WEIGHT = 0.3    # weight of the worst stretch against the whole-path mean
cdef Py_ssize_t MIN_FRAMES = 10   # under 100 ms of speech there is nothing to match fuzzily
cdef double F_LO = 100.0
cdef double F_HI = 3800.0
cdef double HB_LO = 4000.0        # high band: frication ("s", "z", "f") lives here
cdef double HB_HI = 7800.0
cdef double WIDEBAND_DB = -50.0   # high band this far under the low band: band-limited source
cdef double TILT_WEIGHT = 0.2     # weight per dB of the high/low band tilt column
cdef double TILT_MIN_DB = -25.0   # vowels sit at the floor, so broadband noise barely moves them
cdef double TILT_MAX_DB = 10.0
cdef double NOISE_MARGIN_DB = 6.0  # trim frames less than this above the noise floor
cdef double TRIM_MIN_DB = 15.0     # ...but never trim frames within this of the loudest

cdef double _hann[FP_WIN]
cdef double _cos_tw[FP_NHALF]
cdef double _sin_tw[FP_NHALF]
cdef int _bitrev[FP_NFFT]
cdef double _dct[FP_NCEP][FP_NMEL]
cdef double _mel_w[FP_NMEL][FP_NBIN]
cdef int _mel_lo[FP_NMEL]
cdef int _mel_hi[FP_NMEL]
cdef int _band_lo
cdef int _band_hi
cdef int _hb_lo
cdef int _hb_hi


cdef double _hz_to_mel(double hz) noexcept nogil:
    return 2595.0 * log(1.0 + hz / 700.0) / log(10.0)


cdef double _mel_to_hz(double mel) noexcept nogil:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


cdef void _init_tables() noexcept nogil:
    global _band_lo, _band_hi, _hb_lo, _hb_hi
    cdef int i, j, b, bits = 0, r
    cdef double edges[FP_NMEL + 2]
    cdef double lo_mel = _hz_to_mel(F_LO), hi_mel = _hz_to_mel(F_HI), f, w
    for i in range(FP_WIN):
        _hann[i] = 0.5 - 0.5 * cos(2.0 * M_PI * i / FP_WIN)
    for i in range(FP_NFFT // 2):
        _cos_tw[i] = cos(2.0 * M_PI * i / FP_NFFT)
        _sin_tw[i] = -sin(2.0 * M_PI * i / FP_NFFT)
    while (1 << bits) < FP_NFFT:
        bits += 1
    for i in range(FP_NFFT):
        r = 0
        for j in range(bits):
            if i & (1 << j):
                r |= 1 << (bits - 1 - j)
        _bitrev[i] = r
    for i in range(FP_NCEP):
        for b in range(FP_NMEL):
            _dct[i][b] = cos(M_PI * (i + 1) * (b + 0.5) / FP_NMEL)
    for i in range(FP_NMEL + 2):
        edges[i] = _mel_to_hz(lo_mel + (hi_mel - lo_mel) * i / (FP_NMEL + 1))
    for b in range(FP_NMEL):
        _mel_lo[b] = FP_NBIN
        _mel_hi[b] = 0
        for j in range(FP_NBIN):
            f = j * (<double>FP_SR) / FP_NFFT
            w = 0.0
            if edges[b] < f <= edges[b + 1]:
                w = (f - edges[b]) / (edges[b + 1] - edges[b])
            elif edges[b + 1] < f < edges[b + 2]:
                w = (edges[b + 2] - f) / (edges[b + 2] - edges[b + 1])
            _mel_w[b][j] = w
            if w > 0.0:
                if j < _mel_lo[b]:
                    _mel_lo[b] = j
                _mel_hi[b] = j + 1
    _band_lo = <int>ceil(F_LO * FP_NFFT / FP_SR)
    _band_hi = <int>floor(F_HI * FP_NFFT / FP_SR) + 1
    _hb_lo = <int>ceil(HB_LO * FP_NFFT / FP_SR)
    _hb_hi = <int>floor(HB_HI * FP_NFFT / FP_SR) + 1


_init_tables()


cdef void _fft(double* re, double* im) noexcept nogil:
    """In-place iterative radix-2 FFT of FP_NFFT points."""
    cdef int i, j, size, half, step, k
    cdef double tr, ti, wr, wi, t
    for i in range(FP_NFFT):
        j = _bitrev[i]
        if j > i:
            t = re[i]; re[i] = re[j]; re[j] = t
            t = im[i]; im[i] = im[j]; im[j] = t
    size = 2
    while size <= FP_NFFT:
        half = size // 2
        step = FP_NFFT // size
        i = 0
        while i < FP_NFFT:
            for k in range(half):
                wr = _cos_tw[k * step]
                wi = _sin_tw[k * step]
                j = i + k + half
                tr = re[j] * wr - im[j] * wi
                ti = re[j] * wi + im[j] * wr
                re[j] = re[i + k] - tr
                im[j] = im[i + k] - ti
                re[i + k] += tr
                im[i + k] += ti
            i += size
        size *= 2


cdef void _analyse_frame(const float* x, double* mel, double* high) noexcept nogil:
    """Mel band powers of one FP_WIN-sample frame, and its high-band power."""
    cdef double re[FP_NFFT]
    cdef double im[FP_NFFT]
    cdef double power[FP_NBIN]
    cdef double mean = 0.0, s
    cdef int i, b
    for i in range(FP_WIN):
        mean += x[i]
    mean /= FP_WIN
    for i in range(FP_NFFT):
        re[i] = (x[i] - mean) * _hann[i] if i < FP_WIN else 0.0
        im[i] = 0.0
    _fft(re, im)
    for i in range(FP_NBIN):
        power[i] = re[i] * re[i] + im[i] * im[i]
    for b in range(FP_NMEL):
        s = 0.0
        for i in range(_mel_lo[b], _mel_hi[b]):
            s += _mel_w[b][i] * power[i]
        mel[b] = s
    s = 0.0
    for i in range(_hb_lo, _hb_hi):
        s += power[i]
    high[0] = s


cdef void _band_energy(const double* mel, double* energy, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t t, b
    cdef double e
    for t in range(n):
        e = 0.0
        for b in range(FP_NMEL):
            e += mel[t * FP_NMEL + b]
        energy[t] = e


cdef uint64_t _hash_samples(const float* x, Py_ssize_t n) noexcept nogil:
    """FNV-1a over the 32-bit sample words, then a splitmix64 finaliser for avalanche."""
    cdef uint64_t h = 0xcbf29ce484222325ULL ^ <uint64_t>n
    cdef const uint32_t* w = <const uint32_t*>x
    cdef Py_ssize_t i
    for i in range(n):
        h ^= w[i]
        h *= 0x100000001b3ULL
    h ^= h >> 30
    h *= 0xbf58476d1ce4e5b9ULL
    h ^= h >> 27
    h *= 0x94d049bb133111ebULL
    h ^= h >> 31
    return h


cdef void _trim(const double* energy, Py_ssize_t n, double floor_e,
                Py_ssize_t* first, Py_ssize_t* last) noexcept nogil:
    """First and last speech frame; first > last when all is silent.

    Speech is within TRIM_DB of the loudest frame and NOISE_MARGIN_DB above ``floor_e``, the
    background level, so that a steady noise is trimmed like digital silence; frames within
    TRIM_MIN_DB of the loudest always count as speech.
    """
    cdef double emax = 0.0, thr
    cdef Py_ssize_t i
    for i in range(n):
        if energy[i] > emax:
            emax = energy[i]
    first[0] = 0
    last[0] = -1
    if emax <= 1e-10:
        return
    thr = emax * 10.0 ** (-TRIM_DB / 10.0)
    if floor_e * 10.0 ** (NOISE_MARGIN_DB / 10.0) > thr:
        thr = floor_e * 10.0 ** (NOISE_MARGIN_DB / 10.0)
    # A take with no pause at all has its quietest speech as "floor": keep the loud part.
    if thr > emax * 10.0 ** (-TRIM_MIN_DB / 10.0):
        thr = emax * 10.0 ** (-TRIM_MIN_DB / 10.0)
    for i in range(n):
        if energy[i] >= thr:
            first[0] = i
            break
    i = n - 1
    while i >= 0:
        if energy[i] >= thr:
            last[0] = i
            break
        i -= 1


cdef void _features(double* logmel, const double* energy, const double* high, Py_ssize_t n,
                    bint wideband, float* out, float* summary) noexcept nogil:
    """Normalised cepstra + relative energy of n analysed frames, and the spectral summary."""
    cdef double mmax = -INFINITY, emax = 0.0, c, mean, floor_v, le
    cdef Py_ssize_t t, k, b
    for t in range(n):
        if energy[t] > emax:
            emax = energy[t]
        for b in range(FP_NMEL):
            logmel[t * FP_NMEL + b] = log(logmel[t * FP_NMEL + b] + 1e-20)
            if logmel[t * FP_NMEL + b] > mmax:
                mmax = logmel[t * FP_NMEL + b]
    floor_v = mmax - FLOOR_LN
    for b in range(FP_NMEL):
        summary[b] = 0.0
    for t in range(n):
        for b in range(FP_NMEL):
            if logmel[t * FP_NMEL + b] < floor_v:
                logmel[t * FP_NMEL + b] = floor_v
            summary[b] += <float>(logmel[t * FP_NMEL + b] / n)
        for k in range(FP_NCEP):
            c = 0.0
            for b in range(FP_NMEL):
                c += _dct[k][b] * logmel[t * FP_NMEL + b]
            out[t * FP_NFEAT + k] = <float>c
        le = log(energy[t] / emax + 1e-12)
        if le < -FLOOR_LN:
            le = -FLOOR_LN
        out[t * FP_NFEAT + FP_NCEP] = <float>(ENERGY_WEIGHT * le)
        out[t * FP_NFEAT + FP_NBASE] = <float>(TILT_WEIGHT * _tilt_db(high[t], energy[t])) if wideband else 0.0
    _normalise(out, n)
    mean = 0.0
    for b in range(FP_NMEL):
        mean += summary[b]
    mean /= FP_NMEL
    for b in range(FP_NMEL):
        summary[b] = <float>(summary[b] - mean)


cdef double _tilt_db(double high, double low) noexcept nogil:
    """High over low band level in dB, clamped: above the top it is frication all the same."""
    cdef double db = 10.0 * log(high / (low + 1e-20) + 1e-20) / log(10.0)
    if db < TILT_MIN_DB:
        db = TILT_MIN_DB
    if db > TILT_MAX_DB:
        db = TILT_MAX_DB
    return db - TILT_MIN_DB


cdef void _normalise(float* out, Py_ssize_t n) noexcept nogil:
    cdef double mean, var
    cdef Py_ssize_t t, k
    # Mean and variance normalisation per cepstral column: gain and channel drop out.
    for k in range(FP_NCEP):
        mean = 0.0
        for t in range(n):
            mean += out[t * FP_NFEAT + k]
        mean /= n
        var = 0.0
        for t in range(n):
            var += (out[t * FP_NFEAT + k] - mean) ** 2
        var = sqrt(var / n) + 1e-3
        for t in range(n):
            out[t * FP_NFEAT + k] = <float>((out[t * FP_NFEAT + k] - mean) / var)


cdef double _frame_d(const float* x, const float* y, int nf) noexcept nogil:
    cdef double d = 0.0, diff
    cdef Py_ssize_t k
    for k in range(nf):
        diff = x[k] - y[k]
        d += diff * diff
    return d


cdef void _band(Py_ssize_t i, Py_ssize_t n, Py_ssize_t m, double r,
                Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """Columns of row i inside the Sakoe-Chiba band (normalised time axis, half-width r)."""
    cdef double pos = (<double>i) / (n - 1)
    lo[0] = <Py_ssize_t>ceil((pos - r) * (m - 1) - 1e-9)
    hi[0] = <Py_ssize_t>floor((pos + r) * (m - 1) + 1e-9)
    if lo[0] < 0:
        lo[0] = 0
    if hi[0] > m - 1:
        hi[0] = m - 1


cdef double _worst_window(const float* a, Py_ssize_t n, const float* b, Py_ssize_t m,
                          const unsigned char* step, double span, int nf) noexcept nogil:
    """Largest weighted mean frame cost over any stretch of the path weighing ``span``.

    Walks the best path back from the end; a diagonal step weighs 2, a horizontal or
    vertical one 1 (the same weights as the alignment), so ``span`` is twice the window
    length in frames.  A missing or extra word leaves a stretch of high cost that the mean
    over the whole path dilutes but this maximum does not.
    """
    cdef Py_ssize_t i = n - 1, j = m - 1, length = 0, s = 0, e
    cdef double* w = <double*>malloc(2 * (n + m) * sizeof(double))
    cdef double* c
    cdef double wsum = 0.0, csum = 0.0, worst = 0.0, mean
    cdef unsigned char st
    if w == NULL:
        return -1.0
    c = w + (n + m)
    while True:
        st = step[i * m + j]
        c[length] = _frame_d(a + i * FP_NFEAT, b + j * FP_NFEAT, nf)
        w[length] = 1.0 if st == 1 or st == 2 else 2.0
        length += 1
        if st == 0:
            break
        elif st == 3:
            i -= 1
            j -= 1
        elif st == 1:
            i -= 1
        else:
            j -= 1
    # Two pointers over the path (its order does not matter for the maximum).
    for e in range(length):
        wsum += w[e]
        csum += w[e] * c[e]
        while s < e and wsum - w[s] >= span:
            wsum -= w[s]
            csum -= w[s] * c[s]
            s += 1
        if wsum >= span or (s == 0 and e == length - 1):
            mean = csum / wsum
            if mean > worst:
                worst = mean
    free(w)
    return worst


cdef int _dtw(const float* a, Py_ssize_t n, const float* b, Py_ssize_t m,
              double abandon, double span, int nf, double* mean_out, double* worst_out) noexcept nogil:
    """Mean and worst-window squared frame distance along the best banded path.

    Both ends are anchored: silence is trimmed before, so every frame of speech must be
    matched (an extra final "s" cannot slip out unmatched).  ``abandon`` is a mean cost above
    which the caller has no use for the result: once every cell of a row exceeds it, no path
    can come back under it (costs are non-negative); then ``mean_out`` is INFINITY.
    Returns -1 when the work buffers cannot be allocated, else 0.
    """
    cdef double* prev = <double*>malloc(2 * m * sizeof(double))
    cdef unsigned char* step = <unsigned char*>malloc(n * m)
    cdef double* cur
    cdef double* tmp
    cdef double r = BAND, limit, best, d, row_min, v
    cdef Py_ssize_t i, j, lo, hi
    cdef unsigned char how
    if prev == NULL or step == NULL:
        free(prev)
        free(step)
        return -1
    cur = prev + m
    mean_out[0] = INFINITY
    worst_out[0] = INFINITY
    limit = abandon * (n + m) if abandon < INFINITY else INFINITY
    for j in range(m):
        prev[j] = INFINITY
    for i in range(n):
        _band(i, n, m, r, &lo, &hi)
        for j in range(m):
            cur[j] = INFINITY
        row_min = INFINITY
        for j in range(lo, hi + 1):
            d = _frame_d(a + i * FP_NFEAT, b + j * FP_NFEAT, nf)
            best = INFINITY
            how = 0
            if i == 0 and j == 0:
                best = 2.0 * d
            if i > 0 and j > 0:
                v = prev[j - 1] + 2.0 * d
                if v < best:
                    best = v
                    how = 3
            if i > 0:
                v = prev[j] + d
                if v < best:
                    best = v
                    how = 1
            if j > 0:
                v = cur[j - 1] + d
                if v < best:
                    best = v
                    how = 2
            cur[j] = best
            step[i * m + j] = how
            if best < row_min:
                row_min = best
        if row_min > limit:
            break
        tmp = prev
        prev = cur
        cur = tmp
    if row_min <= limit and prev[m - 1] < INFINITY:
        mean_out[0] = prev[m - 1] / (n + m)
        worst_out[0] = _worst_window(a, n, b, m, step, span, nf)
    free(prev if prev < cur else cur)
    free(step)
    if worst_out[0] < 0.0:
        return -1
    return 0


cdef double _similarity_of(double distance) noexcept nogil:
    if distance == INFINITY:
        return 0.0
    return exp(-distance / SCALE)


cdef double _distance_of(double similarity) noexcept nogil:
    if similarity <= 0.0:
        return INFINITY
    return -SCALE * log(similarity)


cdef class Fingerprint:
    """The fingerprint of one utterance: normalised frame features plus an exact key.

    Build one with :func:`lumina.fingerprint`; the constructor is for restoring stored
    fingerprints.

    Parameters
    ----------
    features : ndarray of float32, shape (n_frames, 13)
        Normalised mel-cepstral frames (10 ms hop) of the trimmed speech.
    summary : ndarray of float32, shape (24,)
        Mean log-mel spectrum shape, used to prefilter candidates cheaply.
    exact_key : int
        64-bit key of the canonical samples.
    duration : float
        Seconds of speech after trimming silence.
    wideband : bool, default False
        Whether the audio carries the 4-7.8 kHz band; the last feature column (the high/low
        band tilt) is compared only when both fingerprints are wideband.
    """

    def __init__(self, features, summary, exact_key, double duration, bint wideband=False):
        feats = np.ascontiguousarray(features, dtype=np.float32)
        summ = np.ascontiguousarray(summary, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[1] != FP_NFEAT:
            raise ArgumentError(f"features must have shape (n_frames, {FP_NFEAT}), got {feats.shape}")
        if summ.shape != (FP_NMEL,):
            raise ArgumentError(f"summary must have shape ({FP_NMEL},), got {summ.shape}")
        if not (0 <= exact_key < 2 ** 64):
            raise ArgumentError(f"exact_key must be an unsigned 64-bit integer, got {exact_key}")
        if not (duration >= 0.0):
            raise ArgumentError(f"duration must be >= 0 seconds, got {duration}")
        if not (np.isfinite(feats).all() and np.isfinite(summ).all()):
            raise ArgumentError("features and summary must be finite")
        feats = feats.copy() if feats is features else feats
        summ = summ.copy() if summ is summary else summ
        feats.flags.writeable = False
        summ.flags.writeable = False
        self.features = feats
        self.summary = summ
        self.exact_key = exact_key
        self.duration = duration
        self.n_frames = feats.shape[0]
        self.wideband = wideband

    def __repr__(self):
        return (f"Fingerprint(n_frames={self.n_frames}, duration={self.duration:.3f}, "
                f"wideband={bool(self.wideband)}, exact_key=0x{self.exact_key:016x})")

    @property
    def nbytes(self):
        """Bytes held by the feature arrays."""
        return self.features.nbytes + self.summary.nbytes

    cdef double _distance(self, Fingerprint other, double abandon):
        """DTW distance; 0 for identical fingerprints, INFINITY when no fuzzy match is possible."""
        cdef Fingerprint a = self, b = other
        cdef const float[:, ::1] fa
        cdef const float[:, ::1] fb
        if a.exact_key == b.exact_key and a.n_frames == b.n_frames and (
                a.n_frames == 0 or np.array_equal(a.features, b.features)):
            return 0.0
        if a.n_frames < MIN_FRAMES or b.n_frames < MIN_FRAMES:
            return INFINITY
        # One canonical order makes the result exactly symmetric, whatever the float rounding.
        if a.exact_key > b.exact_key or (a.exact_key == b.exact_key and a.n_frames > b.n_frames):
            a, b = b, a
        fa = a.features
        fb = b.features
        cdef double mean, worst, lim = abandon * abandon if abandon < INFINITY else INFINITY
        cdef int rc
        with nogil:
            rc = _dtw(&fa[0, 0], fa.shape[0], &fb[0, 0], fb.shape[0], lim, 2.0 * WINDOW,
                      FP_NFEAT if a.wideband and b.wideband else FP_NBASE, &mean, &worst)
        if rc < 0:
            raise MemoryError("no memory for the alignment of two fingerprints")
        if mean == INFINITY:
            return INFINITY
        return sqrt(max(mean, WORST_WEIGHT * worst))

    def similarity(self, other):
        """Similarity in [0, 1]: 1.0 for identical audio, 0.0 when nothing aligns.

        Symmetric: ``a.similarity(b) == b.similarity(a)`` exactly. ``other``
        must be a :class:`Fingerprint` (else :class:`~lumina.ArgumentError`).
        """
        if not isinstance(other, Fingerprint):
            raise ArgumentError(
                f"similarity() needs a Fingerprint, got {type(other).__name__}")
        return _similarity_of(self._distance(other, INFINITY))


def fingerprint_16k(const float[::1] samples):
    """Fingerprint float32 mono 16 kHz samples (finite values; the caller checks)."""
    cdef Py_ssize_t n = samples.shape[0]
    # The last partial frame is kept, zero-filled: otherwise appending silence would expose
    # a tail of speech that the unpadded take never analyses.
    cdef Py_ssize_t n_all = 0 if n == 0 else 1 + (max(n - FP_WIN, 0) + FP_HOP - 1) // FP_HOP
    cdef Py_ssize_t t, first = 0, last = -1, kept
    cdef uint64_t key
    cdef double[:, ::1] logmel = np.empty((max(n_all, 1), FP_NMEL), dtype=np.float64)
    energy_arr = np.zeros(max(n_all, 1), dtype=np.float64)
    cdef double[::1] energy = energy_arr
    cdef double[::1] high = np.zeros(max(n_all, 1), dtype=np.float64)
    cdef float[:, ::1] out
    cdef float[::1] summ = np.zeros(FP_NMEL, dtype=np.float32)
    cdef Py_ssize_t padded = 0 if n == 0 else (n_all - 1) * FP_HOP + FP_WIN
    cdef float[::1] buf = np.zeros(max(padded, 1), dtype=np.float32)
    cdef const float* x
    cdef double floor_e, hsum = 0.0, lsum = 0.0
    cdef bint wide
    if n > 0:
        buf[:n] = samples
    x = &buf[0]
    with nogil:
        key = _hash_samples(x, n)  # the canonical samples; padding is not hashed
        for t in range(n_all):
            _analyse_frame(x + t * FP_HOP, &logmel[t, 0], &high[t])
        _band_energy(&logmel[0, 0], &energy[0], n_all)
    # The background level: the quietest tenth of the frames (0 where there is digital
    # silence, so clean speech trims exactly as before).
    floor_e = float(np.percentile(energy_arr[:max(n_all, 1)], 10.0))
    with nogil:
        _trim(&energy[0], n_all, floor_e, &first, &last)
    kept = last - first + 1
    features = np.zeros((max(kept, 0), FP_NFEAT), dtype=np.float32)
    wide = False
    if kept > 0:
        for t in range(first, last + 1):
            hsum += high[t]
            lsum += energy[t]
        wide = hsum > lsum * 10.0 ** (WIDEBAND_DB / 10.0)
        out = features
        with nogil:
            _features(&logmel[first, 0], &energy[first], &high[first], kept, wide, &out[0, 0], &summ[0])
    return Fingerprint(features, summ.base, key, max(kept, 0) * FP_HOP / <double>FP_SR, wide)


def best_match(Fingerprint query not None, list candidates, double min_similarity):
    """Index and similarity of the most similar candidate at or above ``min_similarity``.

    Returns ``(-1, 0.0)`` when none qualifies.  Each alignment is abandoned as soon as it
    cannot beat the best so far, so a long list of near misses stays cheap.
    """
    cdef double abandon = _distance_of(min_similarity), d
    cdef Py_ssize_t i, best = -1
    cdef Fingerprint cand
    for i in range(len(candidates)):
        cand = candidates[i]
        d = query._distance(cand, abandon)
        if d <= abandon:
            abandon = d
            best = i
    if best < 0:
        return -1, 0.0
    return best, _similarity_of(abandon)



def alignment_costs(Fingerprint a not None, Fingerprint b not None, double window_frames):
    """(mean, worst-window) squared frame cost of the best banded path; for calibration."""
    cdef const float[:, ::1] fa = a.features
    cdef const float[:, ::1] fb = b.features
    cdef double mean, worst
    cdef int rc
    if a.n_frames < 2 or b.n_frames < 2:
        return float("inf"), float("inf")
    with nogil:
        rc = _dtw(&fa[0, 0], fa.shape[0], &fb[0, 0], fb.shape[0], INFINITY, 2.0 * window_frames,
                  FP_NFEAT if a.wideband and b.wideband else FP_NBASE, &mean, &worst)
    if rc < 0:
        raise MemoryError("no memory for the alignment of two fingerprints")
    return mean, worst
