# cython: language_level=3, boundscheck=False, wraparound=False
"""Test harness: drive a RingBuffer from two threads with the GIL released.

Python-level threads mostly take turns on the GIL, so the producer and the
consumer rarely touch the ring at the same instant.  These loops run the
ring's own nogil producer and consumer paths back to back, many thousand
times, so two OS threads really do race on ``head`` and ``tail``.  Private:
used by tests/test_ringbuffer.py only.
"""

from libc.stdint cimport uint64_t

from lumina._core.ringbuffer cimport RingBuffer, lm_head_acquire, lm_tail_acquire


cdef inline uint64_t _next_random(uint64_t* state) noexcept nogil:
    """xorshift64: cheap reproducible block sizes without the GIL."""
    state[0] ^= state[0] << 13
    state[0] ^= state[0] >> 7
    state[0] ^= state[0] << 17
    return state[0]


def produce(RingBuffer ring, const float[::1] source, Py_ssize_t max_block, uint64_t seed,
            uint64_t pause=0):
    """Write all of ``source`` in random blocks of 1..max_block samples.

    Refused samples (``overwrite=False``) are offered again until accepted.
    ``pause`` busy-steps between writes (0..pause random-number steps) keep
    the producer near the consumer's pace, so both overruns and catch-ups
    happen instead of the producer finishing before the consumer starts.

    Returns
    -------
    tuple of int
        ``(writes, refused)``: write calls made and samples refused in total.
    """
    cdef uint64_t state = seed | 1, pos = 0, total = source.shape[0]
    cdef uint64_t n, accepted, writes = 0, refused = 0, i
    with nogil:
        while pos < total:
            if pause:
                for i in range(_next_random(&state) % pause):
                    _next_random(&state)
            n = 1 + _next_random(&state) % <uint64_t>max_block
            if n > total - pos:
                n = total - pos
            accepted = ring._accept_count(n)
            ring._produce(&source[pos], n, accepted)
            refused += n - accepted
            pos += accepted
            writes += 1
    return writes, refused


def consume(RingBuffer ring, float[::1] scratch, uint64_t total, uint64_t seed):
    """Read in random sizes until the ring's clock reached ``total`` and all is read.

    Checks every received sample in C: it must be an integer below ``total``
    and larger than the previous one (strictly increasing).

    Returns
    -------
    tuple of int
        ``(received, reads, violations, last)``: samples received, non-empty
        reads, samples that broke the order check, and the last sample value
        (-1 if none arrived).
    """
    cdef uint64_t state = seed | 1, received = 0, reads = 0, violations = 0
    cdef Py_ssize_t n, got, i
    cdef Py_ssize_t max_read = scratch.shape[0]
    cdef double last = -1.0, value
    with nogil:
        while True:
            n = 1 + <Py_ssize_t>(_next_random(&state) % <uint64_t>max_read)
            got = ring._consume(&scratch[0], n)
            if got == 0:
                if lm_head_acquire(&ring._ctr) == total and lm_tail_acquire(&ring._ctr) == total:
                    break
                continue
            reads += 1
            received += <uint64_t>got
            for i in range(got):
                value = scratch[i]
                if value < 0 or value >= <double>total or value != <double>(<long long>value) or value <= last:
                    violations += 1
                last = value
    return received, reads, violations, <long long>last
