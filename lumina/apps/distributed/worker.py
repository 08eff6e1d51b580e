"""The worker of a distributed run: one Ray actor holding one :class:`~lumina.Engine`.

The model loads once per actor. Each call decodes one file on the worker's
node, transcribes it through the engine protocol
(:meth:`lumina.SpeechEngine.transcribe_samples`) and returns the rendered
transcript (a few kilobytes);
the driver writes it, so a worker that dies mid-file leaves nothing behind
and outputs need no storage shared with the workers. Inputs must be readable
at the same path on every node (shared storage).

This module does not import Ray: the class is made an actor by the
dispatcher with ``ray.remote(...)``, and on the worker only the runtime
context (node id) is read from Ray.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import lumina
from lumina.asr.formats import render
from lumina.asr.protocol import TranscribeOptions
from lumina.audio.convert import SAMPLE_RATE
from lumina.errors import LuminaError

from lumina.apps.distributed.records import Outcome, WorkerInfo

__all__ = ["Transcriber", "sha256_of"]


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Transcriber:
    """Transcribes files on one engine; meant to run as a Ray actor.

    Parameters
    ----------
    model : str
        Registry name (looked up in the node's own model store) or path of a
        model file (the same path on every node, e.g. shared storage).
    fmt : str
        Output format (see :func:`lumina.asr.formats.render`).
    speed, language : str or None
        The :class:`~lumina.asr.protocol.TranscribeOptions` of every file.
    device : str
        Passed to :class:`lumina.Engine`.
    threads : int
        CPU threads of the engine (the CPUs the actor reserved).
    model_sha256 : str, optional
        Digest the node's model file must have; checked by :meth:`ready`.
        Without it a registry model is checked against its published hash
        and any other file is hashed so the driver can compare workers.
    """

    def __init__(self, model: str, *, fmt: str, speed: str, language: str | None, device: str,
                 threads: int, model_sha256: str | None) -> None:
        self._model = model
        self._fmt = fmt
        self._options = TranscribeOptions(speed=speed, language=language)
        self._model_sha256 = model_sha256
        self._engine = lumina.Engine(model, device=device, threads=threads)

    def ready(self) -> WorkerInfo:
        """Wait for the model; check its hash; say where this worker runs.

        Raises
        ------
        ModelNotFoundError, ModelIntegrityError, BackendError, DeviceError
            The node's model is missing, broken, or not the expected file.
        """
        digest = self._check_model()
        self._engine.wait_ready()
        return WorkerInfo(_node_id(), os.getpid(), digest)

    def _check_model(self) -> str | None:
        store = lumina.ModelStore()
        if self._model_sha256 is not None:
            lumina.validate_model_file(store.find(self._model), expected_sha256=self._model_sha256)
            return self._model_sha256
        if self._model in store.registry:
            info = store.verify(self._model)  # against the published hash
            return info.sha256
        return sha256_of(store.find(self._model))

    def transcribe(self, source: str) -> Outcome:
        """Transcribe one file; a file lumina cannot read comes back as an error, not an exception."""
        node, pid = _node_id(), os.getpid()
        try:
            samples = lumina.load_audio(source, SAMPLE_RATE, validate=True)
            transcript = self._engine.transcribe_samples(samples, self._options)
        except (LuminaError, OSError) as exc:
            return Outcome(source, None, _message(source, exc), type(exc).__name__, 0.0, node, pid)
        return Outcome(source, render(transcript, self._fmt), None, None,
                       len(samples) / SAMPLE_RATE, node, pid)

    def close(self) -> None:
        """Free the model."""
        self._engine.close()


def _message(source: str, exc: Exception) -> str:
    """The error's message, naming the file once."""
    text = str(exc)
    return text if source in text or Path(source).name in text else f"{source}: {text}"


def _node_id() -> str:
    import ray  # only ever called inside a Ray worker

    return ray.get_runtime_context().get_node_id()
