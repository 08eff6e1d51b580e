"""The development tools: tools/build_inplace.py's up-front checks, the asv profile switch, how
tools/asv_ci.py picks the committed results to compare with, and the benchmarks' runner."""

import ast
import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load(relative, name):
    """Import a script of the repository by path (tools/ and benchmarks/ are not packages here)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def build_inplace():
    return load("tools/build_inplace.py", "build_inplace_under_test")


def test_build_inplace_without_cython_says_what_to_install_and_runs_nothing(build_inplace, monkeypatch,
                                                                              capsys):
    monkeypatch.setattr(build_inplace, "has_cython", lambda: False)
    monkeypatch.setattr(build_inplace, "find_tool", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(build_inplace, "python_header", lambda: pathlib.Path(__file__))
    monkeypatch.setattr(build_inplace.subprocess, "run", lambda *a, **k: pytest.fail("ran CMake"))
    assert build_inplace.main() == 1
    assert capsys.readouterr().err.splitlines() == [
        "tools/build_inplace.py cannot build lumina._core:",
        f"  - Cython is not installed in {sys.executable}: run `{sys.executable} -m pip install "
        f"'cython>=3.1'` (or, from the repository root, `{sys.executable} -m pip install -e '.[dev]'`)",
    ]


def test_build_inplace_lists_every_missing_requirement(build_inplace, monkeypatch, tmp_path):
    monkeypatch.setattr(build_inplace, "has_cython", lambda: True)
    monkeypatch.setattr(build_inplace, "find_tool", lambda name: None)
    monkeypatch.setattr(build_inplace, "python_header", lambda: tmp_path / "Python.h")
    assert build_inplace.missing_requirements("py") == [
        "cmake is not on the PATH nor in py's scripts folder: run `py -m pip install cmake` "
        "(or `apt install cmake`)",
        "ninja is not on the PATH nor in py's scripts folder: run `py -m pip install ninja` "
        "(or `apt install ninja-build`)",
        f"the Python headers are missing ({tmp_path / 'Python.h'}): install them "
        "(Debian/Ubuntu: `apt install python3-dev`)",
    ]


@pytest.mark.parametrize("value, expected", [(None, "full"), ("full", "full"), ("ci", "ci")])
def test_asv_profile_picks_the_parameters(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("LUMINA_ASV_PROFILE", raising=False)
    else:
        monkeypatch.setenv("LUMINA_ASV_PROFILE", value)
    profile = load("benchmarks/_helpers.py", "profile_under_test")
    assert profile.by_profile(full="full", ci="ci") == expected


def test_an_unknown_asv_profile_is_refused(monkeypatch):
    monkeypatch.setenv("LUMINA_ASV_PROFILE", "quick")
    with pytest.raises(ValueError, match="LUMINA_ASV_PROFILE must be one of full, ci; got 'quick'"):
        load("benchmarks/_helpers.py", "profile_under_test")


def test_asv_ci_compares_with_the_newest_committed_results_of_another_commit(tmp_path, monkeypatch):
    asv_ci = load("tools/asv_ci.py", "asv_ci_under_test")
    results = tmp_path / "benchmarks" / "results" / "lumina-ci"
    results.mkdir(parents=True)
    runs = {"a" * 40: 1000, "b" * 40: 3000, "c" * 40: 2000}
    for commit, date in runs.items():
        (results / f"{commit[:8]}-existing.json").write_text(
            json.dumps({"commit_hash": commit, "date": date}))
    (results / "machine.json").write_text(json.dumps({"machine": "lumina-ci"}))
    (results / "dddddddd-existing.json").write_text(  # not committed: ignored
        json.dumps({"commit_hash": "d" * 40, "date": 9000}))
    git = ["git", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", *(f"benchmarks/results/lumina-ci/{c[:8]}-existing.json" for c in runs),
                    "benchmarks/results/lumina-ci/machine.json"], check=True)
    monkeypatch.setattr(asv_ci, "ROOT", tmp_path)
    monkeypatch.setattr(asv_ci, "RESULTS", results)
    assert asv_ci.previous_results(head="c" * 40) == "b" * 40
    assert asv_ci.previous_results(head="b" * 40) == "c" * 40
    subprocess.run([*git, "rm", "-q", "--cached", "-r", "benchmarks"], check=True)
    assert asv_ci.previous_results(head="b" * 40) is None


def test_the_benchmarks_runner_lists_every_comparison_and_imports_nothing_from_tests(capsys):
    runner = load("benchmarks/__main__.py", "benchmarks_runner_under_test")
    assert runner.main([]) == 0
    listed = capsys.readouterr().out
    names = sorted(p.stem[len("compare_"):] for p in (ROOT / "benchmarks").glob("compare_*.py"))
    assert names and all(f"  {name} " in listed for name in names)
    assert runner.main(["no-such-comparison"]) == 2
    for path in (ROOT / "benchmarks").glob("*.py"):
        source = path.read_text()
        assert "sys.path" not in source, path.name
        imported = {alias.name if isinstance(node, ast.Import) else node.module
                    for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in getattr(node, "names", ())}
        # Test helpers are top-level modules named _xxx (tests/ is not a package).
        assert not {m for m in imported if m and (m.startswith("_") and m != "__future__"
                                                 or m.split(".")[0] == "tests")}, path.name
    readme = (ROOT / "benchmarks" / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in names)   # the README says what each answers


def test_asv_discovers_every_benchmark_module_without_error(tmp_path):
    """asv imports every module under benchmarks/ and instantiates every class that has a method
    named like a benchmark (time_*, track_*, mem_*, peakmem_*): a helper class with such a method
    in a compare_* script once broke CI's asv step while every test passed."""
    import asv

    discover = pathlib.Path(asv.__file__).parent / "benchmark.py"
    result_file = tmp_path / "discovered.json"
    done = subprocess.run([sys.executable, str(discover), "discover", str(ROOT / "benchmarks"),
                           str(result_file)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    names = {benchmark["name"].split(".")[0] for benchmark in json.loads(result_file.read_text())}
    bench_modules = {p.stem for p in (ROOT / "benchmarks").glob("bench_*.py")}
    assert bench_modules <= names
