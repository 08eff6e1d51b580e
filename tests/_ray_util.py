"""A Ray cluster of several nodes on this machine, on 127.0.0.1 only, that leaves nothing behind.

Import this module before anything imports ``ray``: two settings are read
when Ray is imported.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
# Ray swaps 127.0.0.1 in a cluster address for the host's outward address (so
# that other machines can reach it); on a one-machine cluster that address
# leads nowhere here. With this setting every address stays on the loopback.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from _child_util import lumina_pythonpath  # noqa: E402


@contextlib.contextmanager
def local_cluster(nodes: int = 2, cpus: int = 1) -> Iterator[Cluster]:
    """Start ``nodes`` Ray nodes of ``cpus`` CPUs on 127.0.0.1; stop them and check they are gone.

    Ray's files go to a fresh temporary directory (``RAY_TMPDIR``), removed afterwards.
    """
    temp = tempfile.mkdtemp(prefix="lumina-ray-", dir="/tmp")  # short: Ray's socket paths grow
    saved = {name: os.environ.get(name) for name in ("RAY_TMPDIR", "PYTHONPATH")}
    os.environ["RAY_TMPDIR"] = temp
    os.environ["PYTHONPATH"] = workers_pythonpath()
    cluster = None
    before = descendants(os.getpid())  # e.g. a sound server another test started
    try:
        node = {"num_cpus": cpus, "node_ip_address": "127.0.0.1"}
        cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
        for _ in range(nodes - 1):
            cluster.add_node(**node)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        spawned = descendants(os.getpid()) - before
        if ray.is_initialized():  # a test that failed while connected
            ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        left = wait_gone(spawned)
        ray_left = ray_processes(temp)
        shutil.rmtree(temp, ignore_errors=True)
    assert left == set(), f"processes left behind: {left}"
    assert ray_left == [], f"Ray processes left behind: {ray_left}"


def workers_pythonpath() -> str:
    """PYTHONPATH for the nodes: the folder of the lumina this process imported, then the rest."""
    return lumina_pythonpath()


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, their children...)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _ppid(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: set[int], patience: float = 30.0) -> set[int]:
    """The ``pids`` still running after waiting up to ``patience`` seconds for them to exit."""
    deadline = time.monotonic() + patience
    while True:
        left = {pid for pid in pids if running(pid)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def ray_processes(marker: str) -> list[str]:
    """Command lines of raylet and gcs_server processes that mention ``marker`` (our temp dir)."""
    ps = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True, check=True)
    lines = (line.strip() for line in ps.stdout.splitlines())
    return [line for line in lines if not line.startswith("Z")
            and ("raylet" in line or "gcs_server" in line) and marker in line]
