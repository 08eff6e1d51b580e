"""The adaptive hang-over: how much silence ends an utterance, from the text decoded so far.

A fixed hang-over trades latency against splitting: short, and a speaker who
pauses mid-sentence is cut in two; long, and every final waits. The text of the
latest partial tells which case a pause is: after a sentence end (``.``, ``?``,
``!``) the speaker has probably finished, after a comma or an ellipsis they
probably have not. :class:`HangoverPolicy` maps that text to a hang-over;
the :class:`~lumina.streaming.scheduler.Scheduler` sets it on the segmenter
whenever a new text arrives.

The defaults were measured on espeak-ng speech with lumina's energy VAD (see
``benchmarks/compare_stream.py`` and ``tests/test_stream_hangover.py``):

* 300 ms after a sentence end, the same as the segmenter's default, so the
  policy never splits an utterance that a fixed hang-over would keep together.
  A shorter value gives earlier finals but splits where a model ends a
  fragment cut by a mid-sentence pause with a stray period (whisper often
  does): with 160 ms every pause of 200 ms and more in the test corpus was
  split, against none under 330 ms with 300 ms. ``HangoverPolicy(
  sentence_end_ms=160)`` chooses that trade (fast finals then come about
  170 ms after the end of speech instead of about 300 ms).
* 700 ms after a continuation mark (comma, colon, dash, ellipsis): sentences
  with pauses of up to 600 ms stay one utterance (a fixed 300 ms splits every
  pause from 400 ms on).
* Text without such marks (or no text yet) is no evidence either way and keeps
  the segmenter's own hang-over (300 ms by default): a model that never
  punctuates segments exactly as with a fixed hang-over.
"""

from __future__ import annotations

import dataclasses

from lumina.errors import ArgumentError

__all__ = ["HangoverPolicy", "classify"]

_CLOSERS = "\"'»”’)]}"          # skipped at the end: "Really?" she said -> ...?"
_SENTENCE_END = ".?!。？！"
_CONTINUES = ",;:-–—"


def classify(text: str) -> str:
    """``"end"`` (a sentence end), ``"mid"`` (a continuation mark) or ``"unknown"``.

    >>> classify("Turn on the lights."), classify("I would like, um,"), classify("Call mom")
    ('end', 'mid', 'unknown')
    """
    tail = text.rstrip().rstrip(_CLOSERS).rstrip()
    if not tail:
        return "unknown"
    if tail.endswith(("...", "…")):      # trailing off: whisper's mark for an unfinished sentence
        return "mid"
    if tail[-1] in _SENTENCE_END:
        return "end"
    if tail[-1] in _CONTINUES:
        return "mid"
    return "unknown"


@dataclasses.dataclass(frozen=True)
class HangoverPolicy:
    """Hang-overs (ms of silence that end an utterance) by what the latest text says.

    Parameters
    ----------
    sentence_end_ms : int, default 300
        After text that ends a sentence.
    mid_sentence_ms : int, default 700
        After text that ends with a comma, colon, semicolon, dash or ellipsis.
    unknown_ms : int or None, default None
        Before any text, and after text without such a mark; None keeps the
        segmenter's hang-over as constructed (``Segmenter(hangover_ms=...)``).

    Raises
    ------
    ArgumentError
        For a value that is not a number of ms from 0 to 3000.
    """

    sentence_end_ms: int = 300
    mid_sentence_ms: int = 700
    unknown_ms: int | None = None

    def __post_init__(self) -> None:
        for name in ("sentence_end_ms", "mid_sentence_ms", "unknown_ms"):
            value = getattr(self, name)
            if value is None and name == "unknown_ms":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3000:
                raise ArgumentError(f"HangoverPolicy {name} must be a number of ms from 0 to 3000, "
                                    f"got {value!r}")

    def for_text(self, text: str, unknown_ms: int) -> int:
        """The hang-over after ``text``; ``unknown_ms`` when ``unknown_ms`` is None here."""
        kind = classify(text)
        if kind == "end":
            return self.sentence_end_ms
        if kind == "mid":
            return self.mid_sentence_ms
        return unknown_ms if self.unknown_ms is None else self.unknown_ms
