"""LocalAgreement-n: split successive hypotheses of one utterance into a stable prefix and a tail.

Each partial decode of an open utterance re-reads it from its start and yields
a token sequence (a hypothesis). The tokens the last n hypotheses agree on,
from the start, are unlikely to change when more audio arrives; they become
*stable* and stay so. Tokens are compared by id, never by text, so that two
spellings of one text (different tokenisations) do not count as agreement.

Streams take n = 3 (:data:`AGREEING_HYPOTHESES`). With n = 2, the first
hypotheses of an utterance, decoded from half a second of audio, committed
words that every later hypothesis and the Final read otherwise, and a
committed word is shown in every later partial: real tiny.en read "A children."
and "A children bill." and then "The children ..." eleven times, but "A" stayed;
"but team renewed" twice, then "The team reviewed ..." (``python benchmarks
stream_real``: the complete partials' WER was 7.9% against the Finals' 5.7%).

When a hypothesis contradicts the stable prefix, the stable tokens stay and the
hypothesis supplies only what comes after them. Where that starts is found by
words, not by token count: a stable "...on the balcony." against a new "...on
the balcony while I am away." must go on with "while", which the token count
(the stable "." sits where the new " while" does) would skip. Real tiny.en did
exactly that at a pause inside a sentence (``python benchmarks stream_real``).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from lumina.asr.transcript import Token
from lumina.errors import ArgumentError

__all__ = ["AGREEING_HYPOTHESES", "LocalAgreement", "common_prefix_length"]

#: Consecutive hypotheses that must agree on a word before it becomes stable (streams' choice).
AGREEING_HYPOTHESES = 3
_MAX_SHIFT_WORDS = 2   # how far a stable word may have moved in a new hypothesis of the same audio
_ALIKE_RATIO = 0.5   # difflib's ratio: "walk"/"walked" 0.8, "when"/"whether" 0.55, "now"/"every" 0


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading items ``a`` and ``b`` share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class LocalAgreement:
    """The stable prefix of one utterance's hypotheses (LocalAgreement with n = ``hypotheses``).

    The stable prefix only grows: it extends to the longest common prefix of the
    last ``hypotheses`` hypotheses when that prefix starts with the current stable
    tokens, cut back to the last word all of them go on after (a new word follows
    in each). A word at the end of the audio heard so far is often cut short
    ("walk" for "walked", "Thursday" for "Thursdays"): hypotheses that end with it
    agree on it, and committed it would stay wrong in every later partial.
    A hypothesis that contradicts the stable tokens leaves them as they are.

    Parameters
    ----------
    hypotheses : int, default :data:`AGREEING_HYPOTHESES` (3)
        Consecutive hypotheses that must agree; at least 2.

    Raises
    ------
    ArgumentError
        For ``hypotheses`` that is not an int of at least 2.
    """

    def __init__(self, hypotheses: int = AGREEING_HYPOTHESES) -> None:
        if isinstance(hypotheses, bool) or not isinstance(hypotheses, int) or hypotheses < 2:
            raise ArgumentError(f"hypotheses must be an int >= 2, got {hypotheses!r}")
        self.hypotheses = hypotheses
        self._previous: list[list[Token]] = []   # the last hypotheses - 1 hypotheses, oldest first
        self._stable: list[Token] = []

    @property
    def stable_tokens(self) -> tuple[Token, ...]:
        """The tokens committed so far."""
        return tuple(self._stable)

    def update(self, tokens: Sequence[Token]) -> tuple[str, str, str]:
        """Take the next hypothesis; return ``(text, stable, unstable)`` with ``text == stable + unstable``."""
        ids = [t.id for t in tokens]
        n_stable = len(self._stable)
        if len(self._previous) == self.hypotheses - 1:
            group = [*self._previous, tokens]
            agreed = min(common_prefix_length([t.id for t in h], ids) for h in self._previous)
            while agreed > n_stable and not all(_word_starts(h, agreed) for h in group):
                agreed -= 1
            if agreed > n_stable and common_prefix_length(ids, [t.id for t in self._stable]) == n_stable:
                self._stable.extend(tokens[n_stable:agreed])
        self._previous = [*self._previous, list(tokens)][1 - self.hypotheses:]
        return _texts(self._stable, list(tokens[_tail_start(self._stable, tokens)]))


def _word_starts(tokens: Sequence[Token], index: int) -> bool:
    """Whether a new word starts at ``tokens[index]`` (whisper's word tokens carry a leading space)."""
    return index < len(tokens) and tokens[index].text[:1].isspace()


def _tail_start(stable: Sequence[Token], tokens: Sequence[Token]) -> slice:
    """The hypothesis tokens that follow the stable ones: after them when the hypothesis starts
    with them, else after the hypothesis word that lines up with the end of the stable words."""
    n_stable = len(stable)
    if common_prefix_length([t.id for t in tokens], [t.id for t in stable]) == n_stable:
        return slice(n_stable, None)
    old, new = _words(stable), _words(tokens)
    old_words, new_words = [w for w, _ in old], [w for w, _ in new]
    anchor = _anchor(old_words, new_words)
    if anchor is None:
        return slice(n_stable, None)   # nothing to line up: the old rule, by count
    i, j = anchor
    following = j + 1
    # Stable words after the anchor that the hypothesis spells alike ("walk" -> "walked") were
    # heard again, differently: their new spelling is not shown a second time.
    for stale in old_words[i + 1:]:
        if following < len(new) and _alike(stale, new_words[following]):
            following += 1
        else:
            break
    return slice(new[following][1] if following < len(new) else len(tokens), None)


def _alike(a: str, b: str) -> bool:
    """Two spellings of one heard word ("walk", "walked"): at least half their letters in common."""
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= _ALIKE_RATIO


def _anchor(old: list[str], new: list[str]) -> tuple[int, int] | None:
    """``(i, j)``: the last stable word ``old[i]`` that lines up with a hypothesis word ``new[j]``.

    Each pair of equal words ``old[i] == new[j]`` is scored by the words that line up up to
    it (a longest common subsequence ending there) less the stable words after it; the best
    wins, the earliest ``j`` on a tie; a pair more than :data:`_MAX_SHIFT_WORDS` apart is
    not the same word heard again (both hypotheses read the same audio from its start: a
    stable "A" is not the "a" of "The children built a sandcastle"). Going on right after
    the anchor never skips a word the new hypothesis adds. Less than half the stable words
    lined up is no evidence, and gives None.
    """
    if not old or not new:
        return None
    upto = [[0] * (len(new) + 1) for _ in range(len(old) + 1)]   # LCS of old[:i], new[:j]
    best: tuple[int, int, int] | None = None                       # (score, -j, i)
    for i, a in enumerate(old):
        for j, b in enumerate(new):
            if a == b:
                upto[i + 1][j + 1] = upto[i][j] + 1
                key = (upto[i + 1][j + 1] - (len(old) - 1 - i), -j, i)
                if abs(j - i) <= _MAX_SHIFT_WORDS and (best is None or key > best):
                    best = key
            else:
                upto[i + 1][j + 1] = max(upto[i][j + 1], upto[i + 1][j])
    if best is None or 2 * upto[-1][-1] < len(old):
        return None
    return best[2], -best[1]


def _words(tokens: Sequence[Token]) -> list[tuple[str, int]]:
    """``(word, index of its first token)`` for each word of ``tokens``, lower case, letters and
    digits only (punctuation-only words are left out). Whisper's tokens that start a word
    carry its leading space."""
    words: list[tuple[str, int]] = []
    current, first = "", 0
    for i, token in enumerate(tokens):
        if i == 0 or _word_starts(tokens, i):
            if current:
                words.append((current, first))
            current, first = "", i
        current += "".join(c for c in token.text.lower() if c.isalnum())
    if current:
        words.append((current, first))
    return words


def _texts(stable: list[Token], tail: list[Token]) -> tuple[str, str, str]:
    """Join token texts (whisper tokens carry their leading space) and trim the outer whitespace."""
    stable_raw = "".join(t.text for t in stable)
    full = stable_raw + "".join(t.text for t in tail)
    text = full.strip()
    lead = len(full) - len(full.lstrip())
    cut = max(0, len(stable_raw) - lead)
    return text, text[:cut], text[cut:]
