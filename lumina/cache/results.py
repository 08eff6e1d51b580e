"""What the phrase cache hands back: the result of a match and its counters."""

from __future__ import annotations

import dataclasses

from lumina._core.fingerprint import Fingerprint

__all__ = ["CacheMatch", "CacheStats"]


@dataclasses.dataclass(frozen=True)
class CacheStats:
    """Counters of a :class:`PhraseCache` since it was made (or last cleared).

    Attributes
    ----------
    entries, bytes : int
        Entries held and the memory they account for.
    lookups, exact_hits, fuzzy_hits, misses : int
        ``lookups == exact_hits + fuzzy_hits + misses``. ``fuzzy_hits`` counts fuzzy
        candidates found (:meth:`PhraseCache.match`), whether or not a caller then accepted them.
    mean_lookup_s, p99_lookup_s : float
        Lookup time in seconds, fingerprinting included (0.0 before the first lookup).
    """

    entries: int
    bytes: int
    lookups: int
    exact_hits: int
    fuzzy_hits: int
    misses: int
    mean_lookup_s: float
    p99_lookup_s: float


@dataclasses.dataclass(frozen=True)
class CacheMatch:
    """What :meth:`PhraseCache.match` found for one phrase.

    Attributes
    ----------
    kind : {"exact", "fuzzy", "miss"}
        ``"exact"``: bit-identical canonical audio was stored under the key; ``text`` is
        its transcript. ``"fuzzy"``: similar audio was; ``text`` is a *candidate* that the
        caller must confirm before showing it as the transcript of this audio (similar
        sound is not the same words). ``"miss"``: nothing usable; ``text`` is None.
    text : str or None
        The stored text of the matched entry.
    similarity : float
        1.0 for an exact hit, the alignment score for a fuzzy one, 0.0 for a miss.
    fingerprint : Fingerprint
        The query's fingerprint: pass it to :meth:`PhraseCache.put` in place of the audio
        to store this phrase's transcript without analysing the audio a second time.
    """

    kind: str
    text: str | None
    similarity: float
    fingerprint: Fingerprint
