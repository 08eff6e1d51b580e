"""Run one comparison against the installed lumina: ``python benchmarks NAME [ARGS]``.

``NAME`` is a ``compare_NAME.py`` of this folder; without one (or with
``--help``) the comparisons are listed with what each answers. Run it with the
Python of the environment lumina is installed in, from any folder: this folder
is loaded as the package ``benchmarks`` by its location, and lumina is imported
from the environment (``python -m benchmarks NAME`` from the repository root
does the same in an editable install, where the checkout is what is installed).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def load_package() -> ModuleType:
    """The package ``benchmarks`` (this folder), imported by location unless it already is."""
    if "benchmarks" in sys.modules:
        return sys.modules["benchmarks"]
    spec = importlib.util.spec_from_file_location("benchmarks", HERE / "__init__.py",
                                                  submodule_search_locations=[str(HERE)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["benchmarks"] = package
    spec.loader.exec_module(package)
    return package


def comparisons() -> dict[str, str]:
    """``{NAME: the first line of its docstring}`` for every ``compare_NAME.py`` (nothing imported)."""
    found = {}
    for path in sorted(HERE.glob("compare_*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        found[path.stem[len("compare_"):]] = doc.strip().splitlines()[0] if doc.strip() else ""
    return found


def main(argv: list[str]) -> int:
    known = comparisons()
    if not argv or argv[0] in ("-h", "--help", "list"):
        print("usage: python benchmarks NAME [ARGS]   (python benchmarks NAME --help for its options)\n")
        width = max(map(len, known))
        for name, title in known.items():
            print(f"  {name:<{width}}  {title}")
        print("\nbenchmarks/README.md says what each one answers.")
        return 0
    name = argv[0]
    if name not in known:
        print(f"no comparison {name!r}; one of: {', '.join(known)}", file=sys.stderr)
        return 2
    load_package()
    module = importlib.import_module(f"benchmarks.compare_{name}")
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
