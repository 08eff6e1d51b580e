"""Build lumina._core in place, for development without `pip install`.

Runs CMake on the repository (build tree in build/inplace) and installs the
compiled modules into lumina/_core/, so `PYTHONPATH=. pytest` works. The
test-only modules (``LUMINA_TEST_HELPERS=ON``) are built too, since the tests
need them.

Needs, in the Python that runs this script: Cython, CMake and Ninja (the PyPI
packages ``cython``, ``cmake`` and ``ninja``, or the system's cmake/ninja), and
the Python headers. ``pip install -e '.[dev]'`` brings all but the headers
(Debian: ``apt install python3-dev``). What is missing is reported up front,
with the command that installs it, instead of a CMake error half-way through.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "inplace"


def find_tool(name: str) -> str | None:
    """The ``name`` executable: this Python's scripts folder first (a venv need not be active)."""
    scripts = pathlib.Path(sysconfig.get_path("scripts"))
    for candidate in (scripts / name, scripts / f"{name}.exe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def has_cython() -> bool:
    return importlib.util.find_spec("Cython") is not None


def python_header() -> pathlib.Path:
    """Where this Python's ``Python.h`` should be."""
    return pathlib.Path(sysconfig.get_path("include")) / "Python.h"


def missing_requirements(python: str = sys.executable) -> list[str]:
    """One line per missing requirement, each saying what to install; empty when all is there."""
    problems = []
    if not has_cython():
        problems.append(f"Cython is not installed in {python}: run `{python} -m pip install "
                        "'cython>=3.1'` (or, from the repository root, "
                        f"`{python} -m pip install -e '.[dev]'`)")
    for tool in ("cmake", "ninja"):
        if find_tool(tool) is None:
            problems.append(f"{tool} is not on the PATH nor in {python}'s scripts folder: run "
                            f"`{python} -m pip install {tool}` (or `apt install "
                            f"{'cmake' if tool == 'cmake' else 'ninja-build'}`)")
    if not python_header().is_file():
        problems.append(f"the Python headers are missing ({python_header()}): install them "
                        "(Debian/Ubuntu: `apt install python3-dev`)")
    return problems


def main() -> int:
    problems = missing_requirements()
    if problems:
        print("tools/build_inplace.py cannot build lumina._core:", file=sys.stderr)
        for line in problems:
            print(f"  - {line}", file=sys.stderr)
        return 1
    cmake = find_tool("cmake")
    steps = [
        [cmake, "-S", str(ROOT), "-B", str(BUILD), "-G", "Ninja",
         f"-DCMAKE_MAKE_PROGRAM={find_tool('ninja')}",
         f"-DPython_EXECUTABLE={sys.executable}", "-DCMAKE_BUILD_TYPE=Release",
         "-DLUMINA_TEST_HELPERS=ON"],
        [cmake, "--build", str(BUILD)],
        [cmake, "--install", str(BUILD), "--prefix", str(ROOT)],
    ]
    for step in steps:
        if subprocess.run(step).returncode != 0:
            print(f"tools/build_inplace.py: `{' '.join(step)}` failed (its output is above)",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
