"""Random-weight models for benchmarks, written once into a cache folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lumina.testing import make_model

CACHE = Path(os.environ.get("LUMINA_BENCH_MODELS", Path(tempfile.gettempdir()) / "lumina-bench-models"))


def model_path(arch: str, ftype: str = "f16") -> Path:
    """Path of a random-weight model of this shape, written on first use."""
    path = CACHE / f"{arch}-{ftype}.bin"
    if not path.exists():
        make_model(path, arch, ftype)
    return path
