"""asv: phrase fingerprinting speed and lookup time against cache size (baselines included)."""


from lumina import PhraseCache, fingerprint

from ._profile import by_profile
from .compare_cache import SPEECH_DIR, accuracy, numpy_logmel, speechlike, su


class Fingerprinting:
    params = by_profile([1.0, 3.0], ci=[1.0])
    param_names = ["seconds"]

    def setup(self, seconds):
        self.x = speechlike(0, seconds)

    def time_fingerprint(self, seconds):
        fingerprint(self.x)

    def time_baseline_numpy_logmel(self, seconds):
        numpy_logmel(self.x)

    def track_x_real_time(self, seconds):
        import time
        t0 = time.perf_counter()
        for _ in range(10):
            fingerprint(self.x)
        return seconds * 10 / (time.perf_counter() - t0)


class Lookup:
    params = by_profile([10, 100, 1000, 10000], ci=[10, 1000])
    param_names = ["entries"]
    timeout = 600

    def setup(self, entries):
        self.cache = PhraseCache(max_entries=entries, max_bytes=2**31)
        self.clips = [speechlike(s, 0.6 + (s % 25) * 0.1) for s in range(entries)]
        for s, clip in enumerate(self.clips):
            self.cache.put(clip, "k", f"phrase {s}")
        self.query = speechlike(10**6, 1.5)
        self.qf = fingerprint(self.query)
        self.fps = [fingerprint(c) for c in self.clips[:100]]

    def time_get_miss(self, entries):
        self.cache.get(self.query, "k")

    def time_get_exact_hit(self, entries):
        self.cache.get(self.clips[0], "k")

    def time_baseline_scan_100(self, entries):
        for f in self.fps:
            self.qf.similarity(f)


class Accuracy:
    """Re-take hit rate and confusable false-hit rate on the espeak-ng test set."""

    timeout = 600

    def setup_cache(self):
        """Both rates from one evaluation (asv runs each track in its own process)."""
        return accuracy(su.SpeechBank(SPEECH_DIR))

    def track_retake_hit_rate(self, rates):
        return rates[0]

    def track_confusable_false_hit_rate(self, rates):
        return rates[1]
