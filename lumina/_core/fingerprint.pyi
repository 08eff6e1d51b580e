import numpy as np
import numpy.typing as npt

FEATURE_VERSION: int

class Fingerprint:
    features: npt.NDArray[np.float32]
    summary: npt.NDArray[np.float32]
    exact_key: int
    duration: float
    n_frames: int
    wideband: bool
    def __init__(self, features: npt.ArrayLike, summary: npt.ArrayLike, exact_key: int,
                 duration: float, wideband: bool = False) -> None: ...
    @property
    def nbytes(self) -> int: ...
    def similarity(self, other: Fingerprint) -> float: ...

def fingerprint_16k(samples: npt.NDArray[np.float32]) -> Fingerprint: ...
def best_match(query: Fingerprint, candidates: list[Fingerprint],
               min_similarity: float) -> tuple[int, float]: ...
def alignment_costs(a: Fingerprint, b: Fingerprint, window_frames: float) -> tuple[float, float]: ...
