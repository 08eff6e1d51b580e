"""``model="auto"``: the choice for a fixed cost model, and the cached measurement of the machine."""

from __future__ import annotations

import dataclasses
import json

import pytest
from _choice_util import KEY, fixed_cost_model, no_bundled, random_models, store  # noqa: F401 (fixtures)

from lumina import ArgumentError, choose_model
from lumina.asr.choice import probe
from lumina.asr.choice.candidates import Candidate
from lumina.asr.choice.choose import choose
from lumina.asr.choice.cost_model import ARCHITECTURES, CostModel
from lumina.asr.choice.jobs import JOBS, resolve_budget

COST = fixed_cost_model()


def _candidate(name, arch, quant, english, installed=True):
    return Candidate(name, arch, quant, english, installed, 1 << 20, ARCHITECTURES[arch])


# Dictation (1500 frames, 16 steps) costs 1650 * layers * k: tiny f16 0.66 s, tiny q5_1 0.594 s,
# base f16 1.485 s, base q5_1 1.3365 s, base q8_0 1.188 s, small f16 5.94 s.
CANDIDATES = [
    _candidate("tiny.en", "tiny", "f16", True), _candidate("tiny.en-q5_1", "tiny", "q5_1", True),
    _candidate("base.en", "base", "f16", True), _candidate("base-q8_0", "base", "q8_0", False),
    _candidate("base.en-q5_1", "base", "q5_1", True, installed=False),
    _candidate("small.en", "small", "f16", True, installed=False),
]


def _pick(budget, job="dictation", allow_download=False, candidates=CANDIDATES):
    return choose(candidates, JOBS[job], budget, lambda needed: COST, allow_download=allow_download).name


@pytest.mark.parametrize("budget, allow_download, expected", [
    (10.0, False, "base.en"),         # small.en fits but is not installed
    (10.0, True, "small.en"),         # ... and is the pick when downloads are allowed
    (1.5, False, "base.en"),          # 1.485 s
    (1.4, False, "base-q8_0"),        # base.en misses; base.en-q5_1 fits but is not installed
    (1.4, True, "base.en-q5_1"),      # .en beats multilingual at the same size
    (1.0, False, "tiny.en"),          # 0.66 s
    (0.6, False, "tiny.en-q5_1"),     # tiny.en f16 (0.66 s) misses, q5_1 (0.594 s) fits
    (0.5, False, None),
])
def test_the_most_accurate_candidate_within_the_budget(budget, allow_download, expected):
    assert _pick(budget, allow_download=allow_download) == expected


def test_ties_larger_then_english_then_f16():
    # Both tiny.en and base-q8_0 fit 1.2 s: the larger wins, even multilingual and quantized.
    assert _pick(1.2) == "base-q8_0"
    # tiny.en f16 and tiny.en-q5_1 both fit 1 s: f16 wins.
    assert _pick(1.0, candidates=CANDIDATES[:2]) == "tiny.en"
    # The same size and storage: English-only beats multilingual for English only.
    pair = [_candidate("base", "base", "f16", False), _candidate("base.en", "base", "f16", True)]
    assert _pick(2.0, candidates=pair) == "base.en"
    assert choose([pair[0]], JOBS["dictation"], 2.0, lambda n: COST, allow_download=False,
                  language="de").name == "base"


def test_a_short_command_gets_a_larger_model_than_dictation_in_the_same_budget():
    # 300 ms: a 2 s command on the fast path fits base.en (284 ms); a dictated Final fits nothing.
    assert _pick(0.3, job="command") == "base.en"
    assert _pick(0.3, job="dictation") is None
    assert _pick(0.12, job="command") == "tiny.en-q5_1"


