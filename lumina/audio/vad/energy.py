"""lumina's compiled energy VAD behind the common frame interface.

:class:`lumina._core.vad.EnergyVAD` already has that interface (``frame_samples``,
``process``, ``flush``, ``reset``, ``pending_frames``); this module only builds one
from the settings every detector takes.
"""

from __future__ import annotations

from lumina._core.vad import EnergyVAD

__all__ = ["make_energy"]


def make_energy(sample_rate: int, frame_ms: int, start_frames: int, end_frames: int,
                threshold_db: float | None = None) -> EnergyVAD:
    """An :class:`~lumina.audio.vad.EnergyVAD`: adaptive noise floor, or ``threshold_db`` dBFS when given."""
    return EnergyVAD(sample_rate, frame_ms, threshold_db=threshold_db,
                     start_frames=start_frames, end_frames=end_frames)
