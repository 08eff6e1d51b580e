import dataclasses
import os
import sqlite3
import stat
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumina import ArgumentError, AudioFormatError, CacheStats, PhraseCache
from lumina.cache import fingerprint
from lumina.cache.phrase_cache import (DEFAULT_THRESHOLD, UNVERIFIED_THRESHOLD, CacheWarning,
                                       canonical_key)


def tone(seed: int, seconds: float = 0.6) -> np.ndarray:
    """A distinct chirp-like signal per seed (unrelated seeds never match fuzzily)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    f = rng.uniform(200, 1500, size=3)
    x = sum(np.sin(2 * np.pi * (fi + 400 * k * t) * t) for k, fi in enumerate(f))
    return (0.1 * x + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def test_identical_audio_is_an_exact_hit_and_counts():
    cache = PhraseCache()
    cache.put(tone(1), "m", "one")
    assert cache.get(tone(1), "m") == "one"
    assert cache.get(tone(2), "m") is None
    s = cache.stats()
    assert isinstance(s, CacheStats)
    assert (s.entries, s.lookups, s.exact_hits, s.fuzzy_hits, s.misses) == (1, 2, 1, 0, 1)
    assert s.mean_lookup_s > 0.0 and s.p99_lookup_s >= s.mean_lookup_s * 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.lookups = 3  # type: ignore[misc]


def test_entries_under_another_key_never_match():
    cache = PhraseCache()
    cache.put(tone(1), ("tiny.en", "abc123", "en"), "one")
    assert cache.get(tone(1), ("tiny.en", "abc123", "de")) is None
    assert cache.get(tone(1), "tiny.en") is None
    assert cache.get(tone(1), ("tiny.en", "abc123", "en")) == "one"


def test_keys_one_one_point_zero_and_true_are_distinct():
    assert len({canonical_key(1), canonical_key(1.0), canonical_key(True), canonical_key("1")}) == 4
    cache = PhraseCache()
    cache.put(tone(1), 1, "int")
    assert cache.get(tone(1), True) is None
    assert cache.get(tone(1), 1.0) is None
    assert cache.get(tone(1), 1) == "int"


def test_lru_eviction_order_by_entries():
    cache = PhraseCache(max_entries=3)
    for i in range(3):
        cache.put(tone(i), "k", f"t{i}")
    assert cache.get(tone(0), "k") == "t0"  # t0 becomes most recent
    cache.put(tone(3), "k", "t3")           # evicts t1, the least recently used
    assert [cache.get(tone(i), "k") for i in range(4)] == ["t0", None, "t2", "t3"]
    assert len(cache) == 3


def test_byte_bound_evicts_oldest():
    one = PhraseCache()
    one.put(tone(0), "k", "t0")
    per_entry = one.stats().bytes
    cache = PhraseCache(max_bytes=2 * per_entry + per_entry // 2)
    for i in range(3):
        cache.put(tone(i), "k", f"t{i}")
    assert [cache.get(tone(i), "k") for i in range(3)] == [None, "t1", "t2"]
    assert cache.stats().entries == 2 and cache.stats().bytes == 2 * per_entry


def test_forget_and_clear():
    cache = PhraseCache()
    cache.put(tone(0), "a", "same")
    cache.put(tone(1), "b", "same")
    cache.put(tone(2), "a", "other")
    assert cache.forget("same") == 2
    assert cache.forget("same") == 0
    assert cache.get(tone(0), "a") is None and cache.get(tone(2), "a") == "other"
    cache.clear()
    assert cache.stats() == CacheStats(0, 0, 0, 0, 0, 0, 0.0, 0.0)
    assert cache.get(tone(2), "a") is None


def test_other_rates_and_channels_via_sr_keyword():
    cache = PhraseCache()
    x = tone(5)
    cache.put(x, "k", "five")
    stereo = np.stack([x, x], axis=1)
    assert cache.get(stereo, "k") == "five"  # averaging identical channels: the same samples
    assert cache.stats().exact_hits == 1


def test_bad_input_raises_clear_errors():
    cache = PhraseCache()
    with pytest.raises(AudioFormatError, match=r"sample 0 \(frame 0, channel 0\) is nan; fingerprint\(\) "
                                               "must hold finite samples"):
        cache.get(np.array([np.nan] * 100, dtype=np.float32), "k")
    with pytest.raises(AudioFormatError, match="shape"):
        cache.get(np.zeros((2, 2, 2), dtype=np.float32), "k")
    with pytest.raises(AudioFormatError, match=r"^fingerprint\(\): sample_rate must be between 1 and 1000000 Hz, got 0$"):
        cache.get(tone(0), "k", sample_rate=0)
    with pytest.raises(ArgumentError, match="text must be a str, got bytes"):
        cache.put(tone(0), "k", b"bytes")
    with pytest.raises(ArgumentError, match="key must be hashable: unhashable type: 'list'"):
        cache.get(tone(0), ["unhashable"])
    with pytest.raises(ArgumentError, match="max_entries must be an int >= 1, got 0"):
        PhraseCache(0)
    with pytest.raises(ArgumentError, match="max_bytes must be an int >= 1, got 1.5"):
        PhraseCache(max_bytes=1.5)
    for threshold in (1.5, 0, "x", float("nan")):
        with pytest.raises(ArgumentError, match=r"threshold must be a number in \(0, 1\], got"):
            PhraseCache(threshold=threshold)
    with pytest.raises(ArgumentError, match="fp must be a lumina.cache.Fingerprint, got str"):
        cache.lookup("fp", "k")
    assert PhraseCache().threshold == DEFAULT_THRESHOLD == 0.30
    # A match trusted without the model's check needs the higher, fingerprint-only bar.
    assert PhraseCache(trust_fuzzy_hits_unverified=True).threshold == UNVERIFIED_THRESHOLD == 0.44
    assert PhraseCache(threshold=0.5, trust_fuzzy_hits_unverified=True).threshold == 0.5


def test_persistence_round_trip_and_permissions(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite"
    with PhraseCache(path=path) as first:
        first.put(tone(0), "k", "zero")
        first.put(tone(1), ("m", 1, 2.5, None, True), "one")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    second = PhraseCache(path=path)
    assert second.get(tone(0), "k") == "zero"
    assert second.get(tone(1), ("m", 1, 2.5, None, True)) == "one"
    assert second.stats().exact_hits == 2
    # Only fingerprints and text are stored, never audio.
    cols = [r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(entries)")]
    assert cols == ["key", "exact", "text", "features", "n_frames", "n_feat", "summary", "duration",
                    "wideband", "used"]
    second.forget("zero")
    second.close()
    assert PhraseCache(path=path).get(tone(0), "k") is None


def test_persistent_cache_rejects_unstable_keys(tmp_path):
    cache = PhraseCache(path=tmp_path / "c.sqlite")
    with pytest.raises(ArgumentError, match="persistent cache"):
        cache.put(tone(0), frozenset({"a"}), "x")


def test_lru_order_survives_reopen(tmp_path):
    path = tmp_path / "c.sqlite"
    with PhraseCache(max_entries=2, path=path) as c:
        c.put(tone(0), "k", "t0")
        c.put(tone(1), "k", "t1")
        assert c.get(tone(0), "k") == "t0"
    with PhraseCache(max_entries=2, path=path) as c:
        c.put(tone(2), "k", "t2")  # t1 is the least recently used
        assert [c.get(tone(i), "k") for i in range(3)] == ["t0", None, "t2"]


def test_corrupt_file_warns_and_gives_a_working_empty_cache(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a sqlite database" * 100)
    with pytest.warns(CacheWarning, match="unreadable"):
        cache = PhraseCache(path=path)
    assert len(cache) == 0
    cache.put(tone(0), "k", "zero")
    assert cache.get(tone(0), "k") == "zero"
    cache.close()
    assert PhraseCache(path=path).get(tone(0), "k") == "zero"


def test_thread_safety_counts_every_lookup():
    cache = PhraseCache()
    cache.put(tone(0), "k", "zero")
    x = tone(0)

    def work():
        for _ in range(20):
            assert cache.get(x, "k") == "zero"

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.stats().exact_hits == 80


def test_fingerprint_of_silence_and_empty_audio():
    assert fingerprint(np.zeros(16000, dtype=np.float32)).n_frames == 0
    assert fingerprint(np.zeros(0, dtype=np.float32)).n_frames == 0
    a = fingerprint(np.zeros(16000, dtype=np.float32))
    b = fingerprint(np.zeros(16100, dtype=np.float32))
    assert a.similarity(a) == 1.0 and a.similarity(b) == 0.0


def test_wideband_flag_follows_the_high_band_and_survives_reopen(tmp_path):
    import soxr
    x = tone(7)
    narrow = soxr.resample(soxr.resample(x, 16000, 8000), 8000, 16000).astype(np.float32)
    assert (fingerprint(x).wideband, fingerprint(narrow).wideband) == (True, False)
    path = tmp_path / "c.sqlite"
    with PhraseCache(path=path) as c:
        c.put(x, "k", "wide")
        c.put(narrow, "k", "narrow")
    again = PhraseCache(path=path)
    flags = sorted((e.text, bool(e.fp.wideband)) for e in again._entries.values())
    assert flags == [("narrow", False), ("wide", True)]


def test_old_feature_version_file_is_started_over(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('feature_version', '1')")
    db.execute("CREATE TABLE entries (key TEXT, exact TEXT, text TEXT)")
    db.execute("INSERT INTO entries VALUES ('k', '00', 'stale')")
    db.commit()
    db.close()
    cache = PhraseCache(path=path)
    assert len(cache) == 0
    cache.put(tone(0), "k", "zero")
    cache.close()
    assert PhraseCache(path=path).get(tone(0), "k") == "zero"


def test_lookup_takes_a_fingerprint_and_counts_like_get():
    cache = PhraseCache()
    cache.put(tone(3), "k", "three")
    assert cache.lookup(fingerprint(tone(3)), "k") == "three"
    assert cache.lookup(fingerprint(tone(4)), "k") is None
    s = cache.stats()
    assert (s.lookups, s.exact_hits, s.misses) == (2, 1, 1)
    with pytest.raises(ArgumentError, match="fp must be a lumina.cache.Fingerprint"):
        cache.lookup(tone(3), "k")


def test_sample_rate_of_put_get_and_fingerprint():
    cache = PhraseCache()
    audio48 = np.repeat(tone(0), 3)  # any 48 kHz signal
    cache.put(audio48, "k", "zero", sample_rate=48000)
    assert cache.get(audio48, "k", sample_rate=48000) == "zero"
    assert fingerprint(audio48, sample_rate=48000).exact_key == cache.match(
        audio48, "k", sample_rate=48000).fingerprint.exact_key


# ----------------------------------------------------------------------------- match, one fingerprint

def test_match_tells_exact_fuzzy_and_miss_and_get_answers_exact_only():
    cache = PhraseCache()
    cache.put(tone(1), "k", "one")
    louder = tone(1) * np.float32(1.5)
    exact, fuzzy, miss = cache.match(tone(1), "k"), cache.match(louder, "k"), cache.match(tone(2), "k")
    assert (exact.kind, exact.text, exact.similarity) == ("exact", "one", 1.0)
    assert (fuzzy.kind, fuzzy.text) == ("fuzzy", "one") and DEFAULT_THRESHOLD <= fuzzy.similarity < 1.0
    assert (miss.kind, miss.text, miss.similarity) == ("miss", None, 0.0)
    assert fuzzy.fingerprint.exact_key == fingerprint(louder).exact_key
    assert cache.get(louder, "k") is None and cache.lookup(fingerprint(louder), "k") is None
    s = cache.stats()
    assert (s.lookups, s.exact_hits, s.fuzzy_hits, s.misses) == (5, 1, 1, 3)


def test_trusting_fuzzy_hits_unverified_is_a_named_opt_in():
    cache = PhraseCache(trust_fuzzy_hits_unverified=True)
    cache.put(tone(1), "k", "one")
    assert cache.get(tone(1) * np.float32(1.5), "k") == "one"
    assert PhraseCache().trust_fuzzy_hits_unverified is False
    with pytest.raises(ArgumentError, match="trust_fuzzy_hits_unverified must be True or False, got 1"):
        PhraseCache(trust_fuzzy_hits_unverified=1)


def test_put_takes_the_fingerprint_of_a_match(monkeypatch):
    import lumina.cache.phrase_cache as pc
    calls = []
    monkeypatch.setattr(pc, "fingerprint", lambda *a, **k: calls.append(1) or fingerprint(*a, **k))
    cache = PhraseCache()
    found = cache.match(tone(4), "k")
    cache.put(found.fingerprint, "k", "four")
    assert len(calls) == 1
    assert cache.match(tone(4), "k").kind == "exact" and len(calls) == 2
    assert cache.match(found.fingerprint, "k").text == "four" and len(calls) == 2


# ----------------------------------------------------------------------------- the index

_FPS = {(seed, g): fingerprint(tone(seed, 0.45 + 0.05 * seed) * np.float32(gain))
        for seed in range(5) for g, gain in enumerate((1.0, 0.6, 1.7))}


def _brute_force(cache: PhraseCache, fp, key: str):
    """The best entry of ``key`` by a scan of every entry (the prefilters' rules, then DTW)."""
    from lumina.cache import index as pc
    exact = cache._entries.get((key, fp.exact_key))
    if exact is not None:
        return {exact.text}, 1.0
    if fp.n_frames == 0:
        return set(), 0.0
    scored = []
    for entry in cache._entries.values():
        d = entry.fp.duration
        ratio = pc.MAX_DURATION_RATIO
        if entry.key != key or not fp.duration / ratio <= d < fp.duration * ratio:
            continue
        distance = float(np.sum((entry.fp.summary - fp.summary) ** 2))
        if distance > np.float32(pc.MAX_SUMMARY_DISTANCE ** 2):
            continue
        sim = fp.similarity(entry.fp)
        if sim >= cache.threshold:
            scored.append((sim, entry.text))
    if not scored:
        return set(), 0.0
    best = max(s for s, _ in scored)
    return {t for s, t in scored if s == best}, best


def _check_index(cache: PhraseCache) -> None:
    for key in {e.key for e in cache._entries.values()} | set(cache._index):
        index = cache._index[key]
        own = [e for e in cache._entries.values() if e.key == key]
        assert sorted(map(id, index.entries)) == sorted(map(id, own))
        assert list(index.durations) == sorted(index.durations)
        assert list(index.durations) == [e.fp.duration for e in index.entries]
        np.testing.assert_array_equal(index.summaries, np.array([e.fp.summary for e in index.entries]))


_OPS = st.lists(st.one_of(
    st.tuples(st.just("put"), st.sampled_from(sorted(_FPS)), st.sampled_from("ab"), st.integers(0, 3)),
    st.tuples(st.just("match"), st.sampled_from(sorted(_FPS)), st.sampled_from("ab")),
    st.tuples(st.just("forget"), st.integers(0, 3))), max_size=40)


@settings(max_examples=60, deadline=None)
@given(ops=_OPS, max_entries=st.integers(1, 6))
def test_index_stays_consistent_under_interleaved_put_match_forget_and_eviction(ops, max_entries):
    cache = PhraseCache(max_entries=max_entries)
    for op in ops:
        if op[0] == "put":
            cache.put(_FPS[op[1]], op[2], f"text {op[3]} of {op[1][0]}")
        elif op[0] == "forget":
            cache.forget(f"text {op[1]} of 0")
        else:
            fp = _FPS[op[1]]
            texts, best = _brute_force(cache, fp, op[2])
            found = cache.match(fp, op[2])
            assert (found.text in texts) if texts else found.kind == "miss"
            assert found.similarity == pytest.approx(best, abs=1e-6)
        _check_index(cache)
        assert len(cache) <= max_entries
