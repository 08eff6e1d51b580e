"""``model="auto"`` in the engine, the stream and ``lumina models recommend``, on a fixed cost model."""

from __future__ import annotations

import numpy as np
import pytest
from _choice_util import fixed_cost_model, no_bundled, random_models, store  # noqa: F401 (fixtures)

import lumina
from lumina import ArgumentError, Engine, ModelNotFoundError, ModelStore
from lumina.apps.cli import main
from lumina.asr.choice import probe
from lumina.asr.threads import default_threads


# --------------------------------------------------------------------------- engine and stream

def _save_for_this_machine(store, threads):
    key = probe.machine_key(threads, "auto")
    probe.save_cost_model(store, fixed_cost_model(key))


def test_engine_auto_loads_the_pick_and_transcripts_name_it(store):
    _save_for_this_machine(store, 1)
    with Engine("auto", latency=1.0, store=store, threads=1) as engine:
        t = engine.transcribe(np.zeros(16000, np.float32) + 0.01)
        assert (engine.model_name, engine.choice.name, t.model) == ("tiny-mine", "tiny-mine", "tiny-mine")
        assert engine.choice.reason.startswith("tiny-mine: the most accurate installed model predicted "
                                               "within 1000 ms (660 ms)")


def test_engine_auto_with_nothing_that_fits_says_what_would(store):
    _save_for_this_machine(store, 1)
    engine = Engine("auto", latency=0.6, store=store, threads=1)
    with pytest.raises(ModelNotFoundError, match=r"model='auto': no installed model .* would fit if "
                                                 r"downloaded: tiny.en-q5_1 \(~28 MiB\)"):
        engine.wait_ready()
    engine.close()


def test_engine_auto_measures_the_installed_models_unless_none_fits(store, monkeypatch):
    cost = fixed_cost_model()
    measured = []

    def fake_probe(family, quant, **kwargs):
        measured.append(f"{family}/{quant}")
        return cost.blocks[f"{family}/{quant}"]

    monkeypatch.setattr(probe, "probe_block", fake_probe)
    with Engine("auto", latency=1.0, store=store, threads=1) as engine:
        engine.wait_ready()
        assert engine.model_name == "tiny-mine"
    assert measured == ["tiny/f16"]
    engine = Engine("auto", latency=0.6, store=store, threads=1)
    with pytest.raises(ModelNotFoundError, match=r"would fit if downloaded: tiny.en-q5_1"):
        engine.wait_ready()
    engine.close()
    # The registry's tiny blocks, to say what would fit; base and small are bounded by them.
    assert measured == ["tiny/f16", "tiny/q5_1", "tiny/q8_0"]


def test_engine_latency_needs_auto(tiny_en_model):
    with pytest.raises(ArgumentError, match="latency= chooses the model of Engine"):
        Engine(tiny_en_model, latency=0.5, preload=False)
    with pytest.raises(ArgumentError, match="unknown latency preset 'soon'"):
        Engine("auto", latency="soon", preload=False)


def test_an_explicit_engine_names_its_model(micro_engine):
    t = micro_engine.transcribe(np.zeros(16000, np.float32) + 0.01, speed="fast")
    assert t.model == micro_engine.model_name
    short = micro_engine.transcribe(np.zeros(100, np.float32))
    assert short.reason is not None and short.model == micro_engine.model_name


def test_stream_auto_picks_each_path_for_its_own_budget(tmp_path, monkeypatch, random_models, no_bundled):
    monkeypatch.setenv("LUMINA_HOME", str(tmp_path))
    monkeypatch.setenv("LUMINA_OFFLINE", "1")
    store = ModelStore()
    store.import_model(random_models["tiny"], name="tiny-mine")
    store.import_model(random_models["base"], name="base-mine")
    _save_for_this_machine(store, default_threads())
    # Partials: 3 s on the fast path within the 250 ms step: tiny (138 ms; base 311 ms).
    # Finals at final_speed="fast": 5 s within the 1 s goal: base (596 ms).
    fast_finals = lumina.StreamOptions(final_speed="fast")
    stream = lumina.Stream(lumina.StreamModels(partial="auto", final="auto"), options=fast_finals)
    try:
        assert {k: p.name for k, p in stream.model_picks.items()} == {
            "partial": "tiny-mine", "final": "base-mine"}
        assert (stream._partial_engine.model_name, stream._final_engine.model_name) == (
            "tiny-mine", "base-mine")
    finally:
        stream.stop()
    # "auto" for the stream chooses both paths the same way; a model the caller named is kept.
    both = lumina.Stream("auto", options=fast_finals)
    kept = lumina.Stream(lumina.StreamModels(partial="auto", final="base-mine"))
    plain = lumina.Stream("tiny-mine")
    try:
        assert {k: p.name for k, p in both.model_picks.items()} == {
            "partial": "tiny-mine", "final": "base-mine"}
        assert list(kept.model_picks) == ["partial"] and kept._final_engine.model_name == "base-mine"
        assert plain.model_picks == {}
    finally:
        both.stop()
        kept.stop()
        plain.stop()


# --------------------------------------------------------------------------- the command

def test_models_recommend_prints_the_table(tmp_path, monkeypatch, random_models, no_bundled, capsys):
    monkeypatch.setenv("LUMINA_HOME", str(tmp_path))
    monkeypatch.setenv("LUMINA_OFFLINE", "1")
    store = ModelStore()
    store.import_model(random_models["tiny"], name="tiny-mine")
    key = probe.machine_key(2, "auto")
    probe.save_cost_model(store, fixed_cost_model(key))
    size = store.find("tiny-mine").stat().st_size

    assert main(["models", "recommend", "--threads", "2", "--latency", "interactive"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"machine: {key.describe()}; measured 2025-01-02T03:04:05+00:00 at load average 0.25"
    assert lines[1] == "job: a 2 s voice command, fast path; budget 300 ms"
    assert lines[2] == "MODEL                ARCH            QUANT  SIZE      INSTALLED  PREDICTED  FITS"
    assert lines[3] == "large-v3             large-v3        f16    ~2.9 GiB  no         10112 ms   no"
    assert "base.en              base            f16    ~142 MiB  no         284 ms     yes" in lines
    assert (f"tiny-mine            tiny            f16    {f'{size / 2**20:.0f} MiB':<8}  yes        "
            "126 ms     yes <- pick") in lines
    assert len(lines) == 3 + 28 + 1 + 1  # header lines, the registry, tiny-mine, the pick
    assert lines[-1] == ("pick: tiny-mine: the most accurate installed model predicted within 300 ms "
                         "(126 ms) for a 2 s voice command, fast path; more accurate if downloaded: "
                         "base.en (~142 MiB), base.en-q5_1 (~53 MiB), base (~142 MiB) "
                         "(lumina models download base.en)")

    assert main(["models", "recommend", "--threads", "2", "--latency", "600"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "job: the Final of a 5 s dictated sentence, accurate path; budget 600 ms"
    assert out[-1].startswith("no pick: no installed model is predicted to transcribe")

    assert main(["models", "recommend", "--threads", "2", "--latency", "15000", "--job", "file"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "job: a long file, per 30 s window, accurate path; budget RTF 0.50"
    # 30 s: 1500 frames and 91 steps, 2400 * 4 layers * 1e-4 = 0.96 s; small f16 fits (8.64 s).
    assert any(line.startswith("tiny-mine ") and line.endswith("RTF 0.03   yes <- pick") for line in out)
    assert "small.en             small           f16    ~466 MiB  no         RTF 0.29   yes" in out
