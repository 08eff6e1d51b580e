"""Which engines a stream decodes with: one model or engine for both paths, or one per path.

A model name or file becomes an :class:`~lumina.Engine` the stream loads (in
the background, as the stream is built) and closes at its end; a ready
:class:`~lumina.SpeechEngine` is used as it is and never closed by the stream.
"""

from __future__ import annotations

import os

from lumina.streaming.options import ModelChoice, StreamModels, check_model_choice

__all__ = ["resolve_engines"]


def resolve_engines(model: ModelChoice | StreamModels):
    """Return ``(partial engine, final engine, engines the stream created and must close)``.

    Raises
    ------
    ArgumentError
        ``model`` is none of a model name, a path, a SpeechEngine or StreamModels.
    """
    if isinstance(model, StreamModels):
        partial, final = model.partial, model.final
    else:
        check_model_choice(model, "Stream's model")
        partial = final = model
    made: dict[str, object] = {}   # one engine per model name, even when both paths name it
    final_engine = _engine(final, made)          # first: the final path's model starts loading first
    return _engine(partial, made), final_engine, list(made.values())


def _engine(choice: ModelChoice, made: dict):
    if not isinstance(choice, (str, os.PathLike)):
        return choice
    from lumina.asr.engine import Engine

    name = os.fspath(choice)
    if name not in made:
        made[name] = Engine(name, preload=True)
    return made[name]
