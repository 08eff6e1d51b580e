"""Child Python processes that import the same lumina as the tests.

In CI the tests import an installed lumina (the repository's own ``lumina/`` is unbuilt there);
in a development tree they import the in-place build. A child started with ``python -c`` or
``python -m`` puts its working directory first on ``sys.path``, so it must run outside the
repository and find the tested lumina through ``PYTHONPATH``.
"""

from __future__ import annotations

import os
from pathlib import Path

import lumina


def lumina_pythonpath() -> str:
    """PYTHONPATH whose first entry is the folder of the lumina this process imported."""
    here = str(Path(lumina.__file__).resolve().parent.parent)
    rest = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys([here, *rest]))


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment with :func:`lumina_pythonpath` and ``extra`` applied."""
    return dict(os.environ, PYTHONPATH=lumina_pythonpath(), **extra)
