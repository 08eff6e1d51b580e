"""``Engine("auto", latency=...)``: the engine's side of :func:`~lumina.asr.choice.choose.choose_model`."""

from __future__ import annotations

import logging

from lumina.asr.choice.choose import ModelChoice, choose_model
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


def choose_for_engine(latency, *, store: ModelStore, device: str, threads: int,
                      download: bool) -> ModelChoice:
    """The engine's model for ``latency`` (installed models only unless ``download``).

    Raises
    ------
    ModelNotFoundError
        No usable model is predicted to fit; the message names what would fit if downloaded.
    """
    choice = choose_model(latency, store=store, device=device, threads=threads, download=download)
    if choice.name is None:
        raise ModelNotFoundError(f"model='auto': {choice.reason}")
    _log.info("model='auto' chose %s", choice.reason)
    return choice
