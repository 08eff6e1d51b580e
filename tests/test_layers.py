"""Imports between lumina's own modules: no module imports itself back through others, and
inside ``lumina.apps`` imports only go down (the command above the commands, the commands above
the Ray side, the Ray side above the server, the server above the helpers).

Read from the source (``ast``) of the lumina these tests import, every import statement counted,
those inside functions too: a loop through a function-level import is still a loop, just a late one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lumina

ROOT = Path(lumina.__file__).resolve().parent

#: The parts of ``lumina.apps``, highest first; a module may import one of a lower rank only
#: (and any module of its own part). A new part of apps/ must be placed here.
APPS_RANKS = {
    "cli": 4,                                         # the `lumina` command
    "models_command": 3, "serve_command": 3,          # its sub-commands that have their own module
    "distributed": 2,                                 # Ray: archives, Serve (runs the server's app)
    "server": 1,                                      # the OpenAI-compatible ASGI app
    "outputs": 0, "bench": 0, "dictation": 0,         # helpers of the commands
    "recommend": 0,                                   # `lumina models recommend`'s table
}


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every ``.py`` module under ``root``, by dotted name (a package by its ``__init__.py``)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``name`` (at ``path``) imports: ``from p import m`` counts as
    the module ``p.m`` when there is one, else as ``p``; the packages above a module do not count."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + [node.module or ""]).rstrip(".")
            else:
                base = node.module
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return (found & known) - {name}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """{module: the lumina modules it imports} for every module under ``root``."""
    files = module_files(root)
    return {name: imported_modules(name, path, set(files)) for name, path in files.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle ``[a, b, ..., a]`` per group of modules that import each other (Tarjan's
    strongly connected components; within each, the shortest way from its first module back)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # recursion depth is bounded by the module count (~100)
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_shortest_loop(graph, min(group), group) for group in groups]


def _shortest_loop(graph: dict[str, set[str]], start: str, group: set[str]) -> list[str]:
    came_from: dict[str, str] = {}
    todo = [start]
    while todo:
        node = todo.pop(0)
        for nxt in sorted(graph[node] & group):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start] if node != start else [start, start]
            if nxt not in came_from:
                came_from[nxt] = node
                todo.append(nxt)
    raise AssertionError(f"no loop through {start}")  # a strongly connected group always has one


def apps_part(module: str) -> str | None:
    """``lumina.apps.server.pool`` -> ``server``; None outside ``lumina.apps`` (or for the package)."""
    parts = module.split(".")
    return parts[2] if parts[:2] == ["lumina", "apps"] and len(parts) > 2 else None


# ---------------------------------------------------------------------- the graph's reader

def write_package(root: Path, modules: dict[str, str]) -> Path:
    """Write ``{dotted name: source}`` under ``root``; return the folder of the package ``pkg``."""
    for name, text in modules.items():
        path = root.joinpath(*name.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_the_reader_follows_every_kind_of_import_and_names_the_loop(tmp_path):
    root = write_package(tmp_path, {
        "pkg.__init__": "from pkg.a import A\n",
        "pkg.a": "import pkg.b\nA = 1\n",
        "pkg.b": "def late():\n    from .sub import c\n",
        "pkg.sub.__init__": "",
        "pkg.sub.c": "from .. import a\nfrom ..b import late\n",
        "pkg.d": "from pkg import A\nimport os, numpy\nfrom pkg.sub.c import missing_name\n",
    })
    graph = import_graph(root)
    assert graph == {
        "pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.sub.c"}, "pkg.sub": set(),
        "pkg.sub.c": {"pkg.a", "pkg.b"}, "pkg.d": {"pkg", "pkg.sub.c"}}
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]
    assert find_cycles({"x": {"y"}, "y": {"z"}, "z": set()}) == []
    assert sorted(find_cycles({"x": {"y"}, "y": {"x"}, "p": {"q"}, "q": {"p", "x"}})) == [
        ["p", "q", "p"], ["x", "y", "x"]]


# ---------------------------------------------------------------------- lumina itself

def test_no_lumina_module_imports_itself_back():
    graph = import_graph()
    assert len(graph) > 100 and "lumina.apps.distributed.serve" in graph
    loops = [" -> ".join(loop) for loop in find_cycles(graph)]
    assert loops == [], "import loops:\n" + "\n".join(loops)


def test_imports_inside_apps_only_go_down():
    graph = import_graph()
    parts = {apps_part(name) for name in graph} - {None}
    assert parts == set(APPS_RANKS), "place each part of lumina/apps/ in APPS_RANKS"
    upward = sorted(f"{name} -> {target}" for name, targets in graph.items() for target in targets
                    if apps_part(name) and apps_part(target) and apps_part(name) != apps_part(target)
                    and APPS_RANKS[apps_part(name)] <= APPS_RANKS[apps_part(target)])
    assert upward == []


@pytest.mark.parametrize("module", ["lumina.apps.server.config", "lumina.apps.serve_command"])
def test_the_serve_command_and_the_server_are_apart(module):
    """The loop of issue 17 went server/cli -> distributed/serve_command -> distributed/serve ->
    server/cli; the command now lives above both."""
    graph = import_graph()
    below = {target for target in graph[module] if target.startswith("lumina.apps.")}
    expected = {"lumina.apps.server.config": set(),
                "lumina.apps.serve_command": {"lumina.apps.server", "lumina.apps.server.config",
                                              "lumina.apps.distributed.serve_command"}}
    assert below == expected[module]
