"""Cache keys: what a transcript depends on, as one stable string that SQLite can store."""

from __future__ import annotations

import json
from collections.abc import Hashable

from lumina.errors import ArgumentError

__all__ = ["canonical_key"]

_NONSTR_PREFIX = "\x1fkey:"


def _tag(value: object) -> list:
    # bool before int: True must not collide with 1.
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, int):
        return ["i", str(value)]
    if isinstance(value, float):
        return ["f", value.hex()]
    if value is None:
        return ["n"]
    if isinstance(value, tuple):
        return ["t", [_tag(v) for v in value]]
    raise ArgumentError(f"cache key part {value!r} of type {type(value).__name__} cannot be stored")


def canonical_key(key: Hashable) -> str:
    """The stable string a cache key is stored under.

    ``str`` keys are used as they are; other keys must be built from str, int, float, bool,
    None and tuples, and become a tagged JSON text, so ``1``, ``1.0`` and ``True`` differ.

    Raises
    ------
    ArgumentError
        For keys holding other types (also a TypeError).
    """
    if isinstance(key, str):
        return key
    return _NONSTR_PREFIX + json.dumps(_tag(key), separators=(",", ":"))
