"""From the command line's FILES_OR_DIRS to the list of jobs of a run.

A file named on the command line is written where the local command writes
it (``DIR/<stem>.<format>``). A directory is walked (in name order, a
folder's files before its sub-folders, hidden entries left out) for files
with an audio extension, and its sub-folders are mirrored under ``DIR``, so
``2021/03/interview.wav`` and ``2021/04/interview.wav`` do not overwrite
each other. Two inputs that would still write the same file are refused
before any work starts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from lumina.apps.outputs import output_path
from lumina.errors import OutputConflictError

from lumina.apps.distributed.records import FileJob

__all__ = ["AUDIO_SUFFIXES", "Plan", "plan_jobs"]

#: Extensions taken from input directories (files named explicitly are always taken):
#: what soundfile decodes, plus what lumina hands to ffmpeg.
AUDIO_SUFFIXES = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif",
    ".aiff", ".au", ".caf", ".w64", ".wma", ".webm", ".mka", ".mkv", ".mp4", ".mov"})


@dataclasses.dataclass(frozen=True)
class Plan:
    """The jobs of a run: ``todo`` to transcribe, ``done`` whose output already exists."""

    todo: tuple[FileJob, ...]
    done: tuple[FileJob, ...]


def plan_jobs(inputs: Iterable[str | os.PathLike[str]], output_dir: str | os.PathLike[str],
              fmt: str, *, overwrite: bool = False) -> Plan:
    """List the jobs for ``inputs`` (files and directories).

    Parameters
    ----------
    inputs : iterable of path-like
        Audio files and directories of audio files.
    output_dir : path-like
        Where transcripts go.
    fmt : str
        Output format (its extension names the files).
    overwrite : bool, default False
        Transcribe again files whose output exists; by default an existing
        output is complete (outputs are written atomically) and is skipped.

    Raises
    ------
    OutputConflictError
        Two inputs would write the same output file.
    """
    jobs = _unique(_expand(inputs, Path(output_dir), fmt))
    if overwrite:
        return Plan(tuple(jobs), ())
    done = tuple(j for j in jobs if os.path.isfile(j.target))
    finished = {j.target for j in done}
    return Plan(tuple(j for j in jobs if j.target not in finished), done)


def _expand(inputs: Iterable[str | os.PathLike[str]], output_dir: Path, fmt: str) -> Iterator[FileJob]:
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            for found in _walk(path):
                subdir = found.parent.relative_to(path)
                yield FileJob(os.path.abspath(found), str(output_path(output_dir, found, fmt, subdir)))
        else:
            # A missing file is the worker's to report, like any other unreadable one.
            yield FileJob(os.path.abspath(path), str(output_path(output_dir, path, fmt)))


def _walk(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in AUDIO_SUFFIXES:
                yield Path(folder) / name


def _unique(jobs: Iterable[FileJob]) -> list[FileJob]:
    """The jobs in order, a file listed twice (say, by name and in its folder) once."""
    first: dict[str, FileJob] = {}
    for job in jobs:
        other = first.setdefault(job.target, job)
        if other.source != job.source:
            raise OutputConflictError(
                f"{other.source} and {job.source} would both be written to {job.target}; "
                "rename one or transcribe them into different --output directories")
    return list(first.values())
