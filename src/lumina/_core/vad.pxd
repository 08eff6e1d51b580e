cdef enum HysteresisState:
    HYST_SILENCE = 0
    HYST_SPEECH = 1


cdef class Hysteresis:
    cdef readonly Py_ssize_t start_frames   # raw speech frames needed to open speech
    cdef readonly Py_ssize_t end_frames     # raw silence frames needed to close it (hang-over)
    cdef readonly Py_ssize_t frames_decided # frames whose final decision was handed out
    cdef HysteresisState _state
    cdef Py_ssize_t _run                    # undecided frames that may flip the state

    cdef Py_ssize_t _step(self, signed char raw, signed char[::1] out,
                          Py_ssize_t pos) noexcept nogil
    cdef Py_ssize_t _emit(self, signed char value, Py_ssize_t count,
                          signed char[::1] out, Py_ssize_t pos) noexcept nogil


cdef class EnergyVAD:
    cdef readonly int sample_rate
    cdef readonly int frame_ms
    cdef readonly Py_ssize_t frame_samples
    cdef readonly double margin_db          # adaptive threshold = noise floor + margin
    cdef readonly double min_threshold_db   # adaptive threshold never goes below this
    cdef double _fixed_threshold_db         # used when _adaptive is 0
    cdef bint _adaptive
    cdef readonly double noise_floor_db     # current noise floor estimate (dBFS)
    cdef Hysteresis _hyst
    cdef float* _partial                    # samples of the frame not yet complete
    cdef Py_ssize_t _partial_len
    # Noise floor = minimum frame energy over a sliding window, kept as the minima of
    # _n_blocks blocks of _block_frames frames each (a ring), so each frame costs O(1).
    cdef double* _block_min
    cdef Py_ssize_t _n_blocks
    cdef Py_ssize_t _block_frames
    cdef Py_ssize_t _blocks_filled
    cdef Py_ssize_t _block_pos              # ring slot of the block being filled
    cdef Py_ssize_t _in_block               # frames already in the block being filled
    cdef double _ring_min                   # min over the completed blocks in the ring

    cdef signed char _classify(self, double db) noexcept nogil
    cdef void _track_floor(self, double db) noexcept nogil
    cdef void _reset_state(self) noexcept
