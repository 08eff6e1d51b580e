"""What a phrase-cache answer costs in an Engine: exact hit, verified hit, rejected candidate, model run.

Run: python benchmarks cache_engine [--archs tiny.en,base.en] [--threads 2] [--phrases 8]
(``python benchmarks cache`` prints the same table after its other sections).
Random-weight models of the real shapes, real whisper.cpp.
For each phrase, in turn (contenders interleaved): the original (a miss: one accurate model
run), the same audio again (exact hit), a re-take (+4 dB, slower: a fuzzy candidate, verified
by one short greedy decode; where random weights make the short decode's words differ from the
accurate decode's, the entry holds the short decode's words, computed untimed beforehand, so the
timed call does a verified hit's work), and another re-take after the entry's text was replaced by words
the model never decodes (the candidate is rejected: verification plus the accurate run).
Medians of ``Transcript.timings.total``; "check alone" times the verification decode
(:func:`lumina.asr.cached.verify`) of each original, so every phrase gives one.

Random weights decode nearly the same tokens whatever the audio, so on them a verification
agrees far more often than a real model's would; the table prints how often two *different*
phrases' verification decodes have the same words, the reason the safety of the check is
judged with a word-faithful model instead (tests/_oracle_util.py, tests/test_cache_eval.py).
"""

from __future__ import annotations

import itertools
import statistics
import time

import lumina.evaluation.phrases as su
from benchmarks._helpers import SPEECH_DIR, model_path
from lumina import Engine, PhraseCache
from lumina.asr.backend import DecodeOptions
from lumina.asr.cached import verify, words

_NEVER_SAID = "zebra quartz nebula"


def _median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:8.0f}" if values else "       -"


def timings_table(bank: su.SpeechBank, arch: str, threads: int, n_phrases: int) -> None:
    """Print the per-answer costs for one model shape."""
    cache = PhraseCache()
    engine = Engine(model_path(arch), threads=threads, cache=cache)
    engine.wait_ready()
    loaded = engine._loaded()[0]
    # The engine's cache key of a default call (Engine.transcribe: identity, language, prompt,
    # speed, word_timestamps, translate, temperature); checked below against an exact hit.
    key = (loaded.identity, "en", None, "accurate", False, False, 0.0)
    times: dict[str, list[float]] = {"model": [], "exact": [], "verified": [], "rejected": [],
                                     "check": []}
    origins: list[str] = []
    substituted = 0
    checks: list[str] = []
    for i, phrase in enumerate(su.PHRASES[:n_phrases]):
        voice = su.VOICES[i % 4]
        original = bank.at_16k(phrase, voice)
        first = engine.transcribe(original)
        times["model" if first.origin == "model" else first.origin].append(first.timings.total)
        times["exact"].append(engine.transcribe(original).timings.total)
        retake_audio = su.gain(bank.at_16k(phrase, voice, speed=165), 4.0)
        options = DecodeOptions(n_threads=threads, language="en")
        seen = verify(loaded.model, retake_audio, options, first.text)   # untimed
        if seen is not None and not seen.agreed and cache.match(original, key).kind == "exact":
            # Random weights: the short decode's words differ from the accurate decode's, so
            # the check would refuse. Cache the words it reads instead: the timed call then
            # does exactly the work of a verified hit (fingerprint, match, one check).
            cache.put(original, key, seen.text)
            substituted += 1
        retake = engine.transcribe(retake_audio)
        origins.append(retake.origin)
        if retake.origin == "cache-verified":
            times["verified"].append(retake.timings.total)
        if cache.match(original, key).kind != "exact":
            raise SystemExit(f"compare_cache_engine: {key!r} is not the engine's cache key")
        cache.put(original, key, _NEVER_SAID)
        rejected = engine.transcribe(su.gain(bank.at_16k(phrase, voice, speed=185), -3.0))
        if rejected.origin == "model":
            times["rejected"].append(rejected.timings.total)
        started = time.perf_counter()
        check = verify(loaded.model, original, options, phrase)
        times["check"].append(time.perf_counter() - started)
        checks.append(check.text if check else "")
    engine.close()
    same = [words(a) == words(b) for a, b in itertools.combinations(checks, 2)]
    print(f"\n{arch}, {threads} thread(s), {n_phrases} phrases, medians in ms "
          f"(re-takes verified: {origins.count('cache-verified')}/{len(origins)}, "
          f"{substituted} of them against the check's own words, see the code)")
    print(f"{'model run':>10} {'exact hit':>10} {'verified':>10} {'rejected':>10} "
          f"{'check alone':>12} {'check/model':>12}")
    ratio = statistics.median(times["check"]) / statistics.median(times["model"])
    print(f"{_median_ms(times['model']):>10} {_median_ms(times['exact']):>10} "
          f"{_median_ms(times['verified']):>10} {_median_ms(times['rejected']):>10} "
          f"{_median_ms(times['check']):>12} {ratio:>12.3f}")
    print(f"  exact hit p50 {statistics.median(times['exact']) * 1e3:.2f} ms; pairs of different "
          f"phrases whose verification decodes have the same words on these random weights: "
          f"{sum(same)}/{len(same)}")


def main(argv: list[str] | None = None) -> int | None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--archs", default="tiny.en,base.en")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--phrases", type=int, default=8)
    args = parser.parse_args(argv)
    bank = su.SpeechBank(SPEECH_DIR)
    for arch in args.archs.split(","):
        timings_table(bank, arch, args.threads, args.phrases)

