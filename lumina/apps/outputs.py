"""Where transcripts go on disk, and how they get there whole.

Shared by ``lumina transcribe --output DIR`` and its Ray variant
(:mod:`lumina.apps.distributed`), so both name and write files the same way.
A transcript file either does not exist or is complete: it is written to a
temporary file in the same directory, flushed to disk and renamed over the
target, so a killed process never leaves half a transcript behind and a
re-run may take an existing file as done.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["output_path", "write_atomic"]


def output_path(output_dir: str | os.PathLike[str], source: str | os.PathLike[str], fmt: str,
                subdir: str | os.PathLike[str] = "") -> Path:
    """The file a transcript of ``source`` in format ``fmt`` is written to.

    Parameters
    ----------
    output_dir : path-like
        The ``--output`` directory.
    source : path-like
        The audio file; only its stem is used.
    fmt : str
        The format, used as the extension (``txt``, ``json``, ``srt``, ``vtt``).
    subdir : path-like, optional
        A relative directory under ``output_dir`` (the Ray variant mirrors the
        folders found under an input directory); default none.
    """
    return Path(output_dir) / subdir / f"{Path(source).stem}.{fmt}"


def write_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` so that readers see all of it or nothing.

    The temporary file has a unique name (two writers never share one) and
    starts with a dot; parent directories are created.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    # os.open rather than mkstemp: mkstemp makes the file private (0600),
    # while a transcript gets the usual umask-governed permissions.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            # Without the sync a crash soon after the rename can leave an
            # empty file under the final name, which a re-run would skip.
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
