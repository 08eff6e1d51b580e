"""Checks of :class:`~lumina.Engine`'s arguments: a bad one fails at once, by name, as an ArgumentError.

Without them a wrong type would surface later and elsewhere (a pybind11
TypeError inside whisper.cpp's parameters, an AttributeError in a cache
lookup), or not at all.
"""

from __future__ import annotations

import numbers
import os

from lumina.asr.backend import language_known
from lumina.errors import ArgumentError

__all__ = ["check_cache", "check_call", "check_concurrency", "check_decoding", "check_threads",
           "check_timeout", "check_vad_call", "model_name"]


def model_name(model) -> str:
    """The model argument as a str (a registry name or a path)."""
    if not isinstance(model, (str, os.PathLike)):
        raise ArgumentError(f"model must be a registry name or the path of a model file, "
                            f"not {type(model).__name__}")
    return os.fspath(model)


def check_threads(threads) -> None:
    """None or an int >= 1."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ArgumentError(f"threads must be an int >= 1 or None, got {threads!r}")


def check_cache(cache) -> None:
    """None, True, False or an object with the PhraseCache ``get``/``put`` interface."""
    if cache is None or isinstance(cache, bool):
        return
    if not (callable(getattr(cache, "get", None)) and callable(getattr(cache, "put", None))):
        raise ArgumentError(f"cache must be a PhraseCache (or True, False, None), "
                            f"not {type(cache).__name__}")


def check_timeout(timeout) -> None:
    """None or a number of seconds >= 0."""
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise ArgumentError(f"timeout must be a number of seconds >= 0 or None, got {timeout!r}")


def check_call(language, prompt, should_abort) -> None:
    """The per-call options of ``transcribe``: language code, prompt text, abort callback."""
    if language is not None:
        if not isinstance(language, str):
            raise ArgumentError(f"language must be a str such as 'en' or 'auto', "
                                f"not {type(language).__name__}")
        if not language_known(language):
            raise ArgumentError(f"unknown language {language!r}; use a code whisper knows "
                                "('en', 'de', 'fr'...) or 'auto'")
    if prompt is not None and not isinstance(prompt, str):
        raise ArgumentError(f"prompt must be a str, not {type(prompt).__name__}")
    if should_abort is not None and not callable(should_abort):
        raise ArgumentError(f"should_abort must be a callable returning bool, "
                            f"not {type(should_abort).__name__}")


def check_concurrency(concurrency, shared_weights) -> None:
    """``concurrency``: an int >= 1; ``shared_weights``: None, True or False."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ArgumentError(f"concurrency must be an int >= 1, got {concurrency!r}")
    if shared_weights is not None and not isinstance(shared_weights, bool):
        raise ArgumentError(f"shared_weights must be True, False or None, got {shared_weights!r}")


def check_vad_call(cache, on_candidate) -> None:
    """``transcribe(vad=...)`` decodes windows of detected speech and never consults a phrase cache.

    So it refuses what it would otherwise drop silently: ``on_candidate`` (no
    cache candidate can come) and an engine made with a cache (which would not
    be asked).
    """
    if on_candidate is not None:
        raise ArgumentError("on_candidate applies to phrase-cache lookups, which transcribe(vad=...) "
                            "does not make; pass vad=False, or leave on_candidate out")
    if cache is not None:
        raise ArgumentError("transcribe(vad=...) decodes windows of detected speech and does not "
                            "consult the engine's phrase cache; call it on an Engine made without "
                            "cache=, or pass vad=False to use the cache")


def check_decoding(translate, temperature, on_segment, on_candidate=None, beam_size=None) -> None:
    """``translate`` a bool, ``temperature`` a number in [0, 1], the callbacks None or callables,
    ``beam_size`` None or an int from 1 to 16."""
    if beam_size is not None and (isinstance(beam_size, bool) or not isinstance(beam_size, int)
                                  or not 1 <= beam_size <= 16):
        raise ArgumentError(f"beam_size must be an int from 1 (greedy) to 16, or None, got {beam_size!r}")
    if not isinstance(translate, bool):
        raise ArgumentError(f"translate must be True or False, not {translate!r}")
    if (isinstance(temperature, bool) or not isinstance(temperature, numbers.Real)
            or not 0.0 <= temperature <= 1.0):
        raise ArgumentError(f"temperature must be a number from 0 to 1, got {temperature!r}")
    if on_segment is not None and not callable(on_segment):
        raise ArgumentError(f"on_segment must be a callable taking a Segment, "
                            f"not {type(on_segment).__name__}")
    if on_candidate is not None and not callable(on_candidate):
        raise ArgumentError(f"on_candidate must be a callable, not {type(on_candidate).__name__}")
