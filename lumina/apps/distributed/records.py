"""The records a distributed run passes around: jobs, what a worker returns, the report."""

from __future__ import annotations

import dataclasses

__all__ = ["ArchiveReport", "FileResult", "FileJob", "Outcome", "WorkerInfo"]


@dataclasses.dataclass(frozen=True)
class FileJob:
    """One file to transcribe: ``source`` (an absolute path) into ``target``."""

    source: str
    target: str


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """Where a worker runs and which model file it loaded (``model_sha256`` when hashed)."""

    node_id: str
    pid: int
    model_sha256: str | None


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a worker returns for one file: the rendered transcript or the error."""

    source: str
    text: str | None
    error: str | None
    error_type: str | None
    audio_seconds: float
    node_id: str
    pid: int


@dataclasses.dataclass(frozen=True)
class FileResult:
    """What happened to one file of a distributed run.

    Attributes
    ----------
    source : str
        The audio file (absolute path).
    target : str
        The transcript file it was (or would have been) written to.
    error : str or None
        Why the file failed; None when its transcript was written.
    error_type : str or None
        The class of that error (``"AudioFormatError"``, ``"ActorDiedError"``...).
    audio_seconds : float
        Length of the audio (0.0 when it could not be decoded).
    node_id, pid : str, int or None
        The Ray node and the process of the worker that finished the file.
    attempts : int
        How many workers were given the file (more than 1 after a worker was lost).
    """

    source: str
    target: str
    error: str | None = None
    error_type: str | None = None
    audio_seconds: float = 0.0
    node_id: str | None = None
    pid: int | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """Whether the transcript was written."""
        return self.error is None


@dataclasses.dataclass(frozen=True)
class ArchiveReport:
    """The outcome of :func:`~lumina.apps.distributed.transcribe_archive`.

    Attributes
    ----------
    written : tuple of FileResult
        Files whose transcript was written in this run, in completion order.
    failed : tuple of FileResult
        Files that could not be transcribed (bad audio, or their worker died
        ``max_attempts`` times).
    skipped : tuple of str
        Sources whose transcript already existed (complete, since transcripts
        are written atomically) and were not transcribed again.
    retries : int
        Times a file was handed to another worker because its worker was lost.
    workers_lost : int
        Workers (Ray actors) that died during the run and were replaced.
    audio_seconds : float
        Audio transcribed, in seconds.
    seconds : float
        Wall-clock time of the run, from connecting to the last write.
    """

    written: tuple[FileResult, ...]
    failed: tuple[FileResult, ...]
    skipped: tuple[str, ...]
    retries: int
    workers_lost: int
    audio_seconds: float
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether every file has its transcript (written now or before)."""
        return not self.failed
