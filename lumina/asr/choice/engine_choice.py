"""``Engine("auto", latency=...)``: the engine's side of :func:`~lumina.asr.choice.choose.choose_model`."""

from __future__ import annotations

import logging

from lumina.asr.choice.choose import ModelPick, choose_among, choose_model
from lumina.asr.choice.jobs import resolve_budget
from lumina.errors import ArgumentError, ModelNotFoundError
from lumina.models.store import ModelStore

__all__ = ["AUTO", "check_latency", "choose_for_engine"]

_log = logging.getLogger("lumina.choice")

#: The model name that asks for a choice.
AUTO = "auto"
_DEFAULT_LATENCY = "dictation"


def check_latency(model: str, latency) -> str | float | None:
    """The budget an engine chooses its model for; None for an explicit model.

    Raises
    ------
    ArgumentError
        ``latency`` is not a budget (:func:`~lumina.asr.choice.jobs.resolve_budget`),
        or it was given with an explicit model, which it would not change.
    """
    if model != AUTO:
        if latency is not None:
            raise ArgumentError(f"latency= chooses the model of Engine('auto'); with the explicit "
                                f"model {model!r} it would be ignored. Pass model='auto' or drop latency=")
        return None
    latency = _DEFAULT_LATENCY if latency is None else latency
    resolve_budget(latency)
    return latency


def choose_for_engine(latency, *, store: ModelStore | None, device: str, threads: int | None,
                      download: bool, job: str | None = None, what: str = "model='auto'"
                      ) -> ModelPick:
    """The engine's model for ``latency`` (installed models only unless ``download``).

    Without ``download`` only the installed models are measured and compared;
    when none fits, the registry's are too, so the error can name what would
    fit if downloaded.

    Raises
    ------
    ModelNotFoundError
        No usable model is predicted to fit; the message (prefixed with ``what``)
        names what would fit if downloaded.
    """
    options = dict(job=job, store=store, device=device, threads=threads, download=download)
    choice = choose_among(latency, list_downloadable=download, **options)
    if choice.name is None and not download:
        choice = choose_model(latency, **options)
    if choice.name is None:
        raise ModelNotFoundError(f"{what}: {choice.reason}")
    _log.info("%s chose %s", what, choice.reason)
    return choice