def test_the_estimates_list_every_candidate_most_accurate_first():
    choice = choose(CANDIDATES, JOBS["dictation"], 1.0, lambda n: COST, allow_download=False)
    assert [(e.candidate.name, round(e.seconds, 4), e.fits) for e in choice.estimates] == [
        ("small.en", 5.94, False), ("base.en", 1.485, False), ("base.en-q5_1", 1.3365, False),
        ("base-q8_0", 1.188, False), ("tiny.en", 0.66, True), ("tiny.en-q5_1", 0.594, True)]
    assert choice.reason == ("tiny.en: the most accurate installed model predicted within 1000 ms "
                             "(660 ms) for the Final of a 5 s dictated sentence, accurate path")
    assert (choice.predicted, choice.download, choice.explicit) == (pytest.approx(0.66), False, False)


def test_unmeasured_families_are_bounded_by_smaller_ones_and_not_measured():
    asked = []
    only_tiny = fixed_cost_model(families=["tiny"])

    def costs(needed):
        asked.append(sorted(needed))
        return only_tiny

    choice = choose(CANDIDATES, JOBS["dictation"], 0.7, costs, allow_download=True)
    assert asked == [["tiny/f16", "tiny/q5_1"]]  # base and small are bounded by tiny's blocks
    assert [(e.candidate.name, e.seconds, e.fits, e.note) for e in choice.estimates[:4]] == [
        ("small.en", None, False, "> 1980 ms (bound from tiny blocks)"),
        ("base.en", None, False, "> 990 ms (bound from tiny blocks)"),
        ("base.en-q5_1", None, False, "> 891 ms (bound from tiny blocks)"),
        ("base-q8_0", None, False, "> 792 ms (bound from tiny blocks)")]
    assert choice.name == "tiny.en"


def test_offline_nothing_installed_fits_names_what_would_if_downloaded(store):
    choice = choose_model(0.6, store=store, cost_model=COST)
    assert choice.name is None
    assert choice.reason == (
        "no installed model is predicted to transcribe the Final of a 5 s dictated sentence, "
        "accurate path within 600 ms on this machine (fastest installed: tiny-mine, 660 ms); "
        "would fit if downloaded: tiny.en-q5_1 (~28 MiB), tiny-q8_0 (~40 MiB), tiny-q5_1 (~28 MiB) "
        "(lumina models download tiny.en-q5_1, or Engine(..., download=True))")
    assert [c.name for c in choice.would_fit_if_downloaded()] == ["tiny.en-q5_1", "tiny-q8_0", "tiny-q5_1"]


def test_an_installed_pick_mentions_better_downloads(store):
    choice = choose_model("interactive", store=store, cost_model=COST)
    assert choice.name == "tiny-mine"
    assert choice.reason.endswith("; more accurate if downloaded: base.en (~142 MiB), base.en-q5_1 "
                                  "(~53 MiB), base (~142 MiB) (lumina models download base.en)")


def test_an_explicit_model_always_wins(store):
    choice = choose_model(0.001, model="tiny-mine", store=store, cost_model=COST)
    assert (choice.name, choice.explicit, choice.estimates) == ("tiny-mine", True, ())
    assert choice.reason == ("tiny-mine: chosen by the caller (an explicit model always wins over a "
                             "latency budget); predicted 660 ms, over 1 ms")
    assert choose_model(0.001, model="auto", store=store, cost_model=COST).name is None


@pytest.mark.parametrize("latency, job, message", [
    ("fast", None, "unknown latency preset 'fast'"),
    (0, None, "latency must be a preset"),
    (float("nan"), None, "latency must be a preset"),
    (True, None, "latency must be a preset"),
    (1.0, "speech", "unknown job 'speech'"),
    ("interactive", "file", "latency='interactive' is a budget for the 'command' job"),
])
def test_bad_budgets_are_argument_errors(latency, job, message):
    with pytest.raises(ArgumentError, match=message):
        resolve_budget(latency, job)


def test_presets():
    assert [(resolve_budget(p)[0].name, resolve_budget(p)[1]) for p in ("interactive", "dictation", "batch")] == [
        ("command", 0.3), ("dictation", 1.0), ("file", 0.5)]
    assert resolve_budget(0.25, "partial") == (JOBS["partial"], 0.25)


