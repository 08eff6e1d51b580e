"""Private compiled core of lumina (Cython, built by CMake into this package).

Nothing here is public API: use the names re-exported by :mod:`lumina`.
"""

try:
    from lumina._core import pcm
    from lumina._core.fingerprint import Fingerprint
    from lumina._core.pool import BufferPool
    from lumina._core.ringbuffer import RingBuffer
    from lumina._core.vad import EnergyVAD, Hysteresis, frame_db
except ImportError as exc:  # pragma: no cover - only in an unbuilt checkout
    raise ImportError(
        "lumina's compiled core is not built. Install the package with "
        "`pip install .` (or `pip install -e .`), or build it in place with "
        "`python tools/build_inplace.py` from the repository root."
    ) from exc

__all__ = ["BufferPool", "Fingerprint", "EnergyVAD", "Hysteresis", "RingBuffer", "frame_db", "pcm"]
