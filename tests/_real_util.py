"""The real-model test tier: where its cached model and speech live, and how they are made.

Everything generated (the imported ggml model, rendered speech) goes to one cache directory,
``$LUMINA_TEST_CACHE`` or the user cache's ``lumina-tests``, so a second run reuses it.
"""

from __future__ import annotations

import os
import pathlib

from lumina.models import ModelStore


def cache_dir() -> pathlib.Path:
    """The directory the real tier keeps its generated files in."""
    configured = os.environ.get("LUMINA_TEST_CACHE")
    if configured:
        return pathlib.Path(configured)
    import platformdirs

    return pathlib.Path(platformdirs.user_cache_dir("lumina-tests"))


def real_model(name: str) -> pathlib.Path:
    """A real model imported from an installed package into the test cache's store."""
    return ModelStore(cache_dir() / "models", offline=True).find(name)


def renderer():
    """The corpus's speech renderer, caching into the test cache."""
    from lumina.evaluation import SpeechRenderer

    return SpeechRenderer(cache_dir())


def padded(audio, seconds: float = 0.5):
    """``audio`` with ``seconds`` of silence either side (a short answer spoken alone)."""
    import numpy as np

    pad = np.zeros(int(seconds * 16000), np.float32)
    return np.concatenate([pad, audio, pad])
