"""Dictation: the rewritten terminal line, typing corrections, tool detection and `lumina dictate`."""

import io
import os
import pathlib
import stat
import sys

import numpy as np
import pytest

from lumina import StreamOptions, StreamModels
from lumina import DeviceError, Engine, FileSource, Final, Partial, Stream
from lumina.apps.cli import main
from lumina.apps.dictation import CLEAR_LINE, LineView, Typer, detect_typing_tool
from lumina.testing import make_model
from _stream_util import LOCKSTEP, MICRO_SEED, two_utterances
from _vad_util import write_wav

#: What `lumina dictate --file` runs: lockstep, the default final speed.
DICTATE_FILE = StreamOptions(lockstep=True)


def partial(text, stable="", utt=0):
    return Partial(text, stable, text[len(stable):], utt, 1.0, 0.1)


def final(text, utt=0):
    return Final(text, (), utt, 0.1)


def test_line_view_rewrites_one_line_and_commits_finals():
    out = io.StringIO()
    view = LineView(out, width=80)
    view.partial(partial("hello"))
    view.partial(partial("hello wor", "hello"))
    view.final(final("Hello world."))
    view.partial(partial("next"))
    view.final(final(""))
    view.close()
    assert out.getvalue() == ("\r\x1b[Khello" "\r\x1b[Khello wor" "\r\x1b[KHello world.\n"
                              "\r\x1b[Knext" "\r\x1b[K")


def test_line_view_shows_the_end_of_a_partial_too_long_for_the_line():
    out = io.StringIO()
    LineView(out, width=10).partial(partial("abcdefghijklmnop"))
    assert out.getvalue() == CLEAR_LINE + "…ijklmnop"  # 9 characters: never the last column


def test_line_view_close_after_a_final_writes_nothing():
    out = io.StringIO()
    view = LineView(out, width=80)
    view.final(final("done"))
    view.close()
    assert out.getvalue() == CLEAR_LINE + "done\n"


@pytest.mark.parametrize("tool, back2", [
    ("xdotool", ["xdotool", "key", "--clearmodifiers", "--repeat", "2", "BackSpace"]),
    ("wtype", ["wtype", "-k", "BackSpace", "-k", "BackSpace"]),
    ("ydotool", ["ydotool", "key", "14:1", "14:0", "14:1", "14:0"]),
])
def test_typer_corrects_a_changed_tail_with_backspaces(tool, back2):
    commands = []
    typer = Typer(tool, run=commands.append)
    typer.partial(partial("hello wo"))
    typer.partial(partial("hello wo"))       # unchanged: nothing typed
    typer.partial(partial("hello world"))    # only the new characters
    typer.partial(partial("hello wor"))      # shorter: erase two
    commands_before_final = len(commands)
    typer.final(final("hello world"))        # commit with a space
    assert commands[0] == _type_cmd(tool, "hello wo")
    assert commands[1] == _type_cmd(tool, "rld")
    assert commands[2] == back2
    assert commands[commands_before_final:] == [_type_cmd(tool, "ld ")]
    assert typer.typed == ""
    typer.partial(partial("next"))
    assert commands[-1] == _type_cmd(tool, "next")
    assert len(commands) == 5


def _type_cmd(tool, text):
    if tool == "xdotool":
        return ["xdotool", "type", "--clearmodifiers", "--", text]
    return [tool, "--", text] if tool == "wtype" else ["ydotool", "type", "--", text]


def test_typer_replaces_a_wrong_partial_with_the_final():
    commands = []
    typer = Typer("wtype", run=commands.append)
    typer.partial(partial("abc"))
    typer.final(final("xyz"))
    assert commands == [["wtype", "--", "abc"], ["wtype", "-k", "BackSpace", "-k", "BackSpace", "-k", "BackSpace"],
                        ["wtype", "--", "xyz "]]


def test_typer_empty_final_erases_the_partial():
    commands = []
    typer = Typer("xdotool", run=commands.append)
    typer.partial(partial("uh"))
    typer.final(final(""))
    assert commands[-1] == ["xdotool", "key", "--clearmodifiers", "--repeat", "2", "BackSpace"]
    assert typer.typed == ""


