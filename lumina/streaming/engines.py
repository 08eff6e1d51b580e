"""Which engines a stream decodes with: from model names, ready engines, or both (one per path).

Every keyword given must be used: a combination where one would be ignored
(``Stream(engine=e, model="x")``) is refused with an :class:`ArgumentError`
that says what to pass instead.
"""

from __future__ import annotations

from lumina.asr.protocol import SpeechEngine
from lumina.errors import ArgumentError

__all__ = ["ArgumentError", "resolve_engines"]

DEFAULT_MODEL = "base.en"


def resolve_engines(*, model=None, partial_model=None, final_model=None, engine=None,
                    partial_engine=None, final_engine=None, threads=None, cache=None):
    """Return ``(partial engine, final engine, engines the stream created and must close)``.

    Raises
    ------
    ArgumentError
        For a combination in which a keyword would be ignored.
    """
    _check_combination(model, partial_model, final_model, engine, partial_engine, final_engine,
                       threads, cache)
    for name, given in (("engine", engine), ("partial_engine", partial_engine),
                        ("final_engine", final_engine)):
        if given is not None and not isinstance(given, SpeechEngine):
            raise ArgumentError(f"{name} must implement lumina.SpeechEngine (transcribe_samples, "
                                f"is_ready, device, close), like lumina.Engine; got "
                                f"{type(given).__name__}")
    from lumina.asr.engine import Engine

    partial = partial_engine or engine
    final = final_engine or engine
    partial_name = partial_model or model or final_model
    final_name = final_model or model or partial_model
    if partial is None and final is None and partial_name is None:
        partial_name = final_name = DEFAULT_MODEL
    owned = []
    if final is None:
        final = Engine(final_name or partial_name, threads=threads, cache=cache, preload=True)
        owned.append(final)
    if partial is None:
        if partial_name == final_name and owned:
            partial = final
        else:
            partial = Engine(partial_name or final_name, threads=threads, preload=True)
            owned.append(partial)
    return partial, final, owned


def _check_combination(model, partial_model, final_model, engine, partial_engine, final_engine,
                       threads, cache) -> None:
    given = {name for name, value in (
        ("model", model), ("partial_model", partial_model), ("final_model", final_model),
        ("partial_engine", partial_engine), ("final_engine", final_engine),
        ("threads", threads), ("cache", cache)) if value is not None}
    if engine is not None and given:
        raise ArgumentError(
            f"Stream(engine=...) decodes both paths with that engine, so {_names(given)} would be "
            "ignored; pass engine= alone, or partial_engine=/final_engine= (or models) per path")
    if model is not None and given & {"partial_model", "final_model"}:
        raise ArgumentError(
            f"model= names one model for both paths, so it conflicts with "
            f"{_names(given & {'partial_model', 'final_model'})}; pass partial_model= and final_model=")
    for path in ("partial", "final"):
        if f"{path}_engine" in given and (f"{path}_model" in given or (model is not None)):
            named = f"{path}_model" if f"{path}_model" in given else "model"
            raise ArgumentError(f"{path}_engine= and {named}= both choose the {path} path's engine; "
                                "pass one of them")
    creates_final = final_engine is None
    creates_any = creates_final or partial_engine is None
    if cache is not None and not creates_final:
        raise ArgumentError("cache= applies to the final engine the stream creates; with final_engine= "
                            "give that engine its cache (Engine(..., cache=...))")
    if threads is not None and not creates_any:
        raise ArgumentError("threads= applies to engines the stream creates; with partial_engine= and "
                            "final_engine= set the threads of those engines")


def _names(names: set[str]) -> str:
    ordered = sorted(names)
    return ", ".join(f"{n}=" for n in ordered)
