import numpy as np
import numpy.typing as npt

from lumina._core.ringbuffer import RingBuffer

def produce(
    ring: RingBuffer, source: npt.NDArray[np.float32], max_block: int, seed: int, pause: int = 0
) -> tuple[int, int]: ...
def consume(
    ring: RingBuffer, scratch: npt.NDArray[np.float32], total: int, seed: int
) -> tuple[int, int, int, int]: ...