def test_typer_rejects_unknown_tools():
    with pytest.raises(ValueError, match="tool must be 'xdotool', 'wtype' or 'ydotool', got 'xte'"):
        Typer("xte")


@pytest.fixture()
def fake_path(tmp_path):
    """A PATH directory; `install(name)` puts an executable stub there."""
    def install(*names):
        for name in names:
            exe = tmp_path / name
            exe.write_text("#!/bin/sh\nexit 0\n")
            exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
        return str(tmp_path)
    return install


def _which_in(path):
    import shutil
    return lambda name: shutil.which(name, path=path)


@pytest.mark.parametrize("env, tools, expected", [
    ({"DISPLAY": ":0"}, ["xdotool", "wtype"], "xdotool"),
    ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, ["xdotool", "wtype", "ydotool"], "wtype"),
    ({"WAYLAND_DISPLAY": "wayland-0"}, ["ydotool"], "ydotool"),
    ({"XDG_SESSION_TYPE": "wayland"}, ["wtype"], "wtype"),
])
def test_typing_tool_detection(fake_path, env, tools, expected):
    assert detect_typing_tool(env, which=_which_in(fake_path(*tools))) == expected


@pytest.mark.parametrize("env, tools, message", [
    ({"DISPLAY": ":0"}, ["wtype"], "typing on X11 needs xdotool on the PATH"),
    ({"WAYLAND_DISPLAY": "w"}, ["xdotool"], "typing on Wayland needs wtype or ydotool on the PATH"),
    ({}, ["xdotool"], "--type needs a graphical session (DISPLAY or WAYLAND_DISPLAY is not set)"),
])
def test_typing_tool_detection_errors(fake_path, env, tools, message):
    with pytest.raises(DeviceError) as info:
        detect_typing_tool(env, which=_which_in(fake_path(*tools)))
    assert message in str(info.value)


def test_dictate_type_without_a_session_fails_with_one_line(monkeypatch, capsys, tmp_path):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["dictate", "--type", "--file", str(tmp_path / "x.wav")]) == 1
    assert capsys.readouterr().err == (
        "lumina: error: --type needs a graphical session (DISPLAY or WAYLAND_DISPLAY is not set)\n")


@pytest.mark.speech
def test_dictate_prints_partials_in_place_and_finals_on_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    model = make_model(tmp_path / "m.bin", "micro", seed=MICRO_SEED)
    wav = write_wav(tmp_path / "two.wav", two_utterances(tmp_path))
    with Engine(model, threads=1) as engine:
        events = [e for e in Stream(engine, source=FileSource(wav, realtime=False),
                                    options=DICTATE_FILE) if isinstance(e, (Partial, Final))]
    expected = "".join(CLEAR_LINE + e.text if isinstance(e, Partial) else CLEAR_LINE + e.text + "\n"
                       for e in events)
    assert main(["dictate", "--model", str(model), "--threads", "1", "--file", str(wav)]) == 0
    captured = capsys.readouterr()
    assert captured.out == expected
    assert captured.err == ""
    assert expected.count("\n") == 2 and expected.count(CLEAR_LINE) == len(events)


