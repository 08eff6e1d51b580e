"""Tests of lumina.RingBuffer: model-based, edge lengths, layouts, threads, zero-copy views."""

import array
import ctypes
import re
import sys
import threading
import time
from collections import deque

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from lumina._core.ringbuffer import RingBuffer


def _seq(start, n):
    """Exact float32 integers start .. start+n-1 (so every sample is identifiable)."""
    return np.arange(start, start + n, dtype=np.float32)


# --------------------------------------------------------------------------- model


def _make_machine(capacity, overwrite, release_gil_at):
    """A state machine comparing RingBuffer with a deque model after every step."""

    class RingModel(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.ring = RingBuffer(capacity, overwrite=overwrite, release_gil_at=release_gil_at)
            self.unread = deque()
            self.history = deque(maxlen=capacity)  # newest samples ever written
            self.dropped = 0
            self.total = 0
            self.views = []  # [array, expected contents, first sample index]

        def _refused_by_view(self, end):
            starts = [start for _, _, start in self.views]
            return bool(starts) and end > min(starts) + capacity

        @rule(size=st.integers(0, 3 * capacity), seed=st.integers(0, 2**32 - 1))
        def write(self, size, seed):
            values = np.random.default_rng(seed).standard_normal(size).astype(np.float32)
            accepted = size if overwrite else min(size, capacity - len(self.unread))
            if self._refused_by_view(self.total + accepted):
                with pytest.raises(BufferError, match="open latest\\(\\) view"):
                    self.ring.write(values)
                return
            assert self.ring.write(values) == accepted
            kept = values[:accepted]
            self.unread.extend(kept.tolist())
            self.history.extend(kept.tolist())
            lost = max(0, len(self.unread) - capacity)
            for _ in range(lost):
                self.unread.popleft()
            self.dropped += lost + (size - accepted)
            self.total += accepted

        @rule(n=st.integers(0, capacity + 3))
        def read(self, n):
            k = min(n, len(self.unread))
            expected = [self.unread.popleft() for _ in range(k)]
            got = self.ring.read(n)
            assert got.dtype == np.float32
            assert got.tolist() == expected

        @rule(n=st.integers(0, capacity + 3))
        def read_into(self, n):
            k = min(n, len(self.unread))
            expected = [self.unread.popleft() for _ in range(k)]
            out = np.full(n, -7.5, dtype=np.float32)
            assert self.ring.read_into(out) == k
            assert out[:k].tolist() == expected
            assert out[k:].tolist() == [-7.5] * (n - k)

        @rule(n=st.integers(0, capacity + 1), keep=st.booleans())
        def latest(self, n, keep):
            if n > capacity or n > self.total:
                with pytest.raises(ValueError, match=r"latest\(\) needs|more samples than"):
                    self.ring.latest(n)
                return
            view = self.ring.latest(n)
            expected = list(self.history)[len(self.history) - n:]
            assert view.tolist() == expected
            assert not view.flags.writeable
            if keep and n > 0:
                self.views.append([view, expected, self.total - n])

        @precondition(lambda self: self.views)
        @rule(index=st.integers(0, 1000))
        def release_view(self, index):
            del self.views[index % len(self.views)]

        @rule()
        def clear(self):
            assert self.ring.clear() == len(self.unread)
            self.unread.clear()

        @invariant()
        def counters_match(self):
            assert len(self.ring) == len(self.unread)
            assert self.ring.dropped == self.dropped
            assert self.ring.total_written == self.total
            assert self.ring.open_views == len(self.views)

        @invariant()
        def open_views_are_stable(self):
            for view, expected, _ in self.views:
                assert view.tolist() == expected

    RingModel.TestCase.settings = settings(
        max_examples=40, stateful_step_count=30, deadline=None)
    return RingModel


for _cap in (1, 2, 17, 509):
    for _overwrite in (True, False):
        _gil = 0 if _cap in (17, 509) else 16384  # cover both copy paths
        _name = f"TestRingModelCap{_cap}{'Overwrite' if _overwrite else 'Refuse'}"
        globals()[_name] = _make_machine(_cap, _overwrite, _gil).TestCase
del _cap, _overwrite, _gil, _name


# ---------------------------------------------------------------------- edge lengths

CAP = 17
EDGE_LENGTHS = [0, 1, 2, CAP - 1, CAP, CAP + 1, 10 * CAP + 3]


@pytest.mark.parametrize("n", EDGE_LENGTHS)
@pytest.mark.parametrize("prefill", [0, 5])
def test_edge_lengths_overwrite_keep_newest(n, prefill):
    ring = RingBuffer(CAP)
    ring.write(_seq(1000, prefill))
    assert ring.write(_seq(0, n)) == n
    everything = _seq(1000, prefill).tolist() + _seq(0, n).tolist()
    kept = everything[max(0, len(everything) - CAP):]
    assert len(ring) == len(kept)
    assert ring.dropped == len(everything) - len(kept)
    assert ring.total_written == prefill + n
    assert ring.read(10 * CAP).tolist() == kept
    assert len(ring) == 0


@pytest.mark.parametrize("n", EDGE_LENGTHS)
@pytest.mark.parametrize("prefill", [0, 5])
def test_edge_lengths_refuse_keep_oldest(n, prefill):
    ring = RingBuffer(CAP, overwrite=False)
    ring.write(_seq(1000, prefill))
    accepted = min(n, CAP - prefill)
    assert ring.write(_seq(0, n)) == accepted
    assert ring.dropped == n - accepted
    assert ring.total_written == prefill + accepted
    assert ring.read(10 * CAP).tolist() == _seq(1000, prefill).tolist() + _seq(0, accepted).tolist()


@pytest.mark.parametrize("n", EDGE_LENGTHS)
def test_edge_lengths_latest_across_the_wrap(n):
    ring = RingBuffer(CAP)
    ring.write(_seq(0, 11))  # start mid-buffer so windows straddle the wrap
    ring.write(_seq(11, n))
    total = 11 + n
    for k in (1, min(CAP, total) // 2, min(CAP, total)):
        view = ring.latest(k)
        assert view.tolist() == _seq(total - k, k).tolist()
        del view


def test_capacity_one_keeps_only_the_newest_sample():
    ring = RingBuffer(1)
    assert ring.write([1.0, 2.0, 3.0]) == 3
    assert (len(ring), ring.dropped, ring.total_written) == (1, 2, 3)
    assert ring.read(5).tolist() == [3.0]
    assert ring.latest(1).tolist() == [3.0]


def test_read_of_empty_ring_and_zero_are_empty_float32():
    ring = RingBuffer(4)
    for got in (ring.read(3), ring.read(0)):
        assert got.dtype == np.float32
        assert got.shape == (0,)
    ring.write([1.0])
    assert ring.read(0).shape == (0,)
    assert len(ring) == 1


def test_read_into_partial_fill_leaves_the_rest_untouched():
    ring = RingBuffer(8)
    ring.write(_seq(1, 3))
    out = np.full(5, 9.0, dtype=np.float32)
    assert ring.read_into(out) == 3
    assert out.tolist() == [1.0, 2.0, 3.0, 9.0, 9.0]
    assert ring.read_into(out) == 0
    assert ring.read_into(np.empty(0, dtype=np.float32)) == 0


def test_clear_discards_unread_without_counting_them_dropped():
    ring = RingBuffer(8)
    ring.write(_seq(0, 6))
    ring.read(2)
    assert ring.clear() == 4
    assert (len(ring), ring.dropped, ring.total_written) == (0, 0, 6)
    assert ring.clear() == 0
    ring.write([42.0])
    assert ring.read(5).tolist() == [42.0]
    assert ring.latest(3).tolist() == [4.0, 5.0, 42.0]  # history survives clear()


def test_counters_and_repr():
    ring = RingBuffer(4, overwrite=False)
    assert (ring.capacity, ring.overwrite, ring.release_gil_at) == (4, False, 16384)
    ring.write(_seq(0, 6))
    assert repr(ring) == ("RingBuffer(capacity=4, overwrite=False, unread=4, "
                          "total_written=4, dropped=2, open_views=0)")


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize("capacity", [0, -1])
def test_non_positive_capacity_is_refused(capacity):
    with pytest.raises(ValueError, match=f"capacity must be > 0 samples, got {capacity}"):
        RingBuffer(capacity)


def test_unaddressable_capacity_is_refused_with_value_error():
    with pytest.raises(ValueError, match="capacity 1152921504606846976 is too large"):
        RingBuffer(2**60)


def test_unallocatable_capacity_is_refused_with_memory_error():
    # 2**58 bytes is beyond any x86-64/arm64 address space, whatever the overcommit policy.
    with pytest.raises(MemoryError, match="cannot allocate 288230376151711744 bytes"):
        RingBuffer(2**55)


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"capacity": 3.5}, TypeError, "capacity must be an int, got float"),
    ({"capacity": "8"}, TypeError, "capacity must be an int, got str"),
    ({"capacity": 8, "release_gil_at": -1}, ValueError, "release_gil_at must be >= 0, got -1"),
])
def test_bad_constructor_arguments(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        RingBuffer(**kwargs)


@pytest.mark.parametrize("samples, dtype_name", [
    (np.arange(4, dtype=np.int16), "int16"),
    (np.arange(4, dtype=np.int32), "int32"),
    ([1, 2, 3], "int64"),
    (np.array([True, False]), "bool"),
    (np.array(["a", "b"]), "<U1"),
    (np.arange(4, dtype=np.complex64), "complex64"),
])
def test_non_float_samples_are_refused_with_type_error(samples, dtype_name):
    ring = RingBuffer(8)
    ring.write([0.5])
    with pytest.raises(TypeError, match=f"needs floating-point samples, got dtype {dtype_name}"):
        ring.write(samples)
    assert (len(ring), ring.total_written, ring.dropped) == (1, 1, 0)


@pytest.mark.parametrize("samples, shape", [
    (np.zeros((2, 3), dtype=np.float32), "(2, 3)"),
    (np.zeros((3, 1), dtype=np.float64), "(3, 1)"),
    (np.float32(1.0), "()"),
])
def test_non_1d_samples_are_refused_with_value_error(samples, shape):
    ring = RingBuffer(8)
    with pytest.raises(ValueError, match=re.escape(f"with shape {shape}")):
        ring.write(samples)
    assert (len(ring), ring.total_written, ring.dropped) == (0, 0, 0)


def test_negative_read_is_refused():
    with pytest.raises(ValueError, match="read\\(\\) needs n >= 0, got -1"):
        RingBuffer(4).read(-1)


@pytest.mark.parametrize("out, exc, message", [
    (np.zeros(4, dtype=np.float64), TypeError, "needs native float32, got buffer format 'd'"),
    (np.zeros(4, dtype=">f4"), TypeError, "needs native float32, got buffer format '>f'"),
    (np.zeros((2, 2), dtype=np.float32), ValueError, "needs a 1-D buffer, got 2-D"),
    (np.zeros(8, dtype=np.float32)[::2], ValueError, "writable, C-contiguous float32 buffer"),
    ([0.0, 0.0], ValueError, "writable, C-contiguous float32 buffer"),
])
def test_read_into_refuses_unsuitable_buffers_and_consumes_nothing(out, exc, message):
    ring = RingBuffer(4)
    ring.write([1.0, 2.0])
    with pytest.raises(exc, match=re.escape(message)):
        ring.read_into(out)
    assert len(ring) == 2


def test_read_into_refuses_read_only_arrays():
    ring = RingBuffer(4)
    ring.write([1.0])
    out = np.zeros(2, dtype=np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        ring.read_into(out)
    assert len(ring) == 1


# --------------------------------------------------------------------- input layouts

_VALUES = np.random.default_rng(7).standard_normal(1000).astype(np.float32)


def _fortran_row(v):
    both = np.asfortranarray(np.stack([v, -v]))  # row 0 is strided in Fortran order
    return both[0]


def _fortran_column(v):
    both = np.asfortranarray(np.stack([v, -v], axis=1))  # a column is contiguous
    return both[:, 0]


LAYOUTS = {
    "c_order": lambda v: v.copy(),
    "fortran_row": _fortran_row,
    "fortran_column": _fortran_column,
    "strided": lambda v: np.repeat(v, 2)[::2],
    "reversed": lambda v: v[::-1].copy()[::-1],
    "big_endian": lambda v: v.astype(">f4"),
    "float64": lambda v: v.astype(np.float64),
    "list": lambda v: v.tolist(),
    "array_module": lambda v: array.array("f", v.tobytes()),
    "memoryview": lambda v: memoryview(v.copy()),
}


def test_layout_helpers_build_the_layouts_they_name():
    assert not _fortran_row(_VALUES).flags.c_contiguous
    assert _fortran_column(_VALUES).flags.c_contiguous
    assert LAYOUTS["strided"](_VALUES).strides == (8,)
    assert LAYOUTS["reversed"](_VALUES).strides == (-4,)
    assert LAYOUTS["big_endian"](_VALUES).dtype.byteorder == ">"


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("overwrite", [True, False])
def test_every_input_layout_gives_the_c_order_result(layout, overwrite):
    reference = RingBuffer(509, overwrite=overwrite)
    ring = RingBuffer(509, overwrite=overwrite)
    results = []
    for r, make in ((reference, LAYOUTS["c_order"]), (ring, LAYOUTS[layout])):
        counts = [r.write(make(chunk)) for chunk in np.array_split(_VALUES, [17, 400, 401])]
        results.append((counts, r.read(2000).tobytes(), r.dropped, r.total_written))
    assert results[1] == results[0]
    assert results[0][0] == ([17, 383, 1, 599] if overwrite else [17, 383, 1, 108])


def test_float64_input_is_rounded_to_nearest_float32():
    values = np.random.default_rng(3).standard_normal(100)
    ring = RingBuffer(100)
    ring.write(values)
    assert ring.read(100).tobytes() == values.astype(np.float32).tobytes()


def test_float32_input_is_not_modified():
    values = _seq(0, 10)
    ring = RingBuffer(4)
    ring.write(values)
    assert values.tolist() == list(range(10))


# --------------------------------------------------------------------------- threads


def _run_threads(ring, total, seed, producer_max, consumer_max):
    """Producer writes 0..total-1 in random blocks, consumer reads in random sizes."""
    source = _seq(0, total)
    received, refused, errors = [], [0], []

    def producer():
        rng = np.random.default_rng(seed)
        pos = 0
        try:
            while pos < total:
                block = source[pos:pos + int(rng.integers(1, producer_max + 1))]
                accepted = ring.write(block)
                refused[0] += len(block) - accepted
                pos += accepted
                time.sleep(0)  # hand the GIL over so the two threads interleave
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def consumer():
        rng = np.random.default_rng(seed + 1)
        out = np.empty(consumer_max, dtype=np.float32)
        try:
            while producer_thread.is_alive() or len(ring):
                size = int(rng.integers(1, consumer_max + 1))
                if rng.integers(2):
                    got = ring.read(size)
                else:
                    got = out[:ring.read_into(out[:size])].copy()
                if got.size:
                    received.append(got)
                else:
                    time.sleep(0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    producer_thread = threading.Thread(target=producer)
    consumer_thread = threading.Thread(target=consumer)
    producer_thread.start()
    consumer_thread.start()
    producer_thread.join(60)
    consumer_thread.join(60)
    assert not producer_thread.is_alive() and not consumer_thread.is_alive()
    assert errors == []
    return np.concatenate(received), refused[0]


@pytest.mark.parametrize("capacity", [257, 4096])
def test_two_threads_overwrite_every_sample_arrives_once_in_order_or_is_dropped(capacity):
    total = 2**19
    ring = RingBuffer(capacity, overwrite=True, release_gil_at=0)
    received, refused = _run_threads(ring, total, seed=capacity, producer_max=1024,
                                     consumer_max=700)
    assert refused == 0
    assert ring.total_written == total
    assert len(ring) == 0
    # Exact integers, strictly increasing (a torn or repeated read would break this) ...
    assert np.array_equal(received, np.round(received))
    assert bool(np.all(np.diff(received) > 0))
    assert received[0] >= 0 and received[-1] == total - 1
    # ... and each missing sample is accounted for exactly once.
    assert received.size + ring.dropped == total


def test_two_threads_refuse_delivers_everything_and_counts_refusals():
    total = 2**19
    ring = RingBuffer(1024, overwrite=False, release_gil_at=0)
    received, refused = _run_threads(ring, total, seed=5, producer_max=900, consumer_max=600)
    assert np.array_equal(received, _seq(0, total))
    assert ring.dropped == refused
    assert ring.total_written == total


def _race_without_gil(ring, total, pause, seed):
    """Producer and consumer loops in C, each in its own thread, GIL released."""
    from lumina._core import _ring_stress  # test-only build; conftest explains a missing one
    source = _seq(0, total)
    scratch = np.empty(40, dtype=np.float32)
    results = {}
    threads = [
        threading.Thread(target=lambda: results.update(
            produced=_ring_stress.produce(ring, source, 48, seed, pause))),
        threading.Thread(target=lambda: results.update(
            consumed=_ring_stress.consume(ring, scratch, total, seed + 1))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    return results["produced"], results["consumed"]


@pytest.mark.helpers
@pytest.mark.parametrize("capacity", [7, 64, 4096])
def test_nogil_race_overwrite_loses_nothing_unaccounted(capacity):
    total = 2**22
    ring = RingBuffer(capacity, overwrite=True)
    (writes, refused), (received, reads, violations, last) = _race_without_gil(
        ring, total, pause=200, seed=capacity)
    assert refused == 0
    assert violations == 0  # integers, strictly increasing: no torn or repeated sample
    assert last == total - 1
    assert received + ring.dropped == total
    assert ring.total_written == total and len(ring) == 0


@pytest.mark.helpers
def test_nogil_race_refuse_delivers_every_sample_in_order():
    total = 2**21
    ring = RingBuffer(64, overwrite=False)
    (writes, refused), (received, reads, violations, last) = _race_without_gil(
        ring, total, pause=200, seed=9)
    assert (received, violations, last) == (total, 0, total - 1)
    assert ring.dropped == refused
    assert ring.total_written == total and len(ring) == 0


# ------------------------------------------------------------------------ zero-copy


def _address(view):
    return view.__array_interface__["data"][0]


def test_latest_is_a_window_on_the_ring_memory():
    ring = RingBuffer(100)
    ring.write(_seq(0, 30))
    first = ring.latest(10)
    again = ring.latest(10)
    assert np.shares_memory(first, again)
    ring.write(_seq(30, 5))
    later = ring.latest(10)
    assert _address(later) - _address(first) == 5 * 4  # same memory, 5 samples on
    assert later.tolist() == _seq(25, 10).tolist()
    assert first.tolist() == _seq(20, 10).tolist()


def _request_writable_buffer(obj):
    """PyObject_GetBuffer(obj, PyBUF_WRITABLE), which Python code cannot ask directly."""
    get_buffer = ctypes.pythonapi.PyObject_GetBuffer
    get_buffer.argtypes = [ctypes.py_object, ctypes.c_void_p, ctypes.c_int]
    view = ctypes.create_string_buffer(256)  # larger than a Py_buffer
    get_buffer(obj, view, 0x0001)  # raises the exporter's exception
    pytest.fail("a writable buffer was handed out")  # pragma: no cover


def test_latest_view_is_read_only_at_every_level():
    ring = RingBuffer(8)
    ring.write(_seq(0, 8))
    view = ring.latest(4)
    assert view.dtype == np.float32 and view.shape == (4,)
    assert view.flags.c_contiguous and not view.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 1.0
    with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
        view.flags.writeable = True
    exporter = view.base.obj
    assert memoryview(exporter).readonly
    with pytest.raises(BufferError, match="latest\\(\\) views are read-only"):
        _request_writable_buffer(exporter)
    assert ring.open_views == 1
    assert view.tolist() == [4.0, 5.0, 6.0, 7.0]


def test_refcounts_and_open_views_return_to_baseline():
    ring = RingBuffer(64)
    ring.write(_seq(0, 64))
    baseline = sys.getrefcount(ring)
    views = [ring.latest(n) for n in (1, 8, 64)]
    assert ring.open_views == 3
    assert sys.getrefcount(ring) == baseline + 3
    views.pop()
    assert ring.open_views == 2
    del views
    assert ring.open_views == 0
    assert sys.getrefcount(ring) == baseline


def test_two_exports_of_one_window_count_as_one_open_view():
    ring = RingBuffer(8)
    ring.write(_seq(0, 8))
    exporter = ring.latest(2).base.obj
    assert ring.open_views == 0  # the array died, only the bare exporter is left
    one, two = memoryview(exporter), memoryview(exporter)
    assert ring.open_views == 1
    one.release()
    assert ring.open_views == 1
    with pytest.raises(BufferError, match="open latest"):
        ring.write(_seq(8, 7))
    two.release()
    assert ring.open_views == 0
    assert ring.write(_seq(8, 7)) == 7


@pytest.mark.parametrize("overwrite", [True, False])
def test_writes_that_spare_the_window_pass_and_one_that_reaches_it_raises(overwrite):
    ring = RingBuffer(100, overwrite=overwrite)
    ring.write(_seq(0, 100))
    ring.read(100)
    view = ring.latest(10)  # samples 90..99: slots reused from sample 190 on
    assert ring.write(_seq(100, 60)) == 60
    ring.read(60)
    assert ring.write(_seq(160, 30)) == 30  # clock now 190: still untouched
    ring.read(30)
    with pytest.raises(BufferError, match=re.escape(
            "write() of 1 samples would overwrite samples still shown by an open latest() "
            "view (oldest at sample 90, total_written 190)")):
        ring.write([190.0])
    assert (len(ring), ring.dropped, ring.total_written) == (0, 0, 190)
    assert view.tolist() == _seq(90, 10).tolist()
    del view
    assert ring.write([190.0]) == 1
    assert ring.read(1).tolist() == [190.0]


def test_the_oldest_open_view_decides():
    ring = RingBuffer(10)
    ring.write(_seq(0, 10))
    old = ring.latest(10)  # starts at 0: any write would reuse its first slot
    young = ring.latest(2)  # starts at 8
    with pytest.raises(BufferError):
        ring.write([10.0])
    del old
    assert ring.write(_seq(10, 8)) == 8  # reaches clock 18 = 8 + capacity
    with pytest.raises(BufferError):
        ring.write([18.0])
    assert young.tolist() == [8.0, 9.0]


def test_read_and_clear_are_allowed_while_views_are_open():
    ring = RingBuffer(8)
    ring.write(_seq(0, 8))
    view = ring.latest(8)
    assert ring.read(3).tolist() == [0.0, 1.0, 2.0]
    assert ring.clear() == 5
    assert view.tolist() == _seq(0, 8).tolist()


@pytest.mark.parametrize("n, written, message", [
    (-1, 5, "latest() needs 0 <= n <= capacity (8), got -1"),
    (9, 20, "latest() needs 0 <= n <= capacity (8), got 9"),
    (6, 5, "latest(6) asks for more samples than were ever written (5)"),
])
def test_latest_refuses_impossible_windows(n, written, message):
    ring = RingBuffer(8)
    ring.write(_seq(0, written))
    with pytest.raises(ValueError, match=re.escape(message)):
        ring.latest(n)


def test_latest_zero_is_an_empty_read_only_array():
    ring = RingBuffer(8)
    empty = ring.latest(0)
    assert empty.shape == (0,) and empty.dtype == np.float32
    assert not empty.flags.writeable
    assert ring.open_views == 0


def test_a_bare_view_exporter_cannot_export():
    ring = RingBuffer(2)
    ring.write([1.0])
    exporter = type(ring.latest(1).base.obj)()
    with pytest.raises(BufferError, match="created by RingBuffer.latest"):
        memoryview(exporter)


def test_writing_a_latest_view_back_into_its_own_ring():
    ring = RingBuffer(10)
    ring.write(_seq(0, 10))
    ring.read(10)
    assert ring.write(ring.latest(4)) == 4  # samples 6..9 copied to clock 10..13
    assert ring.read(10).tolist() == [6.0, 7.0, 8.0, 9.0]
    assert ring.latest(10).tolist() == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 6.0, 7.0, 8.0, 9.0]
    assert ring.open_views == 0
