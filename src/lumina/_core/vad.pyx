# cython: language_level=3, boundscheck=False, wraparound=False
"""Energy voice activity detection: frame RMS in dBFS, adaptive noise floor, hysteresis.

Decisions are final when handed out: a frame is reported only once the
hysteresis knows whether it belongs to speech, so the concatenated output of
any sequence of ``process`` calls is the same however the audio was chunked.
"""

from libc.math cimport log10
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

import numpy as np
from lumina.errors import ArgumentError, AudioFormatError

cdef enum:
    FLOOR_BLOCK_MS = 250     # noise-floor ring granularity


cdef double _INF = 1e300
cdef double _SILENT_DB = -100.0   # dB reported for digital silence (avoids log10(0))


cdef inline double _frame_db(const float* x, Py_ssize_t n) noexcept nogil:
    """Mean-square energy of ``n`` samples in dBFS (full-scale square wave = 0 dB)."""
    # Four independent float lanes let the compiler vectorise; a frame is at most
    # a few thousand samples, so float32 partial sums lose nothing that matters in dB.
    cdef float a0 = 0, a1 = 0, a2 = 0, a3 = 0
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t n4 = n - n % 4
    while i < n4:
        a0 += x[i] * x[i]
        a1 += x[i + 1] * x[i + 1]
        a2 += x[i + 2] * x[i + 2]
        a3 += x[i + 3] * x[i + 3]
        i += 4
    while i < n:
        a0 += x[i] * x[i]
        i += 1
    cdef double acc = (<double>a0 + a1 + a2 + a3) / n
    if acc <= 1e-10:
        return _SILENT_DB
    return 10.0 * log10(acc)


def frame_db(const float[::1] samples, Py_ssize_t frame_samples):
    """Energy in dBFS of each complete frame of ``samples`` (a trailing partial frame is ignored).

    Parameters
    ----------
    samples : ndarray of float32, C-contiguous
    frame_samples : int
        Samples per frame (> 0).

    Returns
    -------
    ndarray of float32, shape ``(len(samples) // frame_samples,)``
    """
    if frame_samples <= 0:
        raise ArgumentError(f"frame_samples must be > 0, got {frame_samples}")
    cdef Py_ssize_t n_frames = samples.shape[0] // frame_samples
    result = np.empty(n_frames, dtype=np.float32)
    cdef float[::1] out = result
    cdef Py_ssize_t f
    with nogil:
        for f in range(n_frames):
            out[f] = <float>_frame_db(&samples[f * frame_samples], frame_samples)
    return result


cdef class Hysteresis:
    """Turn raw per-frame speech flags into final, smoothed decisions.

    Speech opens after ``start_frames`` consecutive raw speech frames and closes
    after ``end_frames`` consecutive raw silence frames (the hang-over).  Shorter
    runs are absorbed: a blip of speech becomes silence, a short pause inside
    speech stays speech.  Frames are held back until their fate is known, so the
    output is delayed by at most ``max(start_frames, end_frames) - 1`` frames and
    speech runs begin and end exactly where the raw speech did.

    Parameters
    ----------
    start_frames : int
        Consecutive raw speech frames needed to open speech (>= 1).
    end_frames : int
        Consecutive raw silence frames needed to close speech (>= 1).
    """

    def __cinit__(self, Py_ssize_t start_frames, Py_ssize_t end_frames):
        if start_frames < 1:
            raise ArgumentError(f"start_frames must be >= 1, got {start_frames}")
        if end_frames < 1:
            raise ArgumentError(f"end_frames must be >= 1, got {end_frames}")
        self.start_frames = start_frames
        self.end_frames = end_frames
        self.frames_decided = 0
        self._state = HYST_SILENCE
        self._run = 0

    cdef Py_ssize_t _emit(self, signed char value, Py_ssize_t count,
                          signed char[::1] out, Py_ssize_t pos) noexcept nogil:
        cdef Py_ssize_t i
        for i in range(count):
            out[pos + i] = value
        self.frames_decided += count
        return pos + count

    cdef Py_ssize_t _step(self, signed char raw, signed char[::1] out,
                          Py_ssize_t pos) noexcept nogil:
        """Feed one raw flag; write the frames it decides at ``out[pos:]``; return the new end."""
        if self._state == HYST_SILENCE:
            if raw:
                self._run += 1
                if self._run >= self.start_frames:
                    pos = self._emit(1, self._run, out, pos)
                    self._run = 0
                    self._state = HYST_SPEECH
            else:
                pos = self._emit(0, self._run + 1, out, pos)
                self._run = 0
        else:
            if raw:
                pos = self._emit(1, self._run + 1, out, pos)
                self._run = 0
            else:
                self._run += 1
                if self._run >= self.end_frames:
                    pos = self._emit(0, self._run, out, pos)
                    self._run = 0
                    self._state = HYST_SILENCE
        return pos

    def push(self, const signed char[::1] raw):
        """Feed raw flags (0 or non-zero per frame); return the decisions now final (int8 0/1)."""
        result = np.empty(raw.shape[0] + self._run, dtype=np.int8)
        cdef signed char[::1] out = result
        cdef Py_ssize_t pos = 0
        cdef Py_ssize_t i
        with nogil:
            for i in range(raw.shape[0]):
                pos = self._step(raw[i] != 0, out, pos)
        return result[:pos]

    def flush(self):
        """End of stream: decide the held-back frames as silence and return them."""
        result = np.zeros(self._run, dtype=np.int8)
        self.frames_decided += self._run
        self._run = 0
        self._state = HYST_SILENCE
        return result

    def reset(self):
        """Forget everything, as if freshly constructed."""
        self.frames_decided = 0
        self._run = 0
        self._state = HYST_SILENCE

    @property
    def pending(self):
        """Frames received but not yet decided."""
        return self._run

    @property
    def in_speech(self):
        """True while speech is open (decided frames end inside speech)."""
        return self._state == HYST_SPEECH