@pytest.mark.speech
def test_dictate_missing_model_is_one_error_line(tmp_path, capsys):
    wav = write_wav(tmp_path / "two.wav", two_utterances(tmp_path))
    missing = tmp_path / "nope.bin"
    assert main(["dictate", "--model", str(missing), "--file", str(wav)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lumina: error: ") and str(missing) in err
    assert os.path.exists(wav)


def test_typer_discard_erases_the_uncommitted_partial_only():
    commands = []
    typer = Typer("xdotool", run=commands.append)
    typer.partial(partial("kept"))
    typer.final(final("kept"))
    typer.partial(partial("cut sh"))
    typer.discard()
    assert commands[-1] == ["xdotool", "key", "--clearmodifiers", "--repeat", "6", "BackSpace"]
    assert typer.typed == ""
    typer.discard()  # nothing left to erase: no command
    assert len(commands) == 4


def test_a_failing_typing_tool_is_a_device_error(fake_path, monkeypatch):
    bin_dir = fake_path()
    (pathlib.Path(bin_dir) / "xdotool").write_text("#!/bin/sh\nexit 3\n")
    (pathlib.Path(bin_dir) / "xdotool").chmod(0o755)
    monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ["PATH"])
    with pytest.raises(DeviceError, match=r"^xdotool failed \(exit status 3\) while typing"):
        Typer("xdotool").partial(partial("x"))


FAKE_XDOTOOL = """\
import pathlib, sys
doc = pathlib.Path({doc!r})
text = doc.read_text() if doc.exists() else ""
args = sys.argv[1:]
if args[0] == "type":
    text += args[-1]
else:  # key --clearmodifiers --repeat N BackSpace
    text = text[:len(text) - int(args[args.index("--repeat") + 1])]
doc.write_text(text)
"""


@pytest.mark.speech
def test_ctrl_c_during_an_utterance_erases_its_typed_partial(tmp_path, monkeypatch, capsys):
    """The document keeps the committed finals and loses the partial that never became one."""
    import lumina.apps.dictation as dictation

    doc, bin_dir = tmp_path / "document.txt", tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "xdotool").write_text(f"#!{sys.executable}\n" + FAKE_XDOTOOL.format(doc=str(doc)))
    (bin_dir / "xdotool").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    seen = {"finals": [], "second_utterance_partials": 0, "typed_at_interrupt": None}

    class InterruptedView(dictation.LineView):
        """Ctrl-C arrives with the second partial with text of the second utterance (one typed
        already; a partial of random weights may hold nothing anybody said, which is not typed)."""

        def partial(self, event):
            if event.utterance_id == 1 and event.text:
                seen["second_utterance_partials"] += 1
                if seen["second_utterance_partials"] == 2:
                    seen["typed_at_interrupt"] = doc.read_text()
                    raise KeyboardInterrupt
            super().partial(event)

        def final(self, event):
            seen["finals"].append(event.text)
            super().final(event)

    monkeypatch.setattr(dictation, "LineView", InterruptedView)
    model = make_model(tmp_path / "m.bin", "micro", seed=MICRO_SEED)
    wav = write_wav(tmp_path / "two.wav", two_utterances(tmp_path))
    assert main(["dictate", "--type", "--model", str(model), "--threads", "1", "--file", str(wav)]) == 130
    committed = "".join(text + " " for text in seen["finals"] if text)
    assert len(seen["finals"]) == 1 and committed.strip()
    assert seen["typed_at_interrupt"].startswith(committed)
    assert len(seen["typed_at_interrupt"]) > len(committed)  # a partial was on screen ...
    assert doc.read_text() == committed                      # ... and is gone; the final stays
    assert capsys.readouterr().out.endswith(CLEAR_LINE)


def _silence_wav(tmp_path):
    return write_wav(tmp_path / "silence.wav", np.zeros(16000, np.float32))


