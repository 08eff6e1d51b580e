"""Hashes of model files: compute SHA-1 / SHA-256 in one pass and compare them with expectations."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lumina.errors import ModelIntegrityError

__all__ = ["check_hashes", "file_digests"]

_HASH_CHUNK = 1 << 20


def file_digests(p: Path, *, sha1: bool = True,
                 sha256: bool = True) -> tuple[str | None, str | None]:
    """Hash a file in 1 MiB chunks; return (sha1, sha256) hex digests or None."""
    h1 = hashlib.sha1(usedforsecurity=False) if sha1 else None
    h256 = hashlib.sha256() if sha256 else None
    with open(p, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            if h1 is not None:
                h1.update(chunk)
            if h256 is not None:
                h256.update(chunk)
    return (h1.hexdigest() if h1 else None, h256.hexdigest() if h256 else None)


def check_hashes(p: Path, sha1: str | None, sha256: str | None) -> tuple[str | None, str | None]:
    """Hash ``p`` when a digest is expected and compare; return the digests computed.

    Raises
    ------
    ModelIntegrityError
        A digest differs; the message gives both.
    """
    if sha1 is None and sha256 is None:
        return None, None
    digests = file_digests(p, sha1=sha1 is not None, sha256=sha256 is not None)
    for label, want, got in (("SHA-1", sha1, digests[0]), ("SHA-256", sha256, digests[1])):
        if want is not None and got != want.lower():
            raise ModelIntegrityError(
                f"{p}: {label} is {got} but {want.lower()} was expected; the file is corrupt "
                "or a different model: delete it and download it again")
    return digests
