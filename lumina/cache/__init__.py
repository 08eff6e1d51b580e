"""Cache layer: audio fingerprints and the phrase cache that answers repeated phrases.

Imports the compiled core and sqlite3; knows nothing of the recognition layer's internals.
"""

from lumina.cache.fingerprints import Fingerprint, fingerprint
from lumina.cache.phrase_cache import DEFAULT_THRESHOLD, UNVERIFIED_THRESHOLD, CacheWarning, PhraseCache
from lumina.cache.results import CacheMatch, CacheStats

__all__ = ["CacheMatch", "CacheStats", "CacheWarning", "DEFAULT_THRESHOLD", "Fingerprint",
           "PhraseCache", "UNVERIFIED_THRESHOLD", "fingerprint"]
