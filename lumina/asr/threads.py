"""How many CPU threads an inference uses, and how its OpenMP workers wait.

Thread count
    :func:`default_threads` counts the CPUs this process may run on
    (``os.sched_getaffinity``, then a cgroup v2 CPU quota such as
    ``docker --cpus=2``), not the machine's: under ``taskset -c 0`` or in a
    container limited to two CPUs, ``os.cpu_count()`` still says 16, and 16
    threads on one or two CPUs wait for each other all the time.

Waiting
    whisper.cpp's CPU backend (ggml) runs every graph on an OpenMP team and
    meets at a barrier after each operation. GNU OpenMP's default is to spin
    for about 3 ms at a barrier before it sleeps. When a core is busy with
    another process, the worker that shares it is descheduled while its
    partner spins, burning the very CPU time it waits for. Measured with
    ``benchmarks/compare_threads.py`` on two cores shared with other work
    (load average 4-12), a 1.5 s fast tiny.en decode with a busy loop in
    another process took 6.5 s with 2 spinning threads (1.2 s of CPU),
    0.83-0.96 s with 1 thread and 0.30 s with 2 passive threads (0.16 s of
    CPU, as much as 1 thread uses); without the busy loop 5.1 s, 0.55 s and
    0.47 s. Choosing fewer threads per call when other processes are busy was
    measured too, and lost to 2 passive threads (it picked 1 thread: 0.93 s
    under the busy loop).

    Sleeping at once has its own price: a decoder step of a small model is a
    few hundred operations of microseconds each, with a barrier after each,
    and a sleeping worker takes longer to wake than the operation took. On a
    real tiny.en (q8_0) reading a real sentence (``python benchmarks threads
    --real tiny.en-q8_0``, 15 rounds, 2 threads), a short spin before
    sleeping, ``GOMP_SPINCOUNT=500`` (about 5 us), took an idle machine's fast
    decode from 318 to 206 ms (200 spins: 241, 300: 234) and cost 7% under a
    busy loop in another process (340 -> 364 ms) and 14% with that loop pinned
    to one of the two cores (369 -> 421 ms); a second run gave -34% / +15%.
    :func:`openmp_wait_policy` sets both: ``OMP_WAIT_POLICY=passive`` (what
    other OpenMP runtimes read) and ``GOMP_SPINCOUNT=500`` (GNU OpenMP's
    spin count, which wins over the policy where both are set).

    GNU OpenMP reads its environment once, when the library loads, so the
    backend imports pywhispercpp inside :func:`openmp_wait_policy`, which sets
    the variable for that moment only and restores the environment after
    (other OpenMP libraries loaded later, and child processes, see what the
    user set). A user who sets ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``
    keeps exactly that. PyPI's wheel bundles its own copy of GNU OpenMP, so
    this works whatever else is loaded; a binding built from source (the GPU
    recipes in ``vendor/``) links the system's libgomp, which keeps the
    settings of whichever library loaded it first.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["MAX_DEFAULT_THREADS", "SPIN_COUNT", "available_cpus", "cgroup_cpu_limit", "default_threads",
           "openmp_wait_policy"]

#: The default thread count's ceiling: whisper's small models gain little past four threads.
MAX_DEFAULT_THREADS = 4
#: What :func:`openmp_wait_policy` sets when the user set nothing.
WAIT_POLICY = "passive"
#: GNU OpenMP's spins at a barrier before a worker sleeps (its default: 300000, about 3 ms).
SPIN_COUNT = "500"
_USER_KNOBS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def available_cpus(cpu_max: Path = _CGROUP_CPU_MAX) -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota.

    Falls back to ``os.cpu_count()`` where the affinity mask is unknown (not Linux).
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_limit(cpu_max)
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1, cpus)


def cgroup_cpu_limit(cpu_max: Path = _CGROUP_CPU_MAX) -> int | None:
    """Whole CPUs a cgroup v2 quota allows (``cpu.max`` = ``"QUOTA PERIOD"``), rounded up; None without one."""
    try:
        fields = cpu_max.read_text().split()
    except OSError:
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return max(1, math.ceil(quota / period))


def default_threads() -> int:
    """Threads per inference when none are asked for: the available CPUs, at most :data:`MAX_DEFAULT_THREADS`."""
    return min(MAX_DEFAULT_THREADS, available_cpus())


@contextlib.contextmanager
def openmp_wait_policy() -> Iterator[str | None]:
    """Load an OpenMP library inside this block to make its idle workers spin briefly, then sleep.

    Yields the policy set (``"passive"``, with ``GOMP_SPINCOUNT`` =
    :data:`SPIN_COUNT`), or None when the user's own ``OMP_WAIT_POLICY`` /
    ``GOMP_SPINCOUNT`` is left to apply. The environment is restored on exit.
    """
    if any(knob in os.environ for knob in _USER_KNOBS):
        yield None
        return
    os.environ["OMP_WAIT_POLICY"] = WAIT_POLICY
    os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT
    try:
        yield WAIT_POLICY
    finally:
        for knob in _USER_KNOBS:
            os.environ.pop(knob, None)
