"""Word error rate after OpenAI's English text normaliser, for every contender alike.

The normaliser (``whisper-normalizer``'s ``EnglishTextNormalizer``, the one
Whisper's own evaluations use) lowercases, drops punctuation, writes numbers
as digits and unifies British and American spellings, so "forty five dollars"
and "$45" are the same words. ``jiwer`` then aligns reference and hypothesis.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

from lumina.errors import ArgumentError, MissingDependencyError

__all__ = ["WordErrors", "normalise", "word_errors"]


@functools.cache
def _normaliser():
    try:
        from whisper_normalizer.english import EnglishTextNormalizer
    except ImportError:
        raise MissingDependencyError("word error rates need whisper-normalizer and jiwer: "
                                     "pip install 'lumina[eval]'") from None
    return EnglishTextNormalizer()


def normalise(text: str) -> str:
    """``text`` as the word error rate compares it (lowercase, no punctuation, digits...).

    A token without a letter or digit is dropped: OpenAI's normaliser leaves the "." of a
    trailing "..." standing alone ("Maybe..." -> "maybe ."), which would count as a word.
    """
    return " ".join(w for w in _normaliser()(text).split() if any(c.isalnum() for c in w))


@dataclasses.dataclass(frozen=True)
class WordErrors:
    """Substitutions, deletions and insertions against a reference of ``words`` words."""

    substitutions: int
    deletions: int
    insertions: int
    words: int

    @property
    def errors(self) -> int:
        """All word errors."""
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Word error rate (0.0 for an empty reference with an empty hypothesis)."""
        if self.words == 0:
            return 0.0 if self.insertions == 0 else float("inf")
        return self.errors / self.words

    def __add__(self, other: WordErrors) -> WordErrors:
        return WordErrors(self.substitutions + other.substitutions, self.deletions + other.deletions,
                          self.insertions + other.insertions, self.words + other.words)


def word_errors(references: Sequence[str] | str, hypotheses: Sequence[str] | str) -> WordErrors:
    """Word errors of ``hypotheses`` against ``references`` (one string each, or equal-length lists)."""
    if isinstance(references, str):
        references, hypotheses = [references], [hypotheses]
    if len(references) != len(hypotheses):
        raise ArgumentError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    try:
        import jiwer
    except ImportError:
        raise MissingDependencyError("word error rates need jiwer: pip install 'lumina[eval]'") from None
    total = WordErrors(0, 0, 0, 0)
    for ref, hyp in zip(references, hypotheses):
        ref_n, hyp_n = normalise(ref), normalise(hyp)
        if not ref_n:
            total += WordErrors(0, 0, len(hyp_n.split()), 0)
            continue
        if not hyp_n:
            total += WordErrors(0, len(ref_n.split()), 0, len(ref_n.split()))
            continue
        out = jiwer.process_words(ref_n, hyp_n)
        total += WordErrors(out.substitutions, out.deletions, out.insertions, len(ref_n.split()))
    return total
