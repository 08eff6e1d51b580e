# cython: language_level=3, boundscheck=False, wraparound=False
"""Lock-free single-producer / single-consumer float32 ring buffer.

Layout
------
The ring owns ``2 * capacity`` floats and stores every sample twice, at slot
``i = clock % capacity`` and at ``i + capacity`` (the "mirrored" layout).  Any
run of at most ``capacity`` consecutive samples therefore lies contiguously in
memory, starting at ``first % capacity``: reads are one ``memcpy`` and
:meth:`RingBuffer.latest` can hand out a zero-copy view of the newest samples.

Counters
--------
``head`` (samples ever accepted), ``tail`` (samples consumed or dropped) and
``dropped`` are monotonic 64-bit sample counters in C11 atomics (see
ringbuffer.h).  They never wrap in practice, so ``head - tail`` is the unread
count and there is no ABA problem for the compare-and-swap below.

Protocol (why overwrite mode stays a correct SPSC ring)
-------------------------------------------------------
Producer, writing samples that end the clock at ``end``:

1. If ``end - tail > capacity`` (overwrite mode only), the oldest unread
   samples must go: CAS ``tail`` from its current value ``t`` to
   ``end - capacity`` and add ``end - capacity - t`` to ``dropped``.  If the
   CAS fails, the consumer moved ``tail`` meanwhile: reload and retry (the
   consumer may have freed enough room that nothing needs dropping).
2. Copy the samples into their slots (plain stores, after the CAS's acquire).
3. Publish ``head = end`` with a release store.

Without overwrite the producer never moves ``tail``: it accepts only
``capacity - (head - tail)`` samples and writes only slots of samples that
the consumer has already released.

Consumer, reading up to ``n`` samples:

1. Load ``tail = t`` then ``head = h`` (acquire); ``k = min(n, h - t)``.
2. Copy samples ``[t, t + k)`` out (one ``memcpy`` thanks to the mirror).
3. CAS ``tail`` from ``t`` to ``t + k`` (release).  Success means the producer
   had not claimed any of those samples in step 1 before the copy finished:
   the producer's later CAS reads our release and its slot writes happen
   after our copy.  Failure means the producer dropped samples under us and
   may be overwriting them right now, so the copy is discarded and we retry
   from the new ``tail``; the lost samples are already counted in ``dropped``.

Every sample thus reaches the reader exactly once, in order, or is counted in
``dropped``; the producer never waits (lock-free: the consumer only retries
when the producer made progress).  Step 2 of the consumer may race with the
producer's slot writes in the failing case; like a seqlock, the torn copy is
detected by the CAS and thrown away, never returned.

Open views (``latest``)
-----------------------
A view on samples ``[a, b)`` stays valid until the producer writes sample
``a + capacity`` (that sample reuses ``a``'s slot).  Rule: while views are
open, ``write`` raises BufferError, accepting nothing, if it would move the
clock past ``a + capacity`` for the oldest open view.  Writes that leave
every open window alone proceed, so a decoder can keep a view of the newest
second of a larger ring while audio streams in.  ``read``, ``read_into`` and
``clear`` only move ``tail`` and never touch memory, so they are allowed
while views are open.  View bookkeeping is done with the GIL held, and a
view is only opened (in ``__getbuffer__``) on a window that no finished or
running write has reached.

The GIL
-------
The atomics make the ring safe without any lock; the GIL is only a matter of
latency.  Copies of at least ``release_gil_at`` samples (default 16384) run
with the GIL released.  Shorter ones keep it on purpose: an audio callback
that drops the GIL for a 2 KB ``memcpy`` must take it back afterwards, and if
another thread is running Python code meanwhile that wait can last a whole
switch interval (5 ms), far longer than the copy.
"""

import operator

import numpy as np
from lumina.errors import ArgumentError, BufferStateError

from cpython.buffer cimport (
    PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES, PyBUF_WRITABLE,
    PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer,
)
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy


cdef enum:
    _FLOAT_BYTES = 4
    # Copies this long (or longer) release the GIL by default.  Shorter ones
    # keep it: releasing and re-taking the GIL costs more than copying a few
    # thousand floats, and re-taking it can stall an audio callback for a
    # whole switch interval (5 ms) while another thread runs Python code.
    _DEFAULT_RELEASE_GIL_AT = 16384

cdef Py_ssize_t _MAX_CAPACITY = PY_SSIZE_T_MAX // (2 * _FLOAT_BYTES)
cdef char* _F32_FORMAT = b"f"


