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
