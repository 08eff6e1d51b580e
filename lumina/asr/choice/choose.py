"""``model="auto"``: the most accurate model this machine runs within a latency budget.

:func:`choose_model` lists the candidates (:mod:`~lumina.asr.choice.candidates`),
predicts each one's time for the job from this machine's cost model
(:mod:`~lumina.asr.choice.cost_model`, measured once by
:mod:`~lumina.asr.choice.probe`) and picks the best-ranked one that fits.

Measuring is lazy: families (widths) are measured smallest first, and a
candidate is not measured at all when a smaller family's blocks, at its own
depth and storage type, already take longer than the budget (a wider block
is never cheaper): its row then says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from lumina.asr.choice.candidates import Candidate, list_candidates, rank_key
from lumina.asr.choice.cost_model import FAMILIES, Architecture, CostModel, block_id
from lumina.asr.choice.jobs import Job, resolve_budget
from lumina.asr.choice.probe import ensure_measured, load_cost_model, machine_key
from lumina.asr.threads import default_threads
from lumina.errors import ArgumentError
from lumina.models.store import ModelStore

__all__ = ["Estimate", "ModelPick", "choose", "choose_among", "choose_model", "size_text"]


@dataclasses.dataclass(frozen=True)
class Estimate:
    """One candidate's predicted time for the job.

    Attributes
    ----------
    candidate : Candidate
        The model.
    seconds : float or None
        Predicted seconds per call; None when it was not measured.
    fits : bool or None
        Whether it is predicted within the budget; None when unknown.
    note : str
        Why there is no prediction (``"> 2400 ms (bound from base blocks)"``...), else empty.
    """

    candidate: Candidate
    seconds: float | None
    fits: bool | None
    note: str = ""


@dataclasses.dataclass(frozen=True)
class ModelPick:
    """What :func:`choose_model` chose, and why.

    Attributes
    ----------
    name : str or None
        The model to load (``Engine(choice.name)``); None when no usable
        candidate is predicted to fit (``reason`` then says what would).
    reason : str
        The choice in words: the prediction against the budget, what would
        fit if downloaded, or that the caller chose.
    job : Job
        The job the budget is for.
    budget : float
        Seconds per call, or a real-time factor for the ``file`` job.
    predicted : float or None
        The pick's predicted seconds per call.
    download : bool
        The pick is not installed and must be downloaded first.
    size : int or None
        The pick's size in bytes (approximate when not installed).
    estimates : tuple of Estimate
        Every candidate, most accurate first (empty for an explicit model).
    machine : str
        The machine and backend the predictions are for.
    explicit : bool
        The caller named the model: it wins whatever the budget.
    """

    name: str | None
    reason: str
    job: Job
    budget: float
    predicted: float | None = None
    download: bool = False
    size: int | None = None
    estimates: tuple[Estimate, ...] = ()
    machine: str = ""
    explicit: bool = False

    def would_fit_if_downloaded(self) -> list[Candidate]:
        """Models not installed that are predicted to fit, most accurate first."""
        return [e.candidate for e in self.estimates if e.fits and not e.candidate.installed]


def choose_model(latency="dictation", *, job: str | None = None, language: str = "en",
                 model=None, store: ModelStore | None = None, device: str = "auto",
                 threads: int | None = None, download: bool | None = None,
                 cost_model: CostModel | None = None, remeasure: bool = False,
                 progress: Callable[[str], None] | None = None) -> ModelPick:
    """The most accurate model predicted to run ``job`` within ``latency`` on this machine.

    The first call on a machine measures it (10-40 s per family and storage
    type of the candidates on two cores; cached in the store, see
    :mod:`lumina.asr.choice.probe`). Accuracy is ranked by architecture size,
    then English-only for English, then f16 > q8_0 > q5_1 > q5_0
    (:mod:`lumina.asr.choice.candidates`): a prior, not a measurement.

    Parameters
    ----------
    latency : str or float, default "dictation"
        ``"interactive"`` (a 2 s command on the fast path within 300 ms),
        ``"dictation"`` (a 5 s sentence's Final, accurate, within 1 s),
        ``"batch"`` (a long file at half real time), or a number: seconds per
        call of ``job`` (a real-time factor for ``job="file"``).
    job : str, optional
        ``"command"``, ``"dictation"``, ``"dictation-fast"``, ``"partial"`` or
        ``"file"`` (:data:`lumina.asr.choice.jobs.JOBS`); default the preset's,
        else ``"dictation"``. A known short command may get a larger model than
        free dictation within the same budget: it decodes less audio on the
        fast path.
    language : str, default "en"
        English-only models are candidates only for ``"en"`` (where they rank
        above multilingual ones of the same size).
    model : str or path-like, optional
        An explicit model: it wins, whatever the budget (``"auto"`` or None choose).
    store : ModelStore, optional
        Where models are installed and the measurements cached; default ``ModelStore()``.
    device : str, default "auto"
        The device request the engine will make (``Engine(device=...)``).
    threads : int, optional
        Threads per inference, as the engine's; default
        :func:`lumina.asr.threads.default_threads`.
    download : bool, optional
        Whether models that are not installed may be picked (then downloaded).
        Default: when the store may use the network (not ``LUMINA_OFFLINE``).
        Either way they are listed, so an offline choice can say what would fit.
    cost_model : CostModel, optional
        Use these costs and measure nothing (tests, what-ifs).
    remeasure : bool, default False
        Measure the machine again (for example after it was measured while busy).
    progress : callable, optional
        Called with a line of text before each measurement.

    Returns
    -------
    ModelPick
        ``name`` is None when nothing usable fits; ``reason`` says what would.

    Raises
    ------
    ArgumentError
        An unknown preset, job or a bad budget, threads or language.

    Examples
    --------
    >>> choice = lumina.choose_model("interactive")          # doctest: +SKIP
    >>> choice.name                                          # doctest: +SKIP
    'base.en'
    >>> choice.reason                                        # doctest: +SKIP
    'base.en: the most accurate installed model predicted within 300 ms (243 ms) for a 2 s voice command, fast path'
    >>> engine = lumina.Engine(choice.name)                  # doctest: +SKIP
    """
    return choose_among(latency, job=job, language=language, model=model, store=store,
                        device=device, threads=threads, download=download, cost_model=cost_model,
                        remeasure=remeasure, progress=progress, list_downloadable=True)


def choose_among(latency="dictation", *, job: str | None = None, language: str = "en", model=None,
                 store: ModelStore | None = None, device: str = "auto", threads: int | None = None,
                 download: bool | None = None, cost_model: CostModel | None = None,
                 remeasure: bool = False, progress: Callable[[str], None] | None = None,
                 list_downloadable: bool = True) -> ModelPick:
    """:func:`choose_model`, with ``list_downloadable=False`` looking at installed models only.

    That measures less (an engine that must pick among installed models need
    not measure the others), but the estimates then hold installed models only
    and an empty choice cannot say what would fit if downloaded.
    """
    the_job, budget = resolve_budget(latency, job)
    if not isinstance(language, str):
        raise ArgumentError(f"language must be a str such as 'en', not {type(language).__name__}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ArgumentError(f"threads must be an int >= 1 or None, got {threads!r}")
    store = store if store is not None else ModelStore()
    allow_download = (not store.offline) if download is None else (bool(download) and not store.offline)
    key = cost_model.key if cost_model is not None else machine_key(threads or default_threads(), device)
    candidates = list_candidates(store, language,
                                 include_downloadable=list_downloadable or allow_download)
    if model is not None and model != "auto":
        return _explicit(str(model), candidates, the_job, budget,
                         cost_model or load_cost_model(store, key))

    def costs(needed: set[str]) -> CostModel:
        if cost_model is not None:
            return cost_model
        return ensure_measured(store, key, needed, remeasure=remeasure, progress=progress)

    return choose(candidates, the_job, budget, costs, allow_download=allow_download,
                  language=language)


def choose(candidates: Sequence[Candidate], job: Job, budget: float,
           costs: Callable[[set[str]], CostModel], *, allow_download: bool,
           language: str = "en") -> ModelPick:
    """The choice among ``candidates`` (the pure part of :func:`choose_model`).

    ``costs(block_ids)`` returns a cost model holding those blocks if it can
    (measuring them), or whatever it has.
    """
    ordered = sorted(candidates, key=lambda c: rank_key(c, language))
    estimates, cost = _estimate(ordered, job, budget, costs)
    usable = [e for e in estimates if e.fits and (e.candidate.installed or allow_download)]
    machine = _machine_text(cost)
    if not usable:
        return ModelPick(None, _no_fit_reason(estimates, job, budget, allow_download), job,
                           budget, estimates=tuple(estimates), machine=machine)
    pick = usable[0]
    c = pick.candidate
    return ModelPick(c.name, _fit_reason(pick, estimates, job, budget, allow_download), job, budget,
                       pick.seconds, not c.installed, c.size, tuple(estimates), machine)


def _estimate(ordered: list[Candidate], job: Job, budget: float,
              costs: Callable[[set[str]], CostModel]) -> tuple[list[Estimate], CostModel | None]:
    found: dict[int, Estimate] = {}
    cost = None
    for family in FAMILIES:
        group = [(i, c) for i, c in enumerate(ordered) if c.shape.family == family]
        if not group:
            continue
        to_measure = []
        for i, c in group:
            bound = None
            if cost is not None and block_id(family, c.quantization) not in cost.blocks:
                bound = _lower_bound(cost, c, family, job)
            if bound is not None and job.in_budget_units(bound[0]) > budget:
                found[i] = Estimate(c, None, False, f"> {job.format_seconds(bound[0])} "
                                                    f"(bound from {bound[1]} blocks)")
            else:
                to_measure.append((i, c))
        if to_measure:
            cost = costs({block_id(family, c.quantization) for _, c in to_measure})
        for i, c in to_measure:
            seconds = cost.predict(c.shape, c.quantization, job)
            if seconds is None:
                found[i] = Estimate(c, None, None, "not measured")
            else:
                found[i] = Estimate(c, seconds, job.in_budget_units(seconds) <= budget)
    return [found[i] for i in range(len(ordered))], cost


def _lower_bound(cost: CostModel, c: Candidate, family: str, job: Job) -> tuple[float, str] | None:
    """The candidate's time with the blocks of the widest smaller family measured in its storage type."""
    order = list(FAMILIES)
    for smaller in reversed(order[:order.index(family)]):
        if block_id(smaller, c.quantization) in cost.blocks:
            shape = Architecture(smaller, c.shape.n_audio_layer, c.shape.n_text_layer)
            return cost.predict(shape, c.quantization, job), smaller
    return None


def _explicit(name: str, candidates: list[Candidate], job: Job, budget: float,
              cost: CostModel | None) -> ModelPick:
    match = next((c for c in candidates if c.name == name), None)
    seconds = None
    if match is not None and cost is not None:
        seconds = cost.predict(match.shape, match.quantization, job)
    reason = f"{name}: chosen by the caller (an explicit model always wins over a latency budget)"
    if seconds is not None:
        verdict = "within" if job.in_budget_units(seconds) <= budget else "over"
        reason += f"; predicted {job.format_seconds(seconds)}, {verdict} {job.budget_text(budget)}"
    return ModelPick(name, reason, job, budget, seconds,
                       match is not None and not match.installed,
                       match.size if match is not None else None,
                       machine=_machine_text(cost), explicit=True)


def _fit_reason(pick: Estimate, estimates: list[Estimate], job: Job, budget: float,
                allow_download: bool) -> str:
    c = pick.candidate
    scope = "model" if allow_download else "installed model"
    text = (f"{c.name}: the most accurate {scope} predicted within {job.budget_text(budget)} "
            f"({job.format_seconds(pick.seconds)}) for {job.description}")
    if not c.installed:
        text += f"; not installed: a {size_text(c.size, exact=c.size_exact)} download"
    better = [e.candidate for e in estimates[:estimates.index(pick)]
              if e.fits and not e.candidate.installed]
    if better and not allow_download:
        text += (f"; more accurate if downloaded: {_names_with_sizes(better[:3])} "
                 f"(lumina models download {better[0].name})")
    return text


def _no_fit_reason(estimates: list[Estimate], job: Job, budget: float, allow_download: bool) -> str:
    scope = "model" if allow_download else "installed model"
    text = (f"no {scope} is predicted to transcribe {job.description} within "
            f"{job.budget_text(budget)} on this machine")
    installed = [e for e in estimates if e.candidate.installed and e.seconds is not None]
    if installed:
        fastest = min(installed, key=lambda e: e.seconds)
        text += f" (fastest installed: {fastest.candidate.name}, {job.format_seconds(fastest.seconds)})"
    elif not any(e.candidate.installed for e in estimates):
        text += " (no model is installed)"
    fit = [e.candidate for e in estimates if e.fits and not e.candidate.installed]
    if fit and not allow_download:
        text += (f"; would fit if downloaded: {_names_with_sizes(fit[:3])} "
                 f"(lumina models download {fit[0].name}, or Engine(..., download=True))")
    elif not fit:
        text += "; no known model would: raise the budget, use a faster job (speed='fast') or a GPU"
    return text


def _names_with_sizes(candidates: list[Candidate]) -> str:
    return ", ".join(f"{c.name} ({size_text(c.size, exact=c.size_exact)})" for c in candidates)


def size_text(size: int | None, *, exact: bool = True) -> str:
    """``"142 MiB"``, ``"~1.5 GiB"`` (``exact=False`` marks an approximate size), ``"?"``."""
    if size is None:
        return "?"
    prefix = "" if exact else "~"
    mib = size / 2**20
    return f"{prefix}{mib:.0f} MiB" if mib < 1024 else f"{prefix}{mib / 1024:.1f} GiB"


def _machine_text(cost: CostModel | None) -> str:
    if cost is None:
        return "not measured"
    text = cost.key.describe()
    if cost.measured_at:
        text += f"; measured {cost.measured_at}"
    if cost.load_average is not None:
        text += f" at load average {cost.load_average:.2f}"
    return text
