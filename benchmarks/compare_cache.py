"""Phrase-cache speed and accuracy without asv.

Run: PYTHONPATH=.:tests python benchmarks/compare_cache.py

Prints fingerprinting x real time (baseline: the same log-mel frames with numpy.fft), lookup
p50/p99 at 10/100/1,000/10,000 entries filled with fingerprints of real espeak-ng phrases and
perturbed variants of them (baseline: a linear scan calling Fingerprint.similarity on every
entry, no prefilter), and the re-take hit rate and confusable false-hit rate.
"""

from __future__ import annotations

import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np

from lumina import PhraseCache, fingerprint

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
import _speech_util as su  # noqa: E402

SPEECH_DIR = pathlib.Path(tempfile.gettempdir()) / "lumina-bench-speech"


def speechlike(seed: int, seconds: float) -> np.ndarray:
    """A synthetic voiced signal (harmonics under a syllable-rate envelope)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    env = np.abs(np.sin(2 * np.pi * rng.uniform(2, 5) * t)) ** 2
    f0 = rng.uniform(90, 220)
    x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 12))
    return (0.1 * env * x + 0.003 * rng.standard_normal(n)).astype(np.float32)


def numpy_logmel(x: np.ndarray) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(x, 400)[::160] * np.hanning(400)
    power = np.abs(np.fft.rfft(frames, 512)) ** 2
    fb = np.random.default_rng(0).random((257, 24))  # the cost, not the values, matters here
    return np.log(power @ fb + 1e-12)


def median_time(fn, repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fill_fingerprints(bank: su.SpeechBank, size: int) -> list[tuple[str, object]]:
    """``size`` (text, fingerprint) pairs: every phrase and near miss in every voice at
    three speeds and two pitches, then gain/noise/padding variants of those."""
    texts = su.PHRASES + su.NEAR_MISSES
    base = []
    for speed in (160, 175, 190):
        for pitch in (40, 60):
            for voice in su.VOICES:
                for text in texts:
                    base.append((f"{text} [{voice} {speed} {pitch}]", (text, voice, speed, pitch)))
                    if len(base) >= size:
                        break
    out, k = [], 0
    while len(out) < size:
        name, (text, voice, speed, pitch) = base[k % len(base)]
        audio = bank.at_16k(text, voice, speed, pitch)
        variant = k // len(base)
        if variant:
            audio = su.add_noise(su.gain(audio, -3.0 * variant), 30.0, seed=k)
        out.append((f"{name} v{variant}", fingerprint(audio)))
        k += 1
    return out


def lookup_table(bank: su.SpeechBank) -> None:
    queries = []
    for i, phrase in enumerate(su.PHRASES[:20]):   # re-takes of entries (hits and near hits)
        queries.append(fingerprint(bank.at_16k(phrase, su.VOICES[i % 4], speed=168, pitch=52)))
    for i in range(20):                            # misses: phrases no entry holds
        queries.append(fingerprint(speechlike(10**6 + i, 0.6 + (i % 15) * 0.1)))
    print(f"{'entries':>8} {'lookup p50 ms':>14} {'lookup p99 ms':>14} {'get p50 ms':>11} "
          f"{'scan p50 ms':>12} {'hits':>5}")
    fill = fill_fingerprints(bank, 10000)
    for size in (10, 100, 1000, 10000):
        cache = PhraseCache(max_entries=size, max_bytes=2**31)
        for name, fp in fill[:size]:
            cache._insert(cache._key("k"), fp, name, persist=False)
        cache.lookup(queries[0], "k")  # builds the index outside the timing
        times, hits = [], 0
        for _ in range(3):
            for q in queries:
                t0 = time.perf_counter()
                hits += cache.lookup(q, "k") is not None
                times.append(time.perf_counter() - t0)
        audio = bank.at_16k(su.PHRASES[0], su.VOICES[0], speed=168)
        get = median_time(lambda: cache.get(audio, "k"), 9)
        fps = [fp for _, fp in fill[:min(size, 300)]]
        scan = median_time(lambda: [queries[25].similarity(f) for f in fps], 3) * (size / len(fps))
        print(f"{size:>8} {np.median(times) * 1e3:>14.3f} {np.percentile(times, 99) * 1e3:>14.3f} "
              f"{get * 1e3:>11.3f} {scan * 1e3:>12.3f} {hits // 3:>5}")


def accuracy(bank: su.SpeechBank) -> tuple[float, float]:
    """(re-take hit rate, confusable false-hit rate) on the test set of tests/_speech_util."""
    cache = PhraseCache()
    key = "k"
    for i, phrase in enumerate(su.PHRASES):
        cache.put(bank.at_16k(phrase, su.VOICES[i % 4]), key, phrase)
    results = [cache.get(t.audio, key, sr=t.sr) == phrase
               for i, phrase in enumerate(su.PHRASES)
               for t in su.retakes(bank, phrase, su.VOICES[i % 4], seed=i)]
    conf = [cache.get(a, key) is not None for _, a in su.confusables(bank)]
    return sum(results) / len(results), sum(conf) / len(conf)


def main() -> None:
    x = speechlike(0, 3.0)
    t_fp = median_time(lambda: fingerprint(x))
    t_np = median_time(lambda: numpy_logmel(x))
    print(f"fingerprint 3 s audio: lumina {t_fp * 1e3:.3f} ms ({3.0 / t_fp:.0f}x real time); "
          f"numpy log-mel only {t_np * 1e3:.3f} ms ({3.0 / t_np:.0f}x)")
    bank = su.SpeechBank(SPEECH_DIR)
    hit, false = accuracy(bank)
    print(f"re-take hit rate {hit:.3f}; confusable false-hit rate {false:.3f}")
    lookup_table(bank)


if __name__ == "__main__":
    main()
