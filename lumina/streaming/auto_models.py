"""``Stream(partial_model="auto", final_model="auto")``: each path's model chosen for its own budget.

Partials are fast decodes of the utterance so far and must come every
``step``: the partial model is the most accurate one predicted to decode a
3 s utterance on the fast path within ``step`` (the ``partial`` job). The
Final must come within the Final goal (:data:`~lumina.asr.choice.jobs.FINAL_GOAL_S`,
1 s) after the speech: the final model is chosen for the ``dictation`` job at
``final_speed``. ``model="auto"`` chooses both that way (they may differ). The
names are resolved before the stream builds its engines, so everything after
sees plain model names; a name the caller gave is never replaced.
"""

from __future__ import annotations

from lumina.asr.choice.choose import ModelChoice
from lumina.asr.choice.engine_choice import choose_for_engine
from lumina.asr.choice.jobs import FINAL_GOAL_S

__all__ = ["resolve_auto_models"]

_AUTO = "auto"


def resolve_auto_models(model, partial_model, final_model, *, step: float, final_speed: str,
                        threads: int | None, engine=None
                        ) -> tuple[object, object, object, dict[str, ModelChoice]]:
    """``(model, partial_model, final_model, choices)`` with every ``"auto"`` replaced by a name.

    With ``engine=`` nothing is chosen: models then conflict with it, which
    :func:`lumina.streaming.engines.resolve_engines` reports.

    Raises
    ------
    ModelNotFoundError
        No installed model is predicted to fit a path's budget (the message
        names what would fit if downloaded).
    """
    choices: dict[str, ModelChoice] = {}
    if engine is not None:
        return model, partial_model, final_model, choices
    if _is_auto(model) and partial_model is None and final_model is None:
        model, partial_model, final_model = None, _AUTO, _AUTO
    if _is_auto(partial_model):
        choices["partial"] = _chosen("partial", step, "partial", threads)
        partial_model = choices["partial"].name
    if _is_auto(final_model):
        job = "dictation" if final_speed == "accurate" else "dictation-fast"
        choices["final"] = _chosen("final", FINAL_GOAL_S, job, threads)
        final_model = choices["final"].name
    return model, partial_model, final_model, choices


def _is_auto(name) -> bool:
    return isinstance(name, str) and name == _AUTO


def _chosen(path: str, budget: float, job: str, threads: int | None) -> ModelChoice:
    return choose_for_engine(budget, job=job, store=None, device="auto", threads=threads,
                             download=False, what=f"Stream({path}_model='auto')")
