"""Phrase-cache speed and accuracy without asv.

Run: python benchmarks cache [--archs tiny.en,base.en] [--threads 2] [--phrases 8]

Prints
  - fingerprinting x real time (baseline: the same log-mel frames with numpy.fft);
  - the fingerprint stage on the espeak-ng set (:mod:`lumina.evaluation.phrases`): how often
    a re-take finds its phrase, and candidates found for confusables (calibration set;
    minimal pairs);
  - lookup p50/p99 at 10/100/1,000/10,000 entries (baseline: a linear scan, no prefilter);
  - a put followed by a lookup with the index kept current, against the old rebuild of the
    index on the first lookup after a put;
  - per model shape (random weights, real whisper.cpp): seconds per exact hit, per verified
    hit, per rejected candidate and per model run, interleaved, medians (cache.py section).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

import lumina.evaluation.phrases as su
from benchmarks._helpers import SPEECH_DIR, median_time
from lumina import PhraseCache
from lumina.cache import fingerprint


def voice(seed: int, seconds: float) -> np.ndarray:
    """A synthetic voiced signal whose pitch, harmonics and syllable rate follow ``seed``.

    Unlike :func:`lumina.testing.speechlike` (one voice; a seed changes only its faint
    noise), each seed sounds different, so a cache filled with them holds distinct phrases.
    """
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
        queries.append(fingerprint(voice(10**6 + i, 0.6 + (i % 15) * 0.1)))
    print(f"{'entries':>8} {'lookup p50 ms':>14} {'lookup p99 ms':>14} {'get p50 ms':>11} "
          f"{'scan p50 ms':>12} {'hits':>5}")
    fill = fill_fingerprints(bank, 10000)
    for size in (10, 100, 1000, 10000):
        cache = PhraseCache(max_entries=size, max_bytes=2**31)
        for name, fp in fill[:size]:
            cache._insert(cache._key("k"), fp, name, persist=False)
        times, hits = [], 0
        for _ in range(3):
            for q in queries:
                t0 = time.perf_counter()
                hits += cache.match(q, "k").kind != "miss"
                times.append(time.perf_counter() - t0)
        audio = bank.at_16k(su.PHRASES[0], su.VOICES[0], speed=168)
        get = median_time(lambda: cache.get(audio, "k"), 9)
        fps = [fp for _, fp in fill[:min(size, 300)]]
        scan = median_time(lambda: [queries[25].similarity(f) for f in fps], 3) * (size / len(fps))
        print(f"{size:>8} {np.median(times) * 1e3:>14.3f} {np.percentile(times, 99) * 1e3:>14.3f} "
              f"{get * 1e3:>11.3f} {scan * 1e3:>12.3f} {hits // 3:>5}")


def accuracy(bank: su.SpeechBank) -> tuple[float, float]:
    """Fingerprint stage: (rate at which re-takes find their phrase, rate at which the
    calibration confusables find any candidate) on the test set of tests/_speech_util."""
    cache = PhraseCache()
    key = "k"
    for i, phrase in enumerate(su.PHRASES):
        cache.put(bank.at_16k(phrase, su.VOICES[i % 4]), key, phrase)
    results = [cache.match(t.audio, key, sample_rate=t.sr).text == phrase
               for i, phrase in enumerate(su.PHRASES)
               for t in su.retakes(bank, phrase, su.VOICES[i % 4], seed=i)]
    conf = [cache.match(a, key).kind != "miss" for _, a in su.confusables(bank)]
    return sum(results) / len(results), sum(conf) / len(conf)


def pair_candidates(bank: su.SpeechBank) -> tuple[int, int]:
    """Fingerprint stage on the minimal pairs: (false candidates, takes asked), both directions."""
    false = asked = 0
    for direction in (0, 1):
        cached, other = su.pair_sides(direction)
        cache = PhraseCache()
        for phrase in cached:
            for voice in su.VOICES:
                cache.put(bank.at_16k(phrase, voice), "k", phrase)
        for _, phrase, take in su.pair_takes(bank, other):
            asked += 1
            false += cache.match(take.audio, "k", sample_rate=take.sr).text not in (None, phrase)
    return false, asked


def put_then_lookup(bank: su.SpeechBank) -> None:
    """What a put costs the index: kept current by the put (now) vs dropped by the put and
    rebuilt, sorted and stacked, by the next lookup (before, emulated: today's put plus the
    old rebuild, so it overstates the old cost by the "now" column). Interleaved, medians;
    the lookup itself is the same in both and timed apart."""
    fill = fill_fingerprints(bank, 10000)
    query = fingerprint(bank.at_16k(su.PHRASES[3], su.VOICES[3], speed=168, pitch=52))
    print(f"{'entries':>8} {'put ms (now)':>13} {'put+rebuild ms (before)':>24} {'next lookup ms':>15}")
    for size in (1000, 10000):
        cache = PhraseCache(max_entries=size + 100, max_bytes=2**31)
        for name, fp in fill[:size]:
            cache.put(fp, "k", name)
        extra = iter(fill[size - 60:size])  # re-puts: the entry count stays the same
        now, before, lookup = [], [], []
        for _ in range(15):
            name, fp = next(extra)
            t0 = time.perf_counter()
            cache.put(fp, "k", name)
            now.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            cache.match(query, "k")
            lookup.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            cache.put(fp, "k", name)
            entries = sorted(cache._entries.values(), key=lambda e: e.fp.duration)  # the old rebuild
            np.array([e.fp.duration for e in entries]), np.stack([e.fp.summary for e in entries])
            before.append(time.perf_counter() - t0)
        print(f"{size:>8} {statistics.median(now) * 1e3:>13.3f} {statistics.median(before) * 1e3:>24.3f} "
              f"{statistics.median(lookup) * 1e3:>15.3f}")


def main(argv: list[str] | None = None) -> int | None:
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--archs", default="tiny.en,base.en")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--phrases", type=int, default=8)
    args = parser.parse_args(argv)
    x = voice(0, 3.0)
    t_fp = median_time(lambda: fingerprint(x), 15)
    t_np = median_time(lambda: numpy_logmel(x), 15)
    print(f"fingerprint 3 s audio: lumina {t_fp * 1e3:.3f} ms ({3.0 / t_fp:.0f}x real time); "
          f"numpy log-mel only {t_np * 1e3:.3f} ms ({3.0 / t_np:.0f}x)")
    bank = su.SpeechBank(SPEECH_DIR)
    hit, false = accuracy(bank)
    pairs_false, pairs_asked = pair_candidates(bank)
    print(f"fingerprint stage: re-takes find their phrase {hit:.3f}; calibration confusables "
          f"with a candidate {false:.3f}; minimal-pair takes with another phrase's candidate "
          f"{pairs_false}/{pairs_asked}")
    # What the engine makes of these candidates (verified hits, refused false candidates, the
    # unsafe option's wrong Finals) is asserted by tests/test_cache_eval.py.
    lookup_table(bank)
    put_then_lookup(bank)
    from benchmarks.compare_cache_engine import timings_table
    for arch in args.archs.split(","):
        timings_table(bank, arch, args.threads, args.phrases)

