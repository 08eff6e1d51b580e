"""Thread count from the CPUs the process may use; OpenMP workers that sleep instead of spin."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from _child_util import child_env

from lumina.asr.threads import (MAX_DEFAULT_THREADS, available_cpus, cgroup_cpu_limit,
                                default_threads, openmp_wait_policy)

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a child that imports the tested lumina, without the OpenMP settings."""
    environ = {k: v for k, v in child_env(**env).items()
               if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") or k in env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ,
                          timeout=120, check=True, cwd=tempfile.gettempdir())


# ----------------------------------------------------------------------------- thread count

AFFINITY_CHILD = """
import os, sys
os.sched_setaffinity(0, {cpus})
from lumina import Engine
from lumina.asr.threads import available_cpus, default_threads
print(available_cpus(), default_threads(), Engine("tiny.en", preload=False).threads)
"""


@pytest.mark.parametrize("which", ["first", "all"])
def test_the_default_thread_count_follows_the_affinity_mask(which):
    allowed = sorted(os.sched_getaffinity(0))
    cpus = allowed[:1] if which == "first" else allowed
    out = _python(AFFINITY_CHILD.format(cpus=set(cpus))).stdout.split()
    expected = min(MAX_DEFAULT_THREADS, len(cpus))
    assert out == [str(len(cpus)), str(expected), str(expected)]


def test_an_explicit_thread_count_is_kept():
    out = _python(AFFINITY_CHILD.replace("preload=False).threads", "preload=False, threads=3).threads")
                  .format(cpus=set(sorted(os.sched_getaffinity(0))[:1]))).stdout.split()
    assert out == ["1", "1", "3"]


@pytest.mark.parametrize("text, limit", [
    ("max 100000\n", None), ("200000 100000\n", 2), ("150000 100000\n", 2), ("50000 100000\n", 1),
    ("100000\n", None), ("abc 100000\n", None), ("0 100000\n", None), ("", None),
])
def test_a_cgroup_quota_is_read_in_whole_cpus(tmp_path, text, limit):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text(text)
    assert cgroup_cpu_limit(cpu_max) == limit


def test_a_cgroup_quota_caps_the_available_cpus(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("100000 100000\n")
    assert available_cpus(cpu_max) == 1
    assert cgroup_cpu_limit(tmp_path / "missing") is None
    assert available_cpus(tmp_path / "missing") == len(os.sched_getaffinity(0))


def test_default_threads_is_capped():
    assert default_threads() == min(MAX_DEFAULT_THREADS, available_cpus())


# ----------------------------------------------------------------------------- OpenMP wait policy

# OMP_DISPLAY_ENV makes GNU OpenMP print what it read from the environment when it loads.
DISPLAY = "import os, {module}; print('after:', os.environ.get('OMP_WAIT_POLICY'))"


def _omp_settings(module: str, **env: str) -> dict[str, str]:
    run = _python(DISPLAY.format(module=module), OMP_DISPLAY_ENV="verbose", **env)
    settings = {}
    for line in run.stderr.splitlines():
        name, _, value = line.strip().partition(" = ")
        if name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
            settings[name] = value.strip("'")
    settings["after"] = run.stdout.split("after: ")[1].strip()
    return settings


def test_whisper_cpp_workers_spin_500_times_at_barriers_then_sleep():
    assert _omp_settings("lumina") == {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "500",
                                       "after": "None"}


def test_without_lumina_the_binding_spins_300000_times():
    assert _omp_settings("_pywhispercpp")["GOMP_SPINCOUNT"] == "300000"


@pytest.mark.parametrize("env, expected", [
    ({"OMP_WAIT_POLICY": "active"}, {"OMP_WAIT_POLICY": "ACTIVE", "after": "active"}),
    ({"GOMP_SPINCOUNT": "1000"}, {"GOMP_SPINCOUNT": "1000", "after": "None"}),
])
def test_the_users_own_openmp_settings_are_kept(env, expected):
    settings = _omp_settings("lumina", **env)
    assert {k: settings[k] for k in expected} == expected


def test_openmp_wait_policy_restores_the_environment(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    with openmp_wait_policy() as policy:
        assert policy == os.environ["OMP_WAIT_POLICY"] == "passive"
        assert os.environ["GOMP_SPINCOUNT"] == "500"
    assert "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ
    monkeypatch.setenv("GOMP_SPINCOUNT", "5")
    with openmp_wait_policy() as policy:
        assert policy is None and "OMP_WAIT_POLICY" not in os.environ
