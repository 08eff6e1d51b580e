"""LocalAgreement-2: split successive hypotheses of one utterance into a stable prefix and a tail.

Each partial decode of an open utterance re-reads it from its start and yields
a token sequence (a hypothesis). The tokens two consecutive hypotheses agree on,
from the start, are unlikely to change when more audio arrives; they become
*stable* and stay so. Tokens are compared by id, never by text, so that two
spellings of one text (different tokenisations) do not count as agreement.
"""

from __future__ import annotations

from collections.abc import Sequence

from lumina.asr.transcript import Token

__all__ = ["LocalAgreement", "common_prefix_length"]


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading items ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class LocalAgreement:
    """The stable prefix of one utterance's hypotheses (LocalAgreement with n = 2).

    The stable prefix only grows: it extends to the longest common prefix of the
    last two hypotheses when that prefix starts with the current stable tokens.
    A hypothesis that contradicts the stable tokens leaves them as they are.
    """

    def __init__(self) -> None:
        self._previous: list[int] = []
        self._stable: list[Token] = []

    @property
    def stable_tokens(self) -> tuple[Token, ...]:
        """The tokens committed so far."""
        return tuple(self._stable)

    def update(self, tokens: Sequence[Token]) -> tuple[str, str, str]:
        """Take the next hypothesis; return ``(text, stable, unstable)`` with ``text == stable + unstable``."""
        ids = [t.id for t in tokens]
        n_stable = len(self._stable)
        agreed = common_prefix_length(self._previous, ids)
        if agreed > n_stable and common_prefix_length(ids, [t.id for t in self._stable]) == n_stable:
            self._stable.extend(tokens[n_stable:agreed])
        self._previous = ids
        return _texts(self._stable, list(tokens[len(self._stable):]))


def _texts(stable: list[Token], tail: list[Token]) -> tuple[str, str, str]:
    """Join token texts (whisper tokens carry their leading space) and trim the outer whitespace."""
    stable_raw = "".join(t.text for t in stable)
    full = stable_raw + "".join(t.text for t in tail)
    text = full.strip()
    lead = len(full) - len(full.lstrip())
    cut = max(0, len(stable_raw) - lead)
    return text, text[:cut], text[cut:]
