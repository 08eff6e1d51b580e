"""A phrase-cache candidate shown at once, as the provisional text of an ending utterance.

When the final engine's phrase cache holds a fuzzy match for an utterance, the engine hands
its text to ``on_candidate`` before the model verifies it (:mod:`lumina.asr.cached`). The
decoder turns it into a :class:`~lumina.streaming.events.Partial` with ``complete=True``, so a
user sees the likely text at once; the utterance's :class:`~lumina.streaming.events.Final`
follows the verification and is authoritative (the candidate's text when the model agreed,
``origin == "cache-verified"``, the model's own text otherwise).

The candidate is shown only when it keeps the partial-text promise: it must start with the
utterance's stable prefix (the text two partial decodes already agreed on). A candidate that
contradicts what the partial decodes heard is not shown (the model will most likely reject
it anyway); the Final alone settles that utterance.
"""

from __future__ import annotations

import time

from lumina.streaming.agreement import LocalAgreement
from lumina.streaming.events import Partial

__all__ = ["candidate_partial"]


def candidate_partial(text: str, agreement: LocalAgreement | None, utterance_id: int,
                      audio_time: float, arrival: float) -> Partial | None:
    """The complete Partial showing ``text``, or None when it contradicts the stable prefix.

    ``arrival`` is the ``time.monotonic()`` of the utterance's last sample (for the latency).
    """
    stable = "".join(t.text for t in agreement.stable_tokens).strip() if agreement else ""
    text = text.strip()
    if not text or not text.startswith(stable):
        return None
    return Partial(text, stable, text[len(stable):], utterance_id, audio_time,
                   time.monotonic() - arrival, complete=True)