cdef inline bint _is_native_f32(const char* fmt) noexcept nogil:
    """True for the buffer format strings of native-order float32."""
    if fmt == NULL:
        return False  # no format requested means unsigned bytes
    if fmt[0] == b"@" or fmt[0] == b"=":
        fmt += 1
    return fmt[0] == b"f" and fmt[1] == 0


cdef object _as_count(str name, object value):
    """``value`` as a Python int, with a message naming the argument."""
    try:
        return operator.index(value)
    except TypeError:
        raise ArgumentError(
            f"{name} must be an int, got {type(value).__name__}") from None


cdef object _to_float32(object samples):
    """Convert any 1-D float array-like to a C-contiguous native float32 array.

    This is the slow path of ``write``: it copies (and converts) exactly when
    the input is not already native float32 and C-contiguous.
    """
    arr = np.asarray(samples)
    if arr.dtype.kind != "f":
        raise ArgumentError(
            f"RingBuffer.write() needs floating-point samples, got dtype {arr.dtype}; "
            "convert integer PCM first, e.g. x.astype(np.float32) / 32768")
    if arr.ndim != 1:
        raise ArgumentError(
            f"RingBuffer.write() needs a 1-D array of mono samples, got {arr.ndim}-D "
            f"with shape {arr.shape}; pass one channel (x[:, 0]) or mix down first")
    return np.ascontiguousarray(arr, dtype=np.float32)