@pytest.mark.parametrize("kind", ["missing", "not a model"])
def test_dictate_with_a_bad_model_fails_at_once_like_transcribe(tmp_path, capsys, kind):
    """No speech needed: the model loads (and fails) before dictation starts listening."""
    model = tmp_path / "model.bin"
    if kind == "not a model":
        model.write_bytes(b"this is not a ggml model" * 100)
    wav = _silence_wav(tmp_path)
    assert main(["transcribe", str(wav), "--model", str(model)]) == 1
    transcribe_err = capsys.readouterr().err
    assert main(["dictate", "--model", str(model), "--file", str(wav)]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", transcribe_err)
    assert err.startswith("lumina: error: ") and str(model) in err and len(err.splitlines()) == 1


def test_dictate_with_a_bad_partial_model_fails_at_once(tmp_path, capsys, micro_model):
    missing = tmp_path / "partial.bin"
    wav = _silence_wav(tmp_path)
    assert main(["dictate", "--model", str(micro_model), "--partial-model", str(missing),
                 "--file", str(wav)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lumina: error: ") and str(missing) in err and len(err.splitlines()) == 1


def test_typer_corrects_the_provisional_text_in_place_when_the_final_differs():
    commands = []
    typer = Typer("xdotool", run=commands.append)
    typer.partial(partial("turn on the"))
    typer.partial(Partial("turn on the kitchen lights", "turn on the", " kitchen lights", 0, 2.0, 0.1,
                          complete=True))     # the provisional text of the whole utterance
    typer.final(final("Turn on the kitchen light."))
    assert commands == [
        ["xdotool", "type", "--clearmodifiers", "--", "turn on the"],
        ["xdotool", "type", "--clearmodifiers", "--", " kitchen lights"],
        # The final differs from its first letter: all 26 characters go, the final is typed.
        ["xdotool", "key", "--clearmodifiers", "--repeat", "26", "BackSpace"],
        ["xdotool", "type", "--clearmodifiers", "--", "Turn on the kitchen light. "]]
    commands.clear()
    typer.partial(Partial("call mom", "", "call mom", 1, 3.0, 0.1, complete=True))
    typer.final(final("call mom.", utt=1))    # only the difference: no backspace, "." typed
    assert commands == [["xdotool", "type", "--clearmodifiers", "--", "call mom"],
                        ["xdotool", "type", "--clearmodifiers", "--", ". "]]


def _typed_screen(commands) -> str:
    """What a text field shows after the xdotool commands (type appends, BackSpace erases)."""
    screen = ""
    for cmd in commands:
        if cmd[1] == "type":
            screen += cmd[-1]
        else:
            screen = screen[:len(screen) - int(cmd[cmd.index("--repeat") + 1])]
    return screen


def test_dictate_type_shows_the_provisional_text_and_corrects_it_with_the_final(
        tmp_path, capsys, monkeypatch):
    # Progressive refinement: partials (and the provisional complete partial) from one model,
    # finals from another, so the final text differs from the provisional one.
    partial_model = make_model(tmp_path / "p.bin", "micro", seed=3)
    final_model = make_model(tmp_path / "f.bin", "micro", seed=MICRO_SEED)
    wav = write_wav(tmp_path / "two.wav", two_utterances(tmp_path))
    log = tmp_path / "xdotool.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "xdotool"
    tool.write_text('#!/bin/sh\nfor a in "$@"; do printf \'%s\\037\' "$a"; done >> "$XDO_LOG"\n'
                    'printf \'\\036\' >> "$XDO_LOG"\n')
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XDO_LOG", str(log))
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)

    assert main(["dictate", "--model", str(final_model), "--partial-model", str(partial_model),
                 "--threads", "1", "--type", "--file", str(wav)]) == 0
    typed = [record.split("\x1f")[:-1] for record in log.read_text().split("\x1e")[:-1]]
    typed = [["xdotool", *args] for args in typed]

    # The same stream in-process (lockstep: the same events) through a Typer that records.
    with Engine(partial_model, threads=1) as fast, Engine(final_model, threads=1) as accurate:
        events = list(Stream(StreamModels(partial=fast, final=accurate),
                             source=FileSource(wav, realtime=False),
                             options=DICTATE_FILE))
    expected: list = []
    typer = Typer("xdotool", run=expected.append)
    for e in events:
        if isinstance(e, (Partial, Final)):
            (typer.partial if isinstance(e, Partial) else typer.final)(e)
    assert typed == expected
    finals = [e.text for e in events if isinstance(e, Final)]
    assert _typed_screen(typed) == "".join(f + " " for f in finals if f)
    # Each utterance ends with its provisional complete partial on screen, then the final
    # replaces the part of it that differs.
    for utt, text in enumerate(finals):
        complete = [e.text for e in events if isinstance(e, Partial) and e.complete and e.utterance_id == utt]
        assert complete and complete[-1] != text
    assert any(cmd[1] == "key" for cmd in typed)
