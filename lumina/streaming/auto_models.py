"""``Stream("auto")``, ``StreamModels(partial="auto", final="auto")``: each path's model chosen for its budget.

Partials are fast decodes of the utterance so far and must come every
``options.step``: the partial model is the most accurate installed one
predicted to decode a 3 s utterance on the fast path within the step (the
``partial`` job). The Final must come within the Final goal
(:data:`~lumina.asr.choice.jobs.FINAL_GOAL_S`, 1 s) after the speech: the final
model is chosen for the ``dictation`` job at ``options.final_speed`` (predicted
for a greedy decode: with ``options.final_beam_size`` above 1 the final takes
longer than predicted, since beam search is not in the cost model). ``"auto"``
for the stream's model chooses both that way (they may differ). The names are
resolved before the stream builds its engines, so everything after sees plain
model names; a model or engine the caller gave is never replaced.
"""

from __future__ import annotations

from lumina.asr.choice.choose import ModelPick
from lumina.asr.choice.engine_choice import choose_for_engine
from lumina.asr.choice.jobs import FINAL_GOAL_S
from lumina.streaming.options import StreamModels, StreamOptions

__all__ = ["resolve_auto_models"]

_AUTO = "auto"


def resolve_auto_models(model, options: StreamOptions) -> tuple[object, dict[str, ModelPick]]:
    """``(model, picks)``: the stream's ``model`` with every ``"auto"`` replaced by a model name.

    Raises
    ------
    ModelNotFoundError
        No installed model is predicted to fit a path's budget (the message
        names what would fit if downloaded).
    """
    picks: dict[str, ModelPick] = {}
    if _is_auto(model):
        model = StreamModels(partial=_AUTO, final=_AUTO)
    if not isinstance(model, StreamModels) or not (_is_auto(model.partial) or _is_auto(model.final)):
        return model, picks
    partial, final = model.partial, model.final
    if _is_auto(partial):
        picks["partial"] = _pick("partial", options.step, "partial")
        partial = picks["partial"].name
    if _is_auto(final):
        job = "dictation" if options.final_speed == "accurate" else "dictation-fast"
        picks["final"] = _pick("final", FINAL_GOAL_S, job)
        final = picks["final"].name
    return StreamModels(partial=partial, final=final), picks


def _is_auto(name) -> bool:
    return isinstance(name, str) and name == _AUTO


def _pick(path: str, budget: float, job: str) -> ModelPick:
    return choose_for_engine(budget, job=job, store=None, device="auto", threads=None,
                             download=False, what=f"Stream's {path} model 'auto'")