cdef int _get_samples(object samples, Py_buffer* view) except -1:
    """Fill ``view`` with a C-contiguous native float32 1-D buffer of ``samples``.

    Native float32 contiguous buffers (the streaming case) are taken as they
    are, without a copy; anything else goes through :func:`_to_float32`.
    """
    if PyObject_CheckBuffer(samples):
        try:
            PyObject_GetBuffer(samples, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
        except (BufferError, ValueError, TypeError):
            pass  # e.g. strided: fall back to converting
        else:
            if view.ndim == 1 and view.itemsize == _FLOAT_BYTES and _is_native_f32(view.format):
                return 0
            PyBuffer_Release(view)
    PyObject_GetBuffer(_to_float32(samples), view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
    return 0


cdef int _get_output(object out, Py_buffer* view) except -1:
    """Fill ``view`` with the writable float32 1-D buffer of ``out``, or raise."""
    fix = "pass e.g. np.empty(n, dtype=np.float32)"
    try:
        PyObject_GetBuffer(out, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE)
    except (BufferError, ValueError, TypeError) as exc:
        raise ArgumentError(
            f"read_into() needs a writable, C-contiguous float32 buffer ({exc}); {fix}") from None
    if view.ndim == 1 and view.itemsize == _FLOAT_BYTES and _is_native_f32(view.format):
        return 0
    got = view.format.decode("ascii", "replace") if view.format != NULL else "B"
    ndim = view.ndim
    PyBuffer_Release(view)
    if ndim != 1:
        raise ArgumentError(f"read_into() needs a 1-D buffer, got {ndim}-D; {fix}")
    raise ArgumentError(f"read_into() needs native float32, got buffer format {got!r}; {fix}")


cdef class RingBuffer:
    """Lock-free single-producer / single-consumer ring of float32 samples.

    One thread (e.g. an audio callback) calls :meth:`write`; another calls
    :meth:`read` / :meth:`read_into` / :meth:`clear`.  :meth:`latest`, the
    counters and ``len()`` may be used from either.  Two concurrent writers
    (or readers) are refused with BufferError.

    Parameters
    ----------
    capacity : int
        Most unread samples held (> 0).  Memory used is ``8 * capacity`` bytes
        (every sample is stored twice so any window is contiguous).
    overwrite : bool, default True
        When full, True drops the oldest unread samples to make room; False
        refuses the newest samples of the write.  Either way the lost count
        is added to :attr:`dropped`.
    release_gil_at : int, default 16384
        Copies of at least this many samples run with the GIL released;
        shorter copies keep it, because releasing and re-taking the GIL costs
        more than the copy and can stall an audio callback for a switch
        interval.  0 releases it for every copy.

    Raises
    ------
    ArgumentError
        (also a ValueError) If ``capacity <= 0``, ``capacity`` is too large to address, or
        ``release_gil_at < 0``.
    MemoryError
        If the ``8 * capacity`` bytes cannot be allocated.
    """

    def __cinit__(self, capacity, *, bint overwrite=True,
                  release_gil_at=_DEFAULT_RELEASE_GIL_AT):
        capacity = _as_count("capacity", capacity)
        release_gil_at = _as_count("release_gil_at", release_gil_at)
        if capacity <= 0:
            raise ArgumentError(f"capacity must be > 0 samples, got {capacity}")
        if capacity > _MAX_CAPACITY:
            raise ArgumentError(
                f"capacity {capacity} is too large: the ring needs 8 bytes per sample "
                f"of capacity and at most {_MAX_CAPACITY} samples are addressable")
        if release_gil_at < 0:
            raise ArgumentError(f"release_gil_at must be >= 0, got {release_gil_at}")
        self._data = <float*>calloc(<size_t>capacity * 2, _FLOAT_BYTES)
        if self._data == NULL:
            raise MemoryError(
                f"cannot allocate {capacity * 2 * _FLOAT_BYTES} bytes for a RingBuffer "
                f"of capacity {capacity}; choose a smaller capacity")
        self.capacity = capacity
        self._cap = <uint64_t>capacity
        self.overwrite = overwrite
        self.release_gil_at = release_gil_at
        lm_counters_init(&self._ctr)
        self._views = []

    def __dealloc__(self):
        # Open views hold a reference to the ring, so none can outlive it.
        free(self._data)

    # ------------------------------------------------------------------ write

    def write(self, samples):
        """Append samples; return how many were accepted.

        Parameters
        ----------
        samples : array_like, 1-D, floating point
            Native float32 C-contiguous input is used without a copy; other
            float layouts (float64, strided, reversed, big-endian) are
            converted first.

        Returns
        -------
        int
            With ``overwrite=True`` always ``len(samples)``: every sample
            advances :attr:`total_written`, and samples that do not fit (the
            oldest unread ones, or the oldest of a write longer than
            ``capacity``) are counted in :attr:`dropped`.  With
            ``overwrite=False`` the number that fit; the refused rest (the
            end of ``samples``) is counted in :attr:`dropped`.

        Raises
        ------
        ArgumentError
            (also a TypeError) If the samples are not floating point (integer PCM, objects).
        ArgumentError
            (also a ValueError) If ``samples`` is not 1-D.
        BufferStateError
            If the write would overwrite samples an open :meth:`latest` view
            still shows, or another thread is inside ``write``.  Nothing is
            accepted and nothing is counted as dropped.
        """
        cdef Py_buffer view
        _get_samples(samples, &view)
        try:
            return self._write_ptr(<const float*>view.buf, view.len // _FLOAT_BYTES)
        finally:
            PyBuffer_Release(&view)

    cdef Py_ssize_t _write_ptr(self, const float* src, Py_ssize_t n) except -1:
        cdef uint64_t accepted, end
        if self._writing:
            raise BufferStateError(
                "write() is already running in another thread; "
                "a RingBuffer has exactly one producer thread")
        accepted = self._accept_count(<uint64_t>n)
        end = lm_head_relaxed(&self._ctr) + accepted
        if self._views and end > self._oldest_view_start() + self._cap:
            raise BufferStateError(
                f"write() of {n} samples would overwrite samples still shown by an "
                f"open latest() view (oldest at sample {self._oldest_view_start()}, "
                f"total_written {end - accepted}); release the view first or use a "
                "larger capacity")
        self._writing = True
        self._writing_end = end
        if n >= self.release_gil_at and self.capacity >= self.release_gil_at:
            with nogil:
                self._produce(src, <uint64_t>n, accepted)
        else:
            self._produce(src, <uint64_t>n, accepted)
        self._writing = False
        return <Py_ssize_t>accepted

    cdef uint64_t _oldest_view_start(self):
        cdef _LatestView v
        cdef uint64_t oldest = <uint64_t>-1
        for obj in self._views:
            v = <_LatestView>obj
            if v._start < oldest:
                oldest = v._start
        return oldest

    cdef uint64_t _accept_count(self, uint64_t n) noexcept nogil:
        """How far a write of ``n`` samples advances the clock (producer side)."""
        cdef uint64_t space
        if self.overwrite:
            return n
        space = self._cap - (lm_head_relaxed(&self._ctr) - lm_tail_acquire(&self._ctr))
        return n if n < space else space

    cdef void _produce(self, const float* src, uint64_t n, uint64_t accepted) noexcept nogil:
        """Store a write of ``n`` samples that ``_accept_count`` sized to ``accepted``.

        Only the newest ``min(accepted, capacity)`` samples reach memory: with
        overwrite the rest would be dropped at once, without it ``accepted``
        is at most the free space.  Everything not stored counts as dropped.
        """
        cdef uint64_t cap = self._cap, head, end, m, tail, floor, p, a
        head = lm_head_relaxed(&self._ctr)
        end = head + accepted
        m = accepted if accepted < cap else cap
        if self.overwrite:
            src += n - m
        if self.overwrite and end > cap:
            floor = end - cap  # the oldest sample that may stay unread
            while True:
                tail = lm_tail_acquire(&self._ctr)
                if tail >= floor:
                    break
                if lm_tail_cas(&self._ctr, tail, floor):
                    lm_dropped_add(&self._ctr, floor - tail)
                    break
        if n > accepted:
            lm_dropped_add(&self._ctr, n - accepted)
        if m == 0:
            return
        p = (end - m) % cap
        a = cap - p if m > cap - p else m
        # [p, p+m) is one run in the doubled buffer; then the mirror copies of
        # the part before the wrap (at +cap) and of the part after it (at 0).
        memcpy(self._data + p, src, m * _FLOAT_BYTES)
        memcpy(self._data + p + cap, src, a * _FLOAT_BYTES)
        if m > a:
            memcpy(self._data, src + a, (m - a) * _FLOAT_BYTES)
        lm_head_publish(&self._ctr, end)

    # ------------------------------------------------------------------- read

    def read(self, Py_ssize_t n):
        """Consume up to ``n`` unread samples, oldest first.

        Returns
        -------
        numpy.ndarray
            A new float32 array of ``min(n, len(self))`` samples (possibly
            empty).

        Raises
        ------
        ArgumentError
            (also a ValueError) If ``n < 0``.
        """
        cdef Py_buffer view
        cdef Py_ssize_t want, got
        if n < 0:
            raise ArgumentError(f"read() needs n >= 0, got {n}")
        want = len(self)
        if n < want:
            want = n
        out = np.empty(want, dtype=np.float32)
        if want == 0:
            return out
        PyObject_GetBuffer(out, &view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE)
        try:
            got = self._read_ptr(<float*>view.buf, want)
        finally:
            PyBuffer_Release(&view)
        # Fewer only if the producer dropped samples between len() and the read.
        return out if got == want else out[:got]

    def read_into(self, out):
        """Consume up to ``len(out)`` samples into ``out``; allocate nothing.

        Parameters
        ----------
        out : writable C-contiguous 1-D float32 buffer (e.g. an ndarray)

        Returns
        -------
        int
            Samples written to the start of ``out`` (the rest is untouched).

        Raises
        ------
        ArgumentError
            (also a TypeError) If ``out`` is not float32.
        ArgumentError
            (also a ValueError) If ``out`` is read-only, not contiguous or not 1-D.
        """
        cdef Py_buffer view
        _get_output(out, &view)
        try:
            return self._read_ptr(<float*>view.buf, view.len // _FLOAT_BYTES)
        finally:
            PyBuffer_Release(&view)

    cdef Py_ssize_t _read_ptr(self, float* dst, Py_ssize_t n) except -1:
        cdef Py_ssize_t got
        if n == 0:
            return 0
        if self._reading:
            raise BufferStateError(
                "a read is already running in another thread; "
                "a RingBuffer has exactly one consumer thread")
        self._reading = True
        if n >= self.release_gil_at and self.capacity >= self.release_gil_at:
            with nogil:
                got = self._consume(dst, n)
        else:
            got = self._consume(dst, n)
        self._reading = False
        return got

    cdef Py_ssize_t _consume(self, float* dst, Py_ssize_t n) noexcept nogil:
        """Copy up to ``n`` unread samples to ``dst`` and release them."""
        cdef uint64_t cap = self._cap, tail, head, k
        while True:
            tail = lm_tail_acquire(&self._ctr)
            head = lm_head_acquire(&self._ctr)
            if head - tail > cap:
                continue  # the producer dropped samples between the two loads
            k = head - tail
            if <uint64_t>n < k:
                k = <uint64_t>n
            if k == 0:
                return 0
            memcpy(dst, self._data + tail % cap, k * _FLOAT_BYTES)
            if lm_tail_cas(&self._ctr, tail, tail + k):
                return <Py_ssize_t>k
            # The producer claimed some of these samples: the copy may be torn.

    def clear(self):
        """Discard every unread sample (consumer side); return how many.

        Discarded samples are the caller's choice, so they are *not* added to
        :attr:`dropped`.  Allowed while :meth:`latest` views are open: it
        only moves the read position and never touches sample memory.
        """
        cdef uint64_t tail, head
        if self._reading:
            raise BufferStateError(
                "a read is already running in another thread; "
                "a RingBuffer has exactly one consumer thread")
        while True:
            tail = lm_tail_acquire(&self._ctr)
            head = lm_head_acquire(&self._ctr)
            if lm_tail_cas(&self._ctr, tail, head):
                return <Py_ssize_t>(head - tail)

    # ----------------------------------------------------------------- latest

    def latest(self, Py_ssize_t n):
        """Zero-copy, read-only view of the newest ``n`` samples.

        The samples need not be unread: this is the history window, and it
        does not consume anything.  While the returned array (or anything
        derived from it) is alive, its contents stay fixed: a :meth:`write`
        that would overwrite them raises BufferError instead.

        Returns
        -------
        numpy.ndarray
            Read-only contiguous float32 array of length ``n`` sharing memory
            with the ring.

        Raises
        ------
        ArgumentError
            (also a ValueError) If ``n < 0``, ``n > capacity`` or ``n > total_written``.
        BufferStateError
            If a write running in another thread is overwriting part of
            those samples right now (retry, or ask for fewer).
        """
        cdef uint64_t head
        cdef _LatestView view
        if n < 0 or n > self.capacity:
            raise ArgumentError(
                f"latest() needs 0 <= n <= capacity ({self.capacity}), got {n}")
        head = lm_head_acquire(&self._ctr)
        if <uint64_t>n > head:
            raise ArgumentError(
                f"latest({n}) asks for more samples than were ever written ({head})")
        if n == 0:
            empty = np.empty(0, dtype=np.float32)
            empty.flags.writeable = False
            return empty
        view = _LatestView.__new__(_LatestView)
        view._ring = self
        view._start = head - <uint64_t>n
        view._shape[0] = n
        view._strides[0] = _FLOAT_BYTES
        return np.asarray(view)

    # --------------------------------------------------------------- counters

    def __len__(self):
        """Unread samples (a snapshot when the other thread is active)."""
        cdef uint64_t tail = lm_tail_acquire(&self._ctr)
        cdef uint64_t head = lm_head_acquire(&self._ctr)
        return <Py_ssize_t>(head - tail if head - tail < self._cap else self._cap)

    @property
    def dropped(self):
        """Samples lost so far: overwritten unread (overwrite=True) or refused."""
        return lm_dropped_load(&self._ctr)

    @property
    def total_written(self):
        """Monotonic sample clock: samples ever accepted by :meth:`write`."""
        return lm_head_acquire(&self._ctr)

    @property
    def open_views(self):
        """Number of :meth:`latest` windows with an open buffer export."""
        return len(self._views)

    def __repr__(self):
        return (f"RingBuffer(capacity={self.capacity}, overwrite={self.overwrite}, "
                f"unread={len(self)}, total_written={self.total_written}, "
                f"dropped={self.dropped}, open_views={self.open_views})")


cdef class _LatestView:
    """Buffer exporter for one :meth:`RingBuffer.latest` window (private).

    The first export registers the window with the ring (after checking that
    no write has reached or is reaching its slots); the last release removes
    it, which lets writes through again.
    """

    def __getbuffer__(self, Py_buffer* buffer, int flags):
        cdef RingBuffer ring = self._ring
        cdef uint64_t newest
        if ring is None:
            raise BufferStateError("_LatestView is created by RingBuffer.latest(), not directly")
        if flags & PyBUF_WRITABLE:
            raise BufferStateError("latest() views are read-only; copy with np.array(view) to modify")
        if self._exports == 0:
            newest = lm_head_acquire(&ring._ctr)
            if ring._writing and ring._writing_end > newest:
                newest = ring._writing_end
            if newest > self._start + ring._cap:
                raise BufferStateError(
                    "the samples of this latest() window are being overwritten by a "
                    "concurrent write(); retry, or ask for fewer samples")
            ring._views.append(self)
        self._exports += 1
        buffer.buf = ring._data + self._start % ring._cap
        buffer.obj = self
        buffer.len = self._shape[0] * _FLOAT_BYTES
        buffer.readonly = 1
        buffer.itemsize = _FLOAT_BYTES
        buffer.format = _F32_FORMAT if flags & PyBUF_FORMAT else NULL
        buffer.ndim = 1
        buffer.shape = self._shape if (flags & PyBUF_ND) == PyBUF_ND else NULL
        buffer.strides = self._strides if (flags & PyBUF_STRIDES) == PyBUF_STRIDES else NULL
        buffer.suboffsets = NULL
        buffer.internal = NULL

    def __releasebuffer__(self, Py_buffer* buffer):
        self._exports -= 1
        if self._exports == 0:
            self._ring._views.remove(self)