cdef class EnergyVAD:
    """Energy voice activity detector over fixed frames of float32 mono audio.

    A frame is raw speech when its energy (mean square, dBFS) exceeds the
    threshold; :class:`Hysteresis` then smooths the raw flags.  With
    ``threshold_db=None`` the threshold adapts: it is ``margin_db`` above the
    noise floor, the lowest frame energy over the last ``floor_window_ms``, and
    never below ``min_threshold_db``.  Steady noise (a fan, hiss) therefore sets
    the floor and is not speech.

    Parameters
    ----------
    sample_rate : int, default 16000
        Samples per second (8000, 16000, 32000 or 48000 are typical; any > 0 works).
    frame_ms : int, default 20
        Frame length: 10, 20 or 30 ms.
    threshold_db : float or None, default None
        Fixed threshold in dBFS; None for the adaptive threshold.
    margin_db : float, default 10.0
        Adaptive threshold above the noise floor, in dB.
    min_threshold_db : float, default -50.0
        Lowest adaptive threshold in dBFS, so near-digital silence does not make hiss speech.
    floor_window_ms : int, default 3000
        How far back the noise floor looks; speech held longer than this without
        a pause raises the floor.
    start_frames : int, default 3
        Consecutive loud frames that open speech (rejects clicks).
    end_frames : int, default 15
        Consecutive quiet frames that close speech (the hang-over).
    """

    def __cinit__(self, int sample_rate=16000, int frame_ms=20, *, threshold_db=None,
                  double margin_db=10.0, double min_threshold_db=-50.0,
                  int floor_window_ms=3000, Py_ssize_t start_frames=3,
                  Py_ssize_t end_frames=15):
        if sample_rate <= 0:
            raise AudioFormatError(f"sample_rate must be > 0, got {sample_rate}")
        if frame_ms not in (10, 20, 30):
            raise ArgumentError(f"frame_ms must be 10, 20 or 30, got {frame_ms}")
        if sample_rate * frame_ms % 1000:
            raise AudioFormatError(
                f"a {frame_ms} ms frame at {sample_rate} Hz is not a whole number of samples; "
                "use a sample rate that is a multiple of 100 Hz")
        if margin_db <= 0:
            raise ArgumentError(f"margin_db must be > 0, got {margin_db}")
        if floor_window_ms < 2 * FLOOR_BLOCK_MS:
            raise ArgumentError(
                f"floor_window_ms must be >= {2 * FLOOR_BLOCK_MS}, got {floor_window_ms}")
        self._hyst = Hysteresis(start_frames, end_frames)
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.frame_samples = sample_rate * frame_ms // 1000
        self.margin_db = margin_db
        self.min_threshold_db = min_threshold_db
        self._adaptive = threshold_db is None
        self._fixed_threshold_db = 0.0 if threshold_db is None else float(threshold_db)
        self._block_frames = max(1, FLOOR_BLOCK_MS // frame_ms)
        self._n_blocks = floor_window_ms // FLOOR_BLOCK_MS + 1   # +1: the block being filled
        self._partial = <float*>malloc(self.frame_samples * sizeof(float))
        self._block_min = <double*>malloc(self._n_blocks * sizeof(double))
        if self._partial == NULL or self._block_min == NULL:
            raise MemoryError()
        self._reset_state()

    def __dealloc__(self):
        free(self._partial)
        free(self._block_min)

    cdef void _track_floor(self, double db) noexcept nogil:
        cdef Py_ssize_t i
        if db < self._block_min[self._block_pos]:
            self._block_min[self._block_pos] = db
        self._in_block += 1
        self.noise_floor_db = min(self._ring_min, self._block_min[self._block_pos])
        if self._in_block < self._block_frames:
            return
        # The block is complete: it joins the ring and the oldest block drops out.
        self._block_pos = (self._block_pos + 1) % self._n_blocks
        self._block_min[self._block_pos] = _INF
        self._in_block = 0
        self._ring_min = _INF
        for i in range(self._n_blocks):
            if i != self._block_pos and self._block_min[i] < self._ring_min:
                self._ring_min = self._block_min[i]

    cdef signed char _classify(self, double db) noexcept nogil:
        cdef double threshold
        if not self._adaptive:
            return db > self._fixed_threshold_db
        self._track_floor(db)
        threshold = self.noise_floor_db + self.margin_db
        if threshold < self.min_threshold_db:
            threshold = self.min_threshold_db
        return db > threshold

    def process(self, const float[::1] samples):
        """Feed samples; return the frame decisions that became final (int8, 1 = speech).

        Samples that do not fill a frame are kept for the next call.  Decision
        ``k`` of all calls together belongs to frame ``k``, i.e. samples
        ``[k * frame_samples, (k + 1) * frame_samples)`` of the stream.

        Parameters
        ----------
        samples : ndarray of float32, C-contiguous, 1-D

        Returns
        -------
        ndarray of int8
        """
        cdef Py_ssize_t F = self.frame_samples
        cdef Py_ssize_t n = samples.shape[0]
        cdef Py_ssize_t n_frames = (self._partial_len + n) // F
        result = np.empty(n_frames + self._hyst._run, dtype=np.int8)
        cdef signed char[::1] out = result
        cdef Py_ssize_t pos = 0
        cdef Py_ssize_t used = 0
        cdef Py_ssize_t take
        cdef const float* src
        with nogil:
            if n > 0:
                src = &samples[0]
                if self._partial_len > 0 and self._partial_len + n >= F:
                    take = F - self._partial_len
                    memcpy(self._partial + self._partial_len, src, take * sizeof(float))
                    used = take
                    self._partial_len = 0
                    pos = self._hyst._step(
                        self._classify(_frame_db(self._partial, F)), out, pos)
                while used + F <= n:
                    pos = self._hyst._step(self._classify(_frame_db(src + used, F)), out, pos)
                    used += F
                if used < n:
                    memcpy(self._partial + self._partial_len, src + used,
                           (n - used) * sizeof(float))
                    self._partial_len += n - used
        return result[:pos]

    def flush(self):
        """End of stream: decide held-back frames (as silence), drop a partial frame, reset.

        Returns
        -------
        ndarray of int8
            The decisions of the frames that were still held back.
        """
        result = self._hyst.flush()
        self._reset_state()
        return result

    def reset(self):
        """Forget all audio and state, as if freshly constructed."""
        self._reset_state()

    cdef void _reset_state(self) noexcept:
        cdef Py_ssize_t i
        self._hyst.reset()
        self._partial_len = 0
        for i in range(self._n_blocks):
            self._block_min[i] = _INF
        self._block_pos = 0
        self._in_block = 0
        self._ring_min = _INF
        self.noise_floor_db = _SILENT_DB

    @property
    def threshold_db(self):
        """The threshold in force now, in dBFS."""
        if not self._adaptive:
            return self._fixed_threshold_db
        return max(self.noise_floor_db + self.margin_db, self.min_threshold_db)

    @property
    def adaptive(self):
        """True when the threshold follows the noise floor."""
        return bool(self._adaptive)

    @property
    def start_frames(self):
        """Consecutive loud frames that open speech."""
        return self._hyst.start_frames

    @property
    def end_frames(self):
        """Consecutive quiet frames that close speech."""
        return self._hyst.end_frames

    @property
    def frames_decided(self):
        """Frames whose decision has been returned since construction or the last flush/reset."""
        return self._hyst.frames_decided

    @property
    def pending_frames(self):
        """Complete frames received whose decision is still held back."""
        return self._hyst._run

    @property
    def in_speech(self):
        """True while speech is open."""
        return self._hyst.in_speech
