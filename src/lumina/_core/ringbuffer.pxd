from libc.stdint cimport uint64_t


cdef extern from "ringbuffer.h" nogil:
    ctypedef struct lm_ring_counters:
        pass
    void lm_counters_init(lm_ring_counters* c)
    uint64_t lm_head_acquire(lm_ring_counters* c)
    uint64_t lm_head_relaxed(lm_ring_counters* c)
    void lm_head_publish(lm_ring_counters* c, uint64_t value)
    uint64_t lm_tail_acquire(lm_ring_counters* c)
    bint lm_tail_cas(lm_ring_counters* c, uint64_t expected, uint64_t desired)
    void lm_dropped_add(lm_ring_counters* c, uint64_t n)
    uint64_t lm_dropped_load(lm_ring_counters* c)


cdef class RingBuffer:
    cdef float* _data                 # 2 * capacity floats: every sample stored at i and i + capacity
    cdef uint64_t _cap                # capacity, as the counters' type
    cdef readonly Py_ssize_t capacity
    cdef readonly bint overwrite
    cdef readonly Py_ssize_t release_gil_at
    cdef lm_ring_counters _ctr        # head / tail / dropped, C11 atomics
    cdef list _views                  # _LatestView objects with at least one open buffer export
    cdef bint _writing                # a write() is between its checks and its publish (GIL released)
    cdef uint64_t _writing_end        # head that write() will publish; valid while _writing
    cdef bint _reading                # a read_into()/clear() is in progress (GIL possibly released)

    cdef Py_ssize_t _write_ptr(self, const float* src, Py_ssize_t n) except -1
    cdef uint64_t _oldest_view_start(self)
    cdef uint64_t _accept_count(self, uint64_t n) noexcept nogil
    cdef void _produce(self, const float* src, uint64_t n, uint64_t accepted) noexcept nogil
    cdef Py_ssize_t _read_ptr(self, float* dst, Py_ssize_t n) except -1
    cdef Py_ssize_t _consume(self, float* dst, Py_ssize_t n) noexcept nogil


cdef class _LatestView:
    cdef RingBuffer _ring
    cdef uint64_t _start              # sample-clock index of the first sample in the window
    cdef Py_ssize_t _shape[1]
    cdef Py_ssize_t _strides[1]
    cdef Py_ssize_t _exports          # open buffer exports of this window
