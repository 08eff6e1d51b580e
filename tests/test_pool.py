import numpy as np
import pytest

from lumina._core.pool import BufferPool


def test_blocks_are_float32_of_the_requested_size():
    pool = BufferPool(160, 4)
    block = pool.acquire()
    assert block.dtype == np.float32
    assert block.shape == (160,)
    assert block.flags.c_contiguous and block.flags.writeable


def test_blocks_are_reused_after_release_and_nothing_more_is_allocated():
    pool = BufferPool(512, 2)
    first = pool.acquire()
    pool.release(first)
    for _ in range(100):
        again = pool.acquire()
        assert again is first
        pool.release(again)
    assert pool.allocated == 1
    assert pool.in_use == 0


def test_counters_track_acquire_and_release():
    pool = BufferPool(8, 3)
    a, b = pool.acquire(), pool.acquire()
    assert (pool.in_use, pool.allocated) == (2, 2)
    pool.release(a)
    assert (pool.in_use, pool.allocated) == (1, 2)
    c = pool.acquire()
    assert c is a
    assert b is not a


def test_exhausted_pool_raises_buffer_error_and_stays_usable():
    pool = BufferPool(8, 2)
    a, _ = pool.acquire(), pool.acquire()
    with pytest.raises(BufferError, match="exhausted"):
        pool.acquire()
    pool.release(a)
    assert pool.acquire() is a


def test_release_rejects_foreign_and_double_released_blocks():
    pool = BufferPool(8, 2)
    block = pool.acquire()
    with pytest.raises(ValueError, match="not a block of this pool"):
        pool.release(np.empty(8, dtype=np.float32))
    with pytest.raises(ValueError, match="not a block of this pool"):
        BufferPool(8, 2).release(block)
    pool.release(block)
    with pytest.raises(ValueError, match="already released"):
        pool.release(block)


@pytest.mark.parametrize("args", [(0, 1), (1, 0), (-5, 3)])
def test_invalid_sizes_are_refused(args):
    with pytest.raises(ValueError):
        BufferPool(*args)
