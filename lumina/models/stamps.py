"""The ``.verified`` stamp beside each installed model: what was checked, and where it came from.

A stamp records the digests that were verified together with the file's size
and modification time, so a later lookup can tell cheaply whether the file
changed since. An imported model's stamp also records its provenance (the
source it was converted from), and its own SHA-256 is then the hash it is
checked against: no published hash exists for a local conversion.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["fsync_dir", "is_fresh", "read_stamp", "sibling", "write_stamp"]


def sibling(p: Path, suffix: str) -> Path:
    """``p`` with ``suffix`` appended to its file name (``x.bin`` -> ``x.bin.lock``)."""
    return p.with_name(p.name + suffix)


def read_stamp(dest: Path) -> dict:
    """The stamp of ``dest`` (empty when there is none or it is unreadable)."""
    try:
        data = json.loads(sibling(dest, ".verified").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_fresh(dest: Path, stamp: dict) -> bool:
    """Whether ``dest`` is unchanged since ``stamp`` was written (size and mtime)."""
    st = dest.stat()
    return stamp.get("size") == st.st_size and stamp.get("mtime_ns") == st.st_mtime_ns


def write_stamp(dest: Path, sha1: str | None, sha256: str | None,
                imported: dict | None = None) -> None:
    """Record the verified digests (and an import's provenance) with the file's size and mtime."""
    st = dest.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha1": sha1, "sha256": sha256}
    if imported is not None:
        stamp["imported"] = imported
    tmp = sibling(dest, f".verified.{os.getpid()}")
    tmp.write_text(json.dumps(stamp, indent=1))
    os.replace(tmp, sibling(dest, ".verified"))


def fsync_dir(d: Path) -> None:
    """Make a rename in ``d`` durable (best effort)."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
