# cython: language_level=3, boundscheck=False, wraparound=False
"""Reusable float32 blocks so the streaming path allocates nothing per chunk."""

import numpy as np
from lumina.errors import ArgumentError, BufferStateError


cdef class BufferPool:
    """A pool of ``max_blocks`` float32 blocks of ``block_samples`` samples.

    Blocks are allocated lazily, on first demand, and then reused forever:
    after warm-up, :meth:`acquire` and :meth:`release` allocate nothing.

    Parameters
    ----------
    block_samples : int
        Samples per block (> 0).
    max_blocks : int
        Most blocks that may exist at once (> 0).
    """

    def __cinit__(self, Py_ssize_t block_samples, Py_ssize_t max_blocks):
        if block_samples <= 0:
            raise ArgumentError(f"block_samples must be > 0, got {block_samples}")
        if max_blocks <= 0:
            raise ArgumentError(f"max_blocks must be > 0, got {max_blocks}")
        self.block_samples = block_samples
        self.max_blocks = max_blocks
        self._blocks = []
        self._free = []
        self._id_of = {}
        self._busy = bytearray(max_blocks)

    def acquire(self):
        """Hand out a block (an ndarray of float32, contents unspecified).

        Raises
        ------
        BufferStateError
            When all ``max_blocks`` blocks are in use.
        """
        cdef Py_ssize_t block_id
        if self._free:
            block_id = self._free.pop()
        elif len(self._blocks) < self.max_blocks:
            block_id = len(self._blocks)
            block = np.empty(self.block_samples, dtype=np.float32)
            self._blocks.append(block)
            self._id_of[id(block)] = block_id
        else:
            raise BufferStateError(
                f"BufferPool exhausted: all {self.max_blocks} blocks are in use; "
                "release blocks or create the pool with a larger max_blocks")
        self._busy[block_id] = 1
        return self._blocks[block_id]

    def release(self, block):
        """Return a block obtained from :meth:`acquire` to the pool.

        Raises
        ------
        ArgumentError
            (also a ValueError) When ``block`` is not a block of this pool or is already released.
        """
        block_id = self._id_of.get(id(block))
        if block_id is None or self._blocks[block_id] is not block:
            raise ArgumentError("release() got an array that is not a block of this pool")
        if not self._busy[block_id]:
            raise ArgumentError("release() got a block that is already released")
        self._busy[block_id] = 0
        self._free.append(block_id)

    @property
    def in_use(self):
        """Number of blocks handed out and not yet released."""
        return len(self._blocks) - len(self._free)

    @property
    def allocated(self):
        """Number of blocks allocated so far (never more than ``max_blocks``)."""
        return len(self._blocks)
