"""Choosing a model: the most accurate one this machine runs within a latency budget.

``lumina.choose_model(...)``, ``Engine("auto", latency=...)``,
``Stream("auto")`` (or ``StreamModels(partial="auto", final=...)``) and
``lumina models recommend`` use it.

* :mod:`~lumina.asr.choice.jobs`: what a budget is for (jobs, presets);
* :mod:`~lumina.asr.choice.cost_model`: how long a call takes, per family, depth and storage type;
* :mod:`~lumina.asr.choice.probe`: measuring this machine once, cached in the model store;
* :mod:`~lumina.asr.choice.candidates`: the models to choose from, ranked by accuracy;
* :mod:`~lumina.asr.choice.choose`: the choice.
"""

from lumina.asr.choice.candidates import Candidate
from lumina.asr.choice.choose import Estimate, ModelPick, choose_model
from lumina.asr.choice.cost_model import CostModel, MachineKey
from lumina.asr.choice.jobs import JOBS, PRESETS, Job

__all__ = ["Candidate", "CostModel", "Estimate", "JOBS", "Job", "MachineKey", "ModelPick",
           "PRESETS", "choose_model"]
