"""Keyword arguments renamed in the public API, kept as deprecated aliases for one release.

lumina's name for a rate in Hz is ``sample_rate`` everywhere; the older
spellings (``sr``, ``source_sr``, ``samplerate``) still work for one release
and warn with :class:`DeprecationWarning`.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import TypeVar

from lumina.errors import ArgumentError

__all__ = ["renamed_keywords"]

F = TypeVar("F", bound=Callable)


def renamed_keywords(**old_to_new: str) -> Callable[[F], F]:
    """Decorate a function so each old keyword still works, as its new name, with a warning.

    Passing both spellings raises :class:`~lumina.errors.ArgumentError`.
    ``inspect.signature`` of the result shows only the new names.
    """
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    kwargs[new] = _renamed(func, old, new, kwargs)
            return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def _renamed(func: Callable, old: str, new: str, kwargs: dict) -> object:
    name = func.__qualname__.removesuffix(".__init__")
    if new in kwargs:
        raise ArgumentError(f"{name}() got both {old}= and {new}=; pass only {new}=")
    warnings.warn(f"{name}({old}=...) is deprecated and goes in the next release; "
                  f"use {new}=...", DeprecationWarning, stacklevel=3)
    return kwargs.pop(old)
