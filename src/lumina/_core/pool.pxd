cdef class BufferPool:
    cdef readonly Py_ssize_t block_samples
    cdef readonly Py_ssize_t max_blocks
    cdef list _blocks          # every block ever allocated, index = block id
    cdef list _free            # ids of blocks ready to hand out (a stack: warm blocks first)
    cdef dict _id_of           # id(ndarray) -> block id, for release()
    cdef bytearray _busy       # 1 while a block is handed out
