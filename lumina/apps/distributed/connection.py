"""Connecting to a Ray cluster so that the workers import the lumina installed on their node.

Ray puts the driver's working directory (and its script's directory) first on every worker's
import path unless the job has a ``working_dir``. Run from a source checkout, as README's
commands are, the workers would import the checkout's unbuilt ``lumina/`` and fail ("lumina's
compiled core is not built"), or import an older copy of lumina than the driver's. So the
job gets an empty ``working_dir``: Ray ships nothing of the caller's directories, puts neither
on the workers' path, and the workers import lumina from their own environment, as the driver
does (model and audio paths are made absolute before they are sent).

Two kinds of driver are left as Ray sets them up: a Ray Client connection (``ray://``, where
Ray adds no local directory) and a driver started by ``ray job submit`` (its job already
has the runtime environment it was submitted with).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator

from lumina.errors import LuminaError

__all__ = ["connected", "driver_runtime_env"]

#: Set by ``ray job submit`` in the driver's environment: the job's own configuration.
_SUBMITTED_JOB = "RAY_JOB_CONFIG_JSON_ENV_VAR"


def driver_runtime_env(address: str | None, empty_dir: str) -> dict | None:
    """The runtime environment this driver's job needs: ``{"working_dir": empty_dir}``.

    Parameters
    ----------
    address : str or None
        The cluster address given to ``ray.init``.
    empty_dir : str
        An empty directory, the job's working directory on every worker.

    Returns
    -------
    dict or None
        None for a Ray Client address (``ray://...``) and inside a job started by
        ``ray job submit``: Ray adds none of this process's directories there.
    """
    if (address or os.environ.get("RAY_ADDRESS", "")).startswith("ray://"):
        return None
    if _SUBMITTED_JOB in os.environ:
        return None
    return {"working_dir": empty_dir}


@contextlib.contextmanager
def connected(ray, address: str | None) -> Iterator[None]:
    """Connect to the cluster unless this process already is; disconnect what it connected.

    The job's workers import the lumina of their own environment, wherever this process
    runs (:func:`driver_runtime_env`). A caller that connected itself keeps its own settings.

    Raises
    ------
    LuminaError
        The cluster cannot be reached.
    """
    if ray.is_initialized():
        yield
        return
    empty = tempfile.mkdtemp(prefix="lumina-ray-job-")
    try:  # ray.init uploads the (empty) directory: it is not needed afterwards
        ray.init(address=address, logging_level=logging.WARNING,
                 runtime_env=driver_runtime_env(address, empty))
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise LuminaError(f"cannot connect to the Ray cluster at {address or 'auto'}: {exc}") from exc
    finally:
        shutil.rmtree(empty, ignore_errors=True)
    try:
        yield
    finally:
        ray.shutdown()
