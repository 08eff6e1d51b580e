"""Child Python processes that import the same lumina as the tests.

In CI the tests import an installed lumina (the repository's own ``lumina/`` is unbuilt there);
in a development tree they import the in-place build. A child started with ``python -c`` or
``python -m`` puts its working directory first on ``sys.path``, so it must run outside the
repository and find the tested lumina through ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import lumina

#: The repository's root: where README's commands are run, with an unbuilt ``lumina/`` in CI.
REPO_ROOT = Path(__file__).resolve().parent.parent


def lumina_pythonpath() -> str:
    """PYTHONPATH whose first entry is the folder of the lumina this process imported."""
    here = str(Path(lumina.__file__).resolve().parent.parent)
    rest = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys([here, *rest]))


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment with :func:`lumina_pythonpath` and ``extra`` applied."""
    return dict(os.environ, PYTHONPATH=lumina_pythonpath(), **extra)


def lumina_command() -> list[str]:
    """The ``lumina`` command as a user runs it: the console script installed with the Python
    running the tests, which (unlike ``python -m``) keeps its working directory off its import
    path. In a tree built in place (no script), the same through ``python -c`` with the working
    directory taken off the path; :func:`child_env` then names the tested lumina."""
    found = shutil.which("lumina", path=os.path.dirname(sys.executable))
    if found:
        return [found]
    return [sys.executable, "-c",
            "import sys; del sys.path[0]; from lumina.apps.cli import main; sys.exit(main())"]
