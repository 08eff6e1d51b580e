"""What a :class:`~lumina.Stream` decodes with, and how: :class:`StreamModels` and :class:`StreamOptions`.

Each is one value with documented defaults, so a stream's settings never
combine into something ambiguous: a path gets one engine (a model the stream
loads, or an engine you made), and every option means one thing whatever the
others are.
"""

from __future__ import annotations

import dataclasses
import os

from lumina.asr.arguments import check_decoding
from lumina.asr.protocol import SpeechEngine
from lumina.errors import ArgumentError
from lumina.streaming.hangover import HangoverPolicy

__all__ = ["ModelChoice", "StreamModels", "StreamOptions"]

#: A model name or file (the stream makes an :class:`~lumina.Engine` of it and closes it at the
#: end), or a ready :class:`~lumina.SpeechEngine` (used as it is and never closed by the stream).
ModelChoice = str | os.PathLike | SpeechEngine


@dataclasses.dataclass(frozen=True)
class StreamModels:
    """One model per path: partials on a fast one, finals on an accurate one (progressive refinement).

    Parameters
    ----------
    partial : str, path-like or SpeechEngine
        What decodes the partials (at ``speed="fast"``), e.g. ``"tiny.en"``.
    final : str, path-like or SpeechEngine
        What decodes the finals, e.g. ``"base.en"``.

    A name given for both paths loads one engine. For engine settings (threads,
    a phrase cache, a device), make the :class:`~lumina.Engine` yourself and
    pass it; the stream closes only the engines it made.

    Raises
    ------
    ArgumentError
        A path is neither a model name, a model file's path, nor a SpeechEngine.
    """

    partial: ModelChoice
    final: ModelChoice

    def __post_init__(self) -> None:
        for name in ("partial", "final"):
            check_model_choice(getattr(self, name), f"StreamModels.{name}")


def check_model_choice(value, what: str) -> None:
    """A model name, a model file's path, or an object implementing the engine protocol."""
    if isinstance(value, (str, os.PathLike)) or isinstance(value, SpeechEngine):
        return
    raise ArgumentError(f"{what} must be a model name, a model file's path, a lumina.SpeechEngine "
                        f"(such as a lumina.Engine) or, for Stream's model, lumina.StreamModels; "
                        f"got {type(value).__name__}")


@dataclasses.dataclass(frozen=True)
class StreamOptions:
    """How a :class:`~lumina.Stream` schedules its decodes.

    Parameters
    ----------
    step : float, default 0.25
        Seconds of new audio between partial decodes of an open utterance,
        once one of its partials has had words; before that, every 0.1 s for
        the first 0.6 s of speech (a decode of the first 100-150 ms of speech
        is mostly empty).
    final_speed : {"accurate", "fast"}, default "fast"
        The speed of the final decode. ``"fast"`` (an encoder context cut to
        the utterance, :mod:`lumina.asr.speed`) was quicker on real speech
        (``python benchmarks stream_real``, real tiny.en, 12 sentences: Final
        301 ms after the end of speech at 5.7% WER, against 789 ms at 4.3% for
        ``"accurate"``); ``"accurate"`` gives the exact whisper.cpp text of
        the utterance's audio.
    final_beam_size : int, default 1
        Beams of the final decode (1: greedy). Greedy, unlike files' 5 beams,
        because a Final is waited for: 5 beams read those 12 sentences at
        2.9% WER but 455 ms after the end of speech, greedy at 5.7% in 301 ms
        (311 ms with another process busy on one of the two cores).
        Partials, the complete one included, are always greedy: they must be cheap.
    eager : bool, default True
        End of utterance without waiting: a complete provisional partial and a
        speculative final as soon as speech stops (before the hang-over has
        confirmed the end), and the first partial as soon as the VAD has
        confirmed speech. The final of an utterance is the decode of its audio
        up to the point where speech stopped, exactly as without ``eager``.
        False: partials every ``step`` from the onset, the final decoded after
        the hang-over.
    hangover : HangoverPolicy or None, default HangoverPolicy()
        How long a silence ends an utterance, by what the latest text says
        (:class:`~lumina.streaming.hangover.HangoverPolicy`: 300 ms after a
        sentence end, 700 ms after a comma). None: the segmenter's fixed
        ``hangover_ms`` whatever the text.
    lockstep : bool, default False
        Live mode (False) skips a partial step while a decode is running and
        aborts a partial decode whose utterance has ended (or a speculation
        when speech resumes). True makes the pipeline wait for each decode
        instead: every step gets its partial, nothing is aborted and decoded
        text adapts the hang-over at points fixed by the audio, so the events
        depend only on the audio (tests, offline runs; a live source may then
        drop audio). A speculation then decodes only its complete partial; the
        final waits for the hang-over (decoding it earlier would gain nothing).
    decode_budget : float or None, default 0.15
        Live mode: the share of real time the decodes of an utterance may take
        before its next partial is held back, counted from its first words.
        Partials then come less often than ``step`` on a slow CPU instead of
        keeping a core busy; the first words, the complete partial and the
        Final are never held back. None: a partial every ``step`` (skipped
        only while a decode runs). Lockstep ignores it.
    ring_seconds : float, default 10.0
        Audio a live source (``"microphone"``, :meth:`~lumina.Stream.feed`)
        buffers while the pipeline is behind; older audio is dropped and
        reported by :class:`~lumina.Dropped`.

    Raises
    ------
    ArgumentError
        For a value out of range or of the wrong type.
    """

    step: float = 0.25
    final_speed: str = "fast"
    final_beam_size: int = 1
    eager: bool = True
    hangover: HangoverPolicy | None = HangoverPolicy()
    lockstep: bool = False
    decode_budget: float | None = 0.15
    ring_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not _positive(self.step):
            raise ArgumentError(f"step must be > 0 seconds, got {self.step!r}")
        if self.final_speed not in ("accurate", "fast"):
            raise ArgumentError(f"final_speed must be 'accurate' or 'fast', got {self.final_speed!r}")
        check_decoding(False, 0.0, None, None, self.final_beam_size)
        for name in ("eager", "lockstep"):
            if not isinstance(getattr(self, name), bool):
                raise ArgumentError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not (self.hangover is None or isinstance(self.hangover, HangoverPolicy)):
            raise ArgumentError(f"hangover must be a HangoverPolicy or None, got {self.hangover!r}")
        if self.decode_budget is not None and not _positive(self.decode_budget):
            raise ArgumentError(f"decode_budget must be > 0 or None, got {self.decode_budget!r}")
        if not _positive(self.ring_seconds):
            raise ArgumentError(f"ring_seconds must be > 0, got {self.ring_seconds!r}")


def _positive(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0
