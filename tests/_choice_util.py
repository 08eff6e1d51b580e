"""A hand-made cost model for the choice tests: round numbers instead of a measurement.

Every block is linear: an encoder layer costs ``k`` seconds per frame and a decoder
layer ``10 k`` per step, with ``k`` per family times a factor per storage type, and
nothing else (no mel, no overhead). A model of depth ``L`` then takes
``L * k * (ctx + 10 * (steps - 1))`` seconds: for the dictation job (1500 frames, 16
steps) ``1650 * L * k``, for a command (256 frames, 7 steps) ``316 * L * k``.
"""

from __future__ import annotations

import pytest

from lumina.asr.choice import candidates as candidates_module
from lumina.asr.choice.cost_model import CTX_POINTS, BlockCost, CostModel, MachineKey
from lumina.models.store import ModelStore
from lumina.testing import make_model

KEY = MachineKey(cpu="Test CPU", cpus="0-1", threads=2, device="cpu",
                 backend="pywhispercpp 0.0; test build", lumina="0.0")
#: Seconds per encoder frame of one layer, by family.
PER_FRAME = {"tiny": 1e-4, "base": 1.5e-4, "small": 3e-4, "medium": 6e-4, "large": 1e-3,
             "large-v3": 1e-3}
#: Storage type factors: q8_0 fastest, f16 slowest.
FACTOR = {"f16": 1.0, "q8_0": 0.8, "q5_1": 0.9}


def block(k: float, depth: int = 4) -> BlockCost:
    """Encoder layers cost k per frame, decoder layers 10 k per step, cross-attention keys nothing."""
    one = tuple(k * ctx for ctx in CTX_POINTS)
    return BlockCost(depth=depth, encode=(one, tuple(2 * v for v in one), one),
                     step=((0.0, 10 * k, 0.0), (0.0, 10 * k * depth, 0.0)), mel=(0.0, 0.0), overhead=0.0,
                     probe_seconds=1.0)


def fixed_cost_model(key: MachineKey = KEY, families=PER_FRAME) -> CostModel:
    blocks = {f"{fam}/{q}": block(PER_FRAME[fam] * f) for fam in families for q, f in FACTOR.items()}
    return CostModel(key, blocks, "2025-01-02T03:04:05+00:00", 0.25)


# Fixtures shared by test_choice.py and test_choice_apps.py (imported there by name).

@pytest.fixture
def no_bundled(monkeypatch):
    """No model ships in an installed package: the store's own models are all there is."""
    monkeypatch.setattr(candidates_module, "bundled_source", lambda name: None)


@pytest.fixture(scope="module")
def random_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("choice-models")
    return {"tiny": make_model(d / "tiny.bin", "tiny.en"), "base": make_model(d / "base.bin", "base.en")}


@pytest.fixture
def store(tmp_path, random_models, no_bundled):
    """An offline store with a random-weight tiny.en imported as ``tiny-mine``."""
    s = ModelStore(tmp_path / "models", offline=True)
    s.import_model(random_models["tiny"], name="tiny-mine")
    return s
