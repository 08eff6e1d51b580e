"""``lumina transcribe`` and ``lumina devices``, and the transcript formats."""

import json

import pytest
from _engine_util import HELLO_WAV

import lumina
from lumina.apps.cli import main
from lumina.testing import speechlike
from lumina.asr.formats import render
from lumina.asr.transcript import Segment, Timings, Token, Transcript

SAMPLE = Transcript(
    text="Hello there. General Kenobi.",
    segments=(Segment(0.0, 1.25, "Hello there.", (Token(1, " Hello", 0.9, 0.0, 0.0),)),
              Segment(3661.5, 3663.0, "General Kenobi.", ())),
    language="en", device="cpu", timings=Timings(total=1.5))


def test_srt_numbers_cues_and_uses_commas():
    assert render(SAMPLE, "srt") == (
        "1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n"
        "2\n01:01:01,500 --> 01:01:03,000\nGeneral Kenobi.\n")


def test_vtt_has_a_header_and_uses_dots():
    assert render(SAMPLE, "vtt") == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello there.\n\n"
        "01:01:01.500 --> 01:01:03.000\nGeneral Kenobi.\n")


def test_txt_and_json():
    assert render(SAMPLE, "txt") == "Hello there. General Kenobi.\n"
    data = json.loads(render(SAMPLE, "json"))
    assert data["segments"][0]["tokens"][0] == {"id": 1, "text": " Hello", "probability": 0.9,
                                                "start": 0.0, "end": 0.0}
    assert data["timings"]["total"] == 1.5 and data["from_cache"] is False


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown format 'doc'"):
        render(SAMPLE, "doc")


def test_transcribe_prints_what_the_engine_gives(micro_model, capsys):
    assert main(["transcribe", str(HELLO_WAV), "--model", str(micro_model)]) == 0
    with lumina.Engine(micro_model) as engine:
        expected = engine.transcribe(HELLO_WAV).text
    assert capsys.readouterr().out == expected + "\n"


def test_transcribe_writes_files_and_reports_bad_ones(micro_model, tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    code = main(["transcribe", str(HELLO_WAV), str(bad), "--model", str(micro_model),
                 "--format", "vtt", "--output", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == f"{tmp_path / 'out' / 'hello.vtt'}\n"
    assert (tmp_path / "out" / "hello.vtt").read_text().startswith("WEBVTT\n\n00:00:")
    assert err.startswith("lumina: error: cannot decode audio") and str(bad) in err
    assert len(err.splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["hello.vtt"]


def test_transcribe_with_a_missing_model_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LUMINA_HOME", str(tmp_path))
    monkeypatch.setenv("LUMINA_OFFLINE", "1")
    assert main(["transcribe", str(HELLO_WAV), "--model", "base.en"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lumina: error: model 'base.en' is not installed.")
    assert str(tmp_path / "models") in err


def test_devices_lists_every_kind(capsys):
    assert main(["devices"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["cpu", "cuda", "vulkan", "metal"]
    assert lines[0].split()[1] == "available"


def test_python_m_lumina_testing_writes_a_model(tmp_path, capsys):
    from lumina.testing import main as make_main

    assert make_main(["micro", str(tmp_path / "m.bin"), "--ftype", "q8_0"]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'm.bin'}: random-weight micro (q8_0), 4,705,163 bytes\n"
    assert lumina.validate_model_file(tmp_path / "m.bin").quantization == "q8_0"


def test_models_random_writes_a_model_in_a_new_folder(tmp_path, capsys):
    target = tmp_path / "new" / "tiny.bin"
    assert main(["models", "random", "micro", str(target), "--seed", "3"]) == 0
    assert capsys.readouterr().out == f"{target}: random-weight micro (f16), 7,924,523 bytes\n"
    assert lumina.validate_model_file(target).n_tensors == 5 + 2 + 15 + 4 + 24


def test_bench_prints_a_row_per_length_and_speed(micro_model, capsys):
    assert main(["bench", "--model", str(micro_model), "--seconds", "1,2.5", "--repeat", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"model {micro_model} on cpu, ")
    assert lines[1].split() == ["audio", "speed", "encode", "decode", "total", "RTF"]
    assert [line.split()[:2] for line in lines[2:]] == [
        ["1.00s", "accurate"], ["1.00s", "fast"], ["2.50s", "accurate"], ["2.50s", "fast"]]


def test_bench_rows_come_from_the_engine_timings(micro_model):
    from lumina.apps import bench

    engine, startup = bench.measure_startup(micro_model)
    with engine:
        row = bench.measure_latency(engine, speechlike(2.0), 2.0, "fast", 2)
    assert 0 < startup.constructor < startup.ready
    assert (row.seconds, row.speed) == (2.0, "fast")
    assert 0 < row.encode and 0 < row.decode and row.encode + row.decode <= row.total
    assert row.real_time_factor == row.total / 2.0
