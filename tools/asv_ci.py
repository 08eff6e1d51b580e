"""CI's asv step: the whole suite, quick, on the installed package; results kept and compared.

Run by `.ci/run` with the Python of the environment lumina is installed in
(``.venv/bin/python tools/asv_ci.py``); it needs asv there (the ``bench`` extra).
Arguments are passed on to ``asv run`` (for example ``-b bench_wav`` to run one file).

1. Names this machine ``lumina-ci`` for asv (``asv machine``, with the detected
   os/cpu/ram), so the results land in ``benchmarks/results/lumina-ci/``.
2. Runs every benchmark once (``asv run --python=same --quick``) under
   ``LUMINA_ASV_PROFILE=ci`` (benchmarks/_profile.py: smaller parameters), and
   records the results under HEAD's commit hash (``--set-commit-hash``).
3. Prints ``asv compare`` between the newest committed results of an earlier
   commit and this run, when there are any.

Exit status: asv run's, which is non-zero when any benchmark failed, errored or
timed out, so a broken benchmark fails CI. Commit ``benchmarks/results/`` after
the run that closes an issue, so the history accumulates in the repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
MACHINE = "lumina-ci"
RESULTS = BENCHMARKS / "results" / MACHINE
#: asv names an existing environment after its interpreter's path, and `asv compare` pairs
#: results by that name: the interpreter is reached through this fixed link so that runs from
#: clones in different folders compare with each other.
STABLE_ENV = Path(tempfile.gettempdir()) / "lumina-ci-venv"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def stable_python() -> str:
    """This interpreter, through STABLE_ENV when it runs in a virtual environment."""
    if sys.prefix == sys.base_prefix:
        return sys.executable
    if STABLE_ENV.is_symlink() or STABLE_ENV.exists():
        STABLE_ENV.unlink()
    STABLE_ENV.symlink_to(sys.prefix, target_is_directory=True)
    return str(STABLE_ENV / "bin" / Path(sys.executable).name)


def previous_results(head: str) -> str | None:
    """Commit hash of the newest committed results of a commit other than ``head``."""
    tracked = git("ls-files", "--", str(RESULTS.relative_to(ROOT))).splitlines()
    newest = None
    for name in tracked:
        path = ROOT / name
        if path.name == "machine.json" or path.suffix != ".json" or not path.is_file():
            continue
        data = json.loads(path.read_text())
        commit = data.get("commit_hash")
        if commit and commit != head and (newest is None or data.get("date", 0) > newest[0]):
            newest = (data.get("date", 0), commit)
    return None if newest is None else newest[1]


def asv(python: str, *args: str, env: dict[str, str] | None = None) -> int:
    command = [python, "-m", "asv", *args]
    print("+ asv " + " ".join(args), flush=True)
    return subprocess.run(command, cwd=BENCHMARKS, env=env).returncode


def name_machine(python: str) -> None:
    """Store this machine's detected os/cpu/ram under the name ``lumina-ci`` in ~/.asv-machine.json.

    (``asv machine --yes --machine lumina-ci`` would store the name alone: asv keeps only the
    fields that differ from what it detects.)
    """
    subprocess.run(
        [python, "-c", "from asv.machine import Machine, MachineCollection\n"
                       "info = dict(Machine.get_defaults(), machine=%r)\n"
                       "MachineCollection.save(info['machine'], info)\n"
                       "print('asv machine:', info)" % MACHINE],
        check=True)


def main(extra: list[str]) -> int:
    python = stable_python()
    head = git("rev-parse", "HEAD")
    previous = previous_results(head)
    name_machine(python)
    env = dict(os.environ, LUMINA_ASV_PROFILE="ci")
    with tempfile.TemporaryDirectory() as tmp:
        config = f"--config={ci_config(Path(tmp))}"
        status = asv(python, "run", config, "--python=same", "--quick", f"--machine={MACHINE}",
                     f"--set-commit-hash={head}", "--show-stderr", "--durations=10", *extra, env=env)
        if status != 0:
            print(f"asv run failed (exit status {status}): a benchmark failed, errored or timed "
                  "out; its output is above", file=sys.stderr)
            return status
        if previous is None:
            print("asv compare: no committed results of an earlier commit in "
                  f"{RESULTS.relative_to(ROOT)}")
            return 0
        print(f"asv compare: committed results of {previous[:8]} -> this run ({head[:8]})")
        return asv(python, "compare", config, f"--machine={MACHINE}", previous, head, env=env)


def ci_config(folder: Path) -> Path:
    """benchmarks/asv.conf.json with ``branches: ["HEAD"]``.

    asv resolves the configured branches even when it only records results under
    ``--set-commit-hash`` (and takes no commit range with an existing environment); a CI
    checkout of another branch, or a detached HEAD, has no local ``main``. The copy lives in
    ``folder``, so its paths are made absolute.
    """
    config = json.loads((BENCHMARKS / "asv.conf.json").read_text())
    config["branches"] = ["HEAD"]
    for key in ("repo", "benchmark_dir", "env_dir", "results_dir", "html_dir"):
        config[key] = str((BENCHMARKS / config[key]).resolve())
    path = folder / "asv.ci.conf.json"
    path.write_text(json.dumps(config, indent=4))
    return path


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
