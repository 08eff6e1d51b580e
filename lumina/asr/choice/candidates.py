"""The models ``model="auto"`` chooses from, and how they rank for accuracy.

Candidates are the models installed in the store (downloaded, imported, or
shipped in an installed package such as ``tiny.en`` with ``lumina[tiny]``)
and, when downloads are allowed, every model of the registry.

Accuracy ranking (:func:`rank_key`) is a prior, not a measurement: a larger
architecture beats a smaller one (tiny < base < small < medium < large-v1 <
large-v2 < large-v3-turbo < large-v3), at the same size an English-only
(``.en``) model beats a multilingual one for English, and at the same size
and vocabulary f16 beats q8_0, which beats q5_1, which beats q5_0. That is
what whisper's published evaluations show on average; the real-weight
accuracy of most sizes cannot be measured offline here (only tiny.en ships in
a package), so lumina does not pretend to rank them by its own measurement.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from lumina.asr.choice.cost_model import ARCHITECTURES, Architecture, architecture_of
from lumina.errors import LuminaError
from lumina.models.imports import bundled_source
from lumina.models.modelfile import validate_model_file
from lumina.models.store import ModelStore

__all__ = ["ARCH_RANK", "QUANT_RANK", "Candidate", "list_candidates", "path_candidate", "rank_key"]

_log = logging.getLogger("lumina.choice")

#: Architecture -> accuracy rank (higher is more accurate); ``large`` is a v1/v2 file's header name.
ARCH_RANK = {"tiny": 0, "base": 1, "small": 2, "medium": 3, "large": 4, "large-v1": 4,
             "large-v2": 5, "large-v3-turbo": 6, "large-v3": 7}
#: Storage type -> accuracy rank at the same architecture (higher is more accurate).
QUANT_RANK = {"f16": 3, "q8_0": 2, "q5_1": 1, "q5_0": 0}


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A model ``model="auto"`` may choose.

    Attributes
    ----------
    name : str
        What :class:`~lumina.Engine` loads it by (a registry or imported name, or a path).
    architecture : str
        ``"tiny"`` ... ``"large-v3"`` (:data:`ARCH_RANK`).
    quantization : str
        ``"f16"``, ``"q8_0"``, ``"q5_1"`` or ``"q5_0"``.
    english_only : bool
        An English-only (``.en``) model.
    installed : bool
        Usable without the network (in the store, or in an installed package).
    size : int or None
        Bytes on disk, or the registry's approximate size.
    shape : Architecture
        Its family and depth, for the cost model.
    size_exact : bool
        ``size`` is the file's (False: the registry's estimate).
    """

    name: str
    architecture: str
    quantization: str
    english_only: bool
    installed: bool
    size: int | None
    shape: Architecture
    size_exact: bool = True


def rank_key(candidate: Candidate, language: str = "en") -> tuple:
    """Sort key, most accurate first for ``language`` (installed before not, then by name, on ties)."""
    english = candidate.english_only and language == "en"
    return (-ARCH_RANK[candidate.architecture], -int(english),
            -QUANT_RANK[candidate.quantization], not candidate.installed, candidate.name)


def list_candidates(store: ModelStore, language: str = "en", *,
                    include_downloadable: bool = True) -> list[Candidate]:
    """The candidates in ``store`` for ``language``, most accurate first.

    English-only models are left out for any language but ``"en"``. A broken
    installed file, or one of a shape no family has, is left out (and logged).
    """
    found = []
    for status in store.list():
        candidate = _installed(status) if status.installed else _from_registry(status, include_downloadable)
        if candidate is None or (candidate.english_only and language != "en"):
            continue
        found.append(candidate)
    return sorted(found, key=lambda c: rank_key(c, language))


def _installed(status) -> Candidate | None:
    try:
        info = validate_model_file(status.path)
    except LuminaError as exc:
        _log.warning("model %s left out of the choice: %s", status.name, exc)
        return None
    hp = info.hparams
    arch = status.entry.arch if status.entry is not None else info.arch
    shape = architecture_of(hp.n_audio_state, hp.n_mels, hp.n_audio_layer, hp.n_text_layer)
    if arch not in ARCH_RANK or shape is None or info.quantization not in QUANT_RANK:
        _log.info("model %s (%s, %s) has no accuracy rank or cost model; not a candidate",
                  status.name, info.arch or "custom shape", info.quantization)
        return None
    return Candidate(status.name, arch, info.quantization, bool(info.english_only), True,
                     info.file_size, shape)


def _from_registry(status, include_downloadable: bool) -> Candidate | None:
    entry = status.entry
    if entry is None or entry.arch not in ARCHITECTURES:
        return None
    bundled = bundled_source(entry.name) is not None
    if not bundled and not include_downloadable:
        return None
    return Candidate(entry.name, entry.arch, entry.quantization, entry.english_only, bundled,
                     entry.size, ARCHITECTURES[entry.arch], size_exact=False)


def path_candidate(path: str | Path, name: str | None = None) -> Candidate | None:
    """A candidate for a model file outside any store (benchmarks), from its header."""
    info = validate_model_file(path)
    hp = info.hparams
    shape = architecture_of(hp.n_audio_state, hp.n_mels, hp.n_audio_layer, hp.n_text_layer)
    if info.arch not in ARCH_RANK or shape is None:
        return None
    return Candidate(name or str(path), info.arch, info.quantization, bool(info.english_only),
                     True, info.file_size, shape)