# --------------------------------------------------------------------------- the cache

def test_a_saved_cost_model_reads_back_equal(store):
    path = probe.save_cost_model(store, COST)
    assert path == store.root / "cost-models" / f"{KEY.digest()}.json"
    assert probe.load_cost_model(store, KEY) == COST
    assert CostModel.from_json(json.loads(path.read_text())) == COST


def test_a_changed_key_measures_again_and_keeps_the_old_file(store, monkeypatch):
    probe.save_cost_model(store, COST)
    measured = []

    def fake_probe(family, quant, **kwargs):
        measured.append((family, quant, kwargs["threads"]))
        return COST.blocks[f"{family}/{quant}"]

    monkeypatch.setattr(probe, "probe_block", fake_probe)
    for change in ({"lumina": "0.1"}, {"threads": 1}, {"backend": "pywhispercpp 0.1; test build"},
                   {"cpu": "Other CPU"}, {"device": "gpu:cuda"}):
        key = dataclasses.replace(KEY, **change)
        assert probe.load_cost_model(store, key) is None
        model = probe.ensure_measured(store, key, {"tiny/f16"})
        assert model.key == key and dict(model.blocks) == {"tiny/f16": COST.blocks["tiny/f16"]}
        assert probe.load_cost_model(store, key) == model
    assert [m[:2] for m in measured] == [("tiny", "f16")] * 5
    assert measured[1][2] == 1  # the key's threads are the probe's
    assert probe.load_cost_model(store, KEY) == COST  # the old key's file is still there


def test_a_file_holding_another_key_is_not_used(store):
    path = probe.save_cost_model(store, COST)
    data = json.loads(path.read_text())
    data["key"]["lumina"] = "9.9"
    path.write_text(json.dumps(data))
    assert probe.load_cost_model(store, KEY) is None
    path.write_text("{not json")
    assert probe.load_cost_model(store, KEY) is None


def test_new_blocks_are_added_to_the_cached_model(store, monkeypatch):
    monkeypatch.setattr(probe, "probe_block", lambda family, quant, **kw: COST.blocks[f"{family}/{quant}"])
    probe.ensure_measured(store, KEY, {"tiny/f16"})
    model = probe.ensure_measured(store, KEY, {"base/q8_0"})
    assert sorted(model.blocks) == ["base/q8_0", "tiny/f16"]


@pytest.mark.slow
def test_the_probe_runs_once_and_is_cached(store, monkeypatch):
    key = probe.machine_key(1, "cpu")
    first = probe.ensure_measured(store, key, {"tiny/q8_0"})
    block = first.blocks["tiny/q8_0"]
    assert block.depth == 4 and len(block.encode) == 3
    assert all(len(row) == 3 and min(row) > 0 for row in block.encode)
    assert block.probe_seconds > 0

    def no_probe(*args, **kwargs):
        raise AssertionError("measured again")

    monkeypatch.setattr(probe, "probe_block", no_probe)
    assert probe.ensure_measured(store, key, {"tiny/q8_0"}) == first
    assert probe.load_cost_model(store, key) == first


def test_a_gpu_key_names_the_backends_and_the_gpu(monkeypatch):
    import subprocess

    monkeypatch.setattr(probe, "compiled_gpu_backends", lambda: ["cuda"])
    done = subprocess.CompletedProcess([], 0, stdout="NVIDIA H100 80GB HBM3\n", stderr="")
    monkeypatch.setattr(probe.subprocess, "run", lambda *a, **kw: done)
    assert probe._gpu_text() == "gpu:cuda (NVIDIA H100 80GB HBM3)"

    def missing(*args, **kwargs):
        raise FileNotFoundError("nvidia-smi")

    monkeypatch.setattr(probe.subprocess, "run", missing)
    assert probe._gpu_text() == "gpu:cuda"
