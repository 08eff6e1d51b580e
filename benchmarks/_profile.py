"""Which parameters the asv suite runs: the full set, or CI's smaller one.

``LUMINA_ASV_PROFILE=full`` (the default) gives every benchmark the parameters of
a real benchmark run. ``LUMINA_ASV_PROFILE=ci`` gives each one a smaller set (the
smallest real model shape, shorter audio, fewer sizes) so that `.ci/run` can run
the whole suite in asv's quick mode within minutes: every benchmark still runs
(an error fails CI) and CI's committed results track the same cells from run to
run. Numbers from the two profiles are not comparable with each other, and asv
cannot tell them apart by name: keep each results folder to one profile (CI's is
``benchmarks/results/lumina-ci``).

Usage in a benchmark: ``params = by_profile(full=[...], ci=[...])``.
"""

from __future__ import annotations

import os

PROFILES = ("full", "ci")
PROFILE = os.environ.get("LUMINA_ASV_PROFILE", "full")
if PROFILE not in PROFILES:
    raise ValueError(f"LUMINA_ASV_PROFILE must be one of {', '.join(PROFILES)}; got {PROFILE!r}")


def by_profile(full, ci):
    """``ci`` under ``LUMINA_ASV_PROFILE=ci``, else ``full``."""
    return ci if PROFILE == "ci" else full
