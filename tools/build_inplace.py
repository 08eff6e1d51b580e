"""Build lumina._core in place, for development without `pip install`.

Runs CMake on the repository (build tree in build/inplace) and installs the
compiled modules into lumina/_core/, so `PYTHONPATH=. pytest` works.
Needs cmake, ninja, Cython and the Python headers in the running Python.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main() -> int:
    build = ROOT / "build" / "inplace"
    subprocess.run(
        ["cmake", "-S", str(ROOT), "-B", str(build), "-G", "Ninja",
         f"-DPython_EXECUTABLE={sys.executable}", "-DCMAKE_BUILD_TYPE=Release"],
        check=True)
    subprocess.run(["cmake", "--build", str(build)], check=True)
    subprocess.run(["cmake", "--install", str(build), "--prefix", str(ROOT)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
