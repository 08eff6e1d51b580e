"""A hand-made cost model for the choice tests: round numbers instead of a measurement.

Every block is linear: an encoder layer costs ``k`` seconds per frame and a decoder
layer ``10 k`` per step, with ``k`` per family times a factor per storage type, and
nothing else (no mel, no overhead). A model of depth ``L`` then takes
``L * k * (ctx + 10 * (steps - 1))`` seconds: for the dictation job (1500 frames, 16
steps) ``1650 * L * k``, for a command (256 frames, 7 steps) ``316 * L * k``.
"""

from __future__ import annotations

from lumina.asr.choice.cost_model import CTX_POINTS, BlockCost, CostModel, MachineKey

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
