"""The engine protocol: what lumina's own consumers may ask of "an engine", and nothing more.

A :class:`~lumina.Stream`'s decoder, the server's worker pool and realtime
sessions, and the Ray workers each call an engine. They call it through
:class:`SpeechEngine` only, so an engine is anything that implements it:
:class:`lumina.Engine` does, and so do the server's realtime stand-in
(:class:`lumina.apps.server.realtime_engine.PoolEngine`) and any test double.
No consumer inspects signatures or passes an option only when it is truthy.

The options of one call travel as one frozen :class:`TranscribeOptions`. A new
keyword option of :meth:`lumina.Engine.transcribe` becomes a new field here,
with a default: implementations that do not know it keep working (they read
the fields they know), and :meth:`lumina.Engine.transcribe_samples` passes
every field on (:meth:`TranscribeOptions.keywords`). The callbacks of a call
are not options (they are not values a cache or a queue can compare); they are
the keyword arguments ``should_abort``, ``on_segment`` and ``on_candidate``,
which every implementation accepts and may leave unused when it has nothing to
report (an engine without a phrase cache never calls ``on_candidate``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lumina.asr.arguments import check_call, check_decoding
from lumina.asr.speed import check_speed

if TYPE_CHECKING:
    import numpy as np

    from lumina.asr.transcript import Segment, Transcript

__all__ = ["SpeechEngine", "TranscribeOptions"]


@dataclasses.dataclass(frozen=True)
class TranscribeOptions:
    """The options of one transcription: :meth:`lumina.Engine.transcribe`'s, as one value.

    Parameters
    ----------
    language : str, optional
        Language code or ``"auto"``; default the model's (English for
        English-only models, detection for multilingual ones).
    prompt : str, optional
        Text that conditions the decoder.
    speed : {"accurate", "fast"}, default "accurate"
        See :mod:`lumina.asr.speed`.
    word_timestamps : bool, default False
        Per-token times.
    translate : bool, default False
        whisper's translate task.
    temperature : float, default 0.0
        whisper.cpp's first decoding temperature, 0 to 1.
    beam_size : int, optional
        Beams of whisper.cpp's beam search (1: greedy); default the speed's.

    Raises
    ------
    ArgumentError
        For a value :meth:`lumina.Engine.transcribe` would refuse (checked here,
        so a bad option fails where it is made, not on a worker thread).
    """

    language: str | None = None
    prompt: str | None = None
    speed: str = "accurate"
    word_timestamps: bool = False
    translate: bool = False
    temperature: float = 0.0
    beam_size: int | None = None

    def __post_init__(self) -> None:
        check_speed(self.speed)
        check_call(self.language, self.prompt, None)
        check_decoding(self.translate, self.temperature, None, None, self.beam_size)
        if not isinstance(self.word_timestamps, bool):
            from lumina.errors import ArgumentError
            raise ArgumentError(f"word_timestamps must be True or False, not {self.word_timestamps!r}")

    def keywords(self) -> dict[str, Any]:
        """The options as keyword arguments of :meth:`lumina.Engine.transcribe`."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@runtime_checkable
class SpeechEngine(Protocol):
    """What lumina asks of an engine: :class:`lumina.Engine` implements it, and so may a stand-in.

    Attributes
    ----------
    is_ready : bool
        Whether the engine can run a call without waiting for its model
        (never blocks). A stand-in without a model says True.
    device : str or None
        What runs the model (``"cpu"``, ``"cuda"``...), once known; None before.
    """

    @property
    def is_ready(self) -> bool: ...

    @property
    def device(self) -> str | None: ...

    def transcribe_samples(self, samples: np.ndarray, options: TranscribeOptions, *,
                           should_abort: Callable[[], bool] | None = None,
                           on_segment: Callable[[Segment], object] | None = None,
                           on_candidate: Callable[[str], object] | None = None) -> Transcript:
        """Transcribe float32 mono samples at 16 kHz with ``options``.

        Parameters
        ----------
        samples : ndarray of float32
            Mono audio at 16 kHz (:data:`lumina.audio.convert.SAMPLE_RATE`).
        options : TranscribeOptions
        should_abort : callable, optional
            Polled while decoding; True stops the call with
            :class:`~lumina.errors.TranscriptionAborted`.
        on_segment : callable, optional
            Called with each :class:`~lumina.Segment` of the result, in order,
            once, before the call returns.
        on_candidate : callable, optional
            Called with the text of a phrase-cache candidate before the model
            checks it; engines without a cache never call it.

        Returns
        -------
        Transcript
        """
        ...

    def close(self) -> None:
        """Free what the engine holds (its owner calls it once, when done with it)."""
        ...
