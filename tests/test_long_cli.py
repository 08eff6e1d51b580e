"""``lumina transcribe`` on long files: --vad, segments printed as they come, the progress bar."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

import lumina
from _engine_util import HELLO_WAV
from _vad_util import write_wav
from lumina.evaluation.utterances import silence
from lumina.apps import cli
from lumina.apps.cli import main
from lumina.asr.formats import render


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    """hello.wav twice with a 35 s pause between: two windows with --vad."""
    hello = lumina.load_audio(HELLO_WAV)
    audio = np.concatenate([silence(1.0), hello, silence(35.0), hello, silence(1.0)])
    return write_wav(tmp_path_factory.mktemp("cli") / "talk.wav", audio)


@pytest.mark.parametrize("fmt", ["txt", "srt", "vtt", "json"])
def test_vad_output_is_what_the_engine_gives(micro_model, talk, capsys, fmt):
    assert main(["transcribe", str(talk), "--model", str(micro_model), "--vad", "--format", fmt]) == 0
    # The command's engine: two windows at once, the threads shared out between them (whisper.cpp's
    # sums, so the token probabilities, depend on the thread count).
    with lumina.Engine(micro_model, concurrency=2) as engine:
        expected = engine.transcribe(talk, vad=True)
    out = capsys.readouterr().out
    if fmt == "json":   # timings differ from run to run
        got = json.loads(out)
        assert got["text"] == expected.text and got["reason"] is None
        assert got["segments"] == json.loads(render(expected, "json"))["segments"]
    else:
        assert out == render(expected, fmt)
    assert len(expected.segments) >= 2 and expected.segments[-1].start > 36.0


def test_without_vad_a_short_file_prints_what_transcribe_gives(micro_model, capsys):
    assert main(["transcribe", str(HELLO_WAV), "--model", str(micro_model), "--format", "srt"]) == 0
    with lumina.Engine(micro_model) as engine:
        expected = engine.transcribe(HELLO_WAV)
    assert capsys.readouterr().out == render(expected, "srt")


def test_a_file_without_speech_prints_nothing_and_says_why(micro_model, tmp_path, capsys):
    quiet = write_wav(tmp_path / "quiet.wav", silence(3.0))
    assert main(["transcribe", str(quiet), "--model", str(micro_model), "--vad-kind", "energy"]) == 0
    out, err = capsys.readouterr()
    assert out == "\n"
    assert err == f"lumina: {quiet}: no speech found by the energy VAD in 3.00 s of audio\n"


def test_segments_are_printed_before_the_file_is_done(micro_model, talk, capsys, monkeypatch):
    """The first window's text is on stdout while the second window is being decoded."""
    seen_at_second_decode = []
    original = lumina.Engine._decode_window

    def spy(self, audio, **kw):
        seen_at_second_decode.append(capsys.readouterr().out)
        return original(self, audio, **kw)

    monkeypatch.setattr(lumina.Engine, "_decode_window", spy)
    assert main(["transcribe", str(talk), "--model", str(micro_model), "--vad", "--parallel", "1"]) == 0
    assert len(seen_at_second_decode) == 2
    assert seen_at_second_decode[0] == "" and seen_at_second_decode[1] != ""


def test_two_windows_are_decoded_at_once_by_default(micro_model, talk, capsys, monkeypatch):
    """The default engine has two slots; both windows decode at once and print in order."""
    meet = threading.Barrier(2, timeout=30)   # passed only when both decodes run together
    engines = []
    original = lumina.Engine._decode_window

    def meeting(self, audio, **kw):
        engines.append(self.concurrency)
        meet.wait()
        return original(self, audio, **kw)

    monkeypatch.setattr(lumina.Engine, "_decode_window", meeting)
    assert main(["transcribe", str(talk), "--model", str(micro_model), "--vad"]) == 0
    monkeypatch.undo()
    with lumina.Engine(micro_model, concurrency=2) as engine:
        expected = engine.transcribe(talk, vad=True)
    assert engines == [2, 2] and capsys.readouterr().out == render(expected, "txt")


def test_a_bad_parallel_count_is_an_error(micro_model, capsys):
    assert main(["transcribe", str(HELLO_WAV), "--model", str(micro_model), "--parallel", "0"]) == 1
    assert capsys.readouterr().err == "lumina: error: concurrency must be an int >= 1, got 0\n"


def test_the_progress_bar_reaches_the_end(micro_model, talk, capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "_show_progress", lambda args, output: True)
    assert main(["transcribe", str(talk), "--model", str(micro_model), "--vad",
                 "--output", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "talk.wav: 100%" in err and "46/46 s" in err
    assert (tmp_path / "talk.txt").read_text().strip()
