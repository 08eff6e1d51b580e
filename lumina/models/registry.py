"""The registry: every whisper.cpp model published on the Hugging Face hub, with size and hash.

Sizes and SHA-1 values come from whisper.cpp's models/README.md; where none is
published, the hub's file listing gives the SHA-256 at download time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["DEFAULT_API_URL", "DEFAULT_URL_BASE", "REGISTRY", "RegistryEntry"]

DEFAULT_URL_BASE = "https://huggingface.co/ggerganov/whisper.cpp/resolve/main"
DEFAULT_API_URL = "https://huggingface.co/api/models/ggerganov/whisper.cpp/tree/main"


@dataclass(frozen=True)
class RegistryEntry:
    """One published whisper.cpp model.

    Attributes
    ----------
    name : str
        Short name, e.g. ``'tiny.en'`` or ``'base-q5_1'``.
    filename : str
        ``ggml-{name}.bin``.
    url : str
        Download URL on the hub (a store may use a mirror instead).
    size : int
        Size in bytes; approximate unless ``size_exact`` (see below).
    size_exact : bool
        False for every entry today: sizes come from the MiB/GiB column of
        whisper.cpp's models/README.md or are estimated from the bits per
        weight of the quantization.  The exact size is taken from the hub's
        file listing at download time.
    sha1 : str or None
        SHA-1 published in whisper.cpp's models/README.md, None when none is
        published (then the hub listing's SHA-256 is checked instead).
    arch : str
        ``'tiny'``, ``'base'``, ``'small'``, ``'medium'``, ``'large-v1'``,
        ``'large-v2'``, ``'large-v3'`` or ``'large-v3-turbo'``.
    english_only : bool
        True for the ``.en`` models.
    quantization : str
        ``'f16'``, ``'q5_0'``, ``'q5_1'`` or ``'q8_0'``.
    """

    name: str
    filename: str
    url: str
    size: int
    size_exact: bool
    sha1: str | None
    arch: str
    english_only: bool
    quantization: str


_MIB = 1 << 20
# f16 models: name -> (disk size in MiB as published, SHA-1 as published).
# Source: whisper.cpp models/README.md ("Available models"), commit 1126d80.
_F16 = {
    "tiny": (75, "bd577a113a864445d4c299885e0cb97d4ba92b5f"),
    "tiny.en": (75, "c78c86eb1a8faa21b369bcd33207cc90d64ae9df"),
    "base": (142, "465707469ff3a37a2b9b8d8f89f2f99de7299dac"),
    "base.en": (142, "137c40403d78fd54d454da0f9bd998f78703390c"),
    "small": (466, "55356645c2b361a969dfd0ef2c5a50d530afd8d5"),
    "small.en": (466, "db8a495a91d927739e50b3fc1cc4c6b8f6c2d022"),
    "medium": (1536, "fd9727b6e1217c2f614f9b698455c4ffd82463b4"),
    "medium.en": (1536, "8c30f0e44ce9560643ebd10bbe50cd20eafd3723"),
    "large-v1": (2970, "b1caaf735c4cc1429223d5a74f0f4d0b9b59a299"),
    "large-v2": (2970, "0f4c8e34f21cf1a914c59d8b3ce882345ad349d6"),
    "large-v3": (2970, "ad82bf6a9043ceed055076d0fd39f5f186ff8062"),
    "large-v3-turbo": (1536, "4af2b29d7ec73d781377bfd1758ca957a807e941"),
}
# Quantized models with a published size and SHA-1 (same README).
_QUANT_PUBLISHED = {
    "large-v2-q5_0": (1126, "00e39f2196344e901b3a2bd5814807a769bd1630"),
    "large-v3-q5_0": (1126, "e6e2ed78495d403bef4b7cff42ef4aaadcfea8de"),
    "large-v3-turbo-q5_0": (547, "e050f7970618a659205450ad97eb95a18d69c9ee"),
}
# Other quantized files on the hub (no published hash): size estimated as
# f16 size * bits per weight / 16 (q5_0 5.5, q5_1 6, q8_0 8.5 bits).
_QUANT_BITS = {"q5_0": 5.5, "q5_1": 6.0, "q8_0": 8.5}
_QUANT_OTHER = (
    "tiny-q5_1", "tiny.en-q5_1", "tiny-q8_0", "base-q5_1", "base.en-q5_1", "base-q8_0",
    "small-q5_1", "small.en-q5_1", "small-q8_0", "medium-q5_0", "medium.en-q5_0",
    "medium-q8_0", "large-v3-turbo-q8_0",
)


def _entry(name: str, size: int, sha1: str | None) -> RegistryEntry:
    base, _, quant = name.partition("-q")
    if not quant:
        base = name
    filename = f"ggml-{name}.bin"
    return RegistryEntry(
        name=name, filename=filename, url=f"{DEFAULT_URL_BASE}/{filename}", size=size,
        size_exact=False, sha1=sha1, arch=base.removesuffix(".en"),
        english_only=base.endswith(".en"), quantization=f"q{quant}" if quant else "f16")


def _build_registry() -> Mapping[str, RegistryEntry]:
    entries = [_entry(n, mib * _MIB, sha) for n, (mib, sha) in _F16.items()]
    entries += [_entry(n, mib * _MIB, sha) for n, (mib, sha) in _QUANT_PUBLISHED.items()]
    for name in _QUANT_OTHER:
        base, _, quant = name.partition("-q")
        est = round(_F16[base][0] * _MIB * _QUANT_BITS[f"q{quant}"] / 16)
        entries.append(_entry(name, est, None))
    return MappingProxyType({e.name: e for e in sorted(entries, key=_sort_key)})


def _sort_key(e: RegistryEntry) -> tuple[int, str]:
    order = ("tiny", "base", "small", "medium", "large-v1", "large-v2", "large-v3",
             "large-v3-turbo")
    return order.index(e.arch), e.name


#: Every known model, by name (read-only mapping, smallest architecture first).
REGISTRY: Mapping[str, RegistryEntry] = _build_registry()
