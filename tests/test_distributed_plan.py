"""The parts of ``lumina transcribe --ray`` that need no cluster: planning, writing, the CLI glue."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from lumina.apps.cli import main
from lumina.apps.distributed import ArchiveReport, FileResult, plan_jobs, transcribe_archive
from lumina.apps.distributed.command import split_address, summary
from lumina.apps.distributed.connection import driver_runtime_env
from lumina.apps.distributed.progress import Progress
from lumina.apps.outputs import output_path, write_atomic
from lumina.errors import MissingDependencyError, OutputConflictError


def touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_a_folder_is_walked_in_order_for_audio_and_mirrored_under_the_output(tmp_path):
    root = tmp_path / "in"
    for name in ("b.wav", "a.FLAC", "notes.txt", ".hidden.wav", "2021/03/x.mp3",
                 "2021/01/x.mp3", ".cache/y.wav"):
        touch(root / name)
    plan = plan_jobs([root], tmp_path / "out", "srt")
    assert [(os.path.relpath(j.source, root), os.path.relpath(j.target, tmp_path / "out"))
            for j in plan.todo] == [
        ("a.FLAC", "a.srt"), ("b.wav", "b.srt"),
        ("2021/01/x.mp3", "2021/01/x.srt"), ("2021/03/x.mp3", "2021/03/x.srt")]
    assert plan.done == ()


def test_named_files_go_where_the_local_command_writes_them_whatever_their_extension(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    touch(tmp_path / "rec" / "memo.dat")
    plan = plan_jobs(["rec/memo.dat", "missing.wav"], "out", "vtt")
    assert [(j.source, j.target) for j in plan.todo] == [
        (str(tmp_path / "rec" / "memo.dat"), str(output_path("out", "rec/memo.dat", "vtt"))),
        (str(tmp_path / "missing.wav"), "out/missing.vtt")]


def test_a_file_named_twice_is_one_job(tmp_path):
    a = touch(tmp_path / "in" / "a.wav")
    plan = plan_jobs([a, tmp_path / "in", str(a)], tmp_path / "out", "txt")
    assert [j.source for j in plan.todo] == [str(a)]


def test_two_inputs_for_one_output_are_refused_before_anything_runs(tmp_path):
    a, b = touch(tmp_path / "x" / "talk.wav"), touch(tmp_path / "y" / "talk.flac")
    with pytest.raises(OutputConflictError, match=f"{a} and {b} would both be written to "):
        plan_jobs([a, b], tmp_path / "out", "txt")


def test_complete_outputs_are_skipped_unless_overwriting(tmp_path):
    root = tmp_path / "in"
    for name in ("a.wav", "b.wav", "c.wav"):
        touch(root / name)
    touch(tmp_path / "out" / "b.json")
    touch(tmp_path / "out" / ".a.json.77-0badf00d.tmp")  # left by a killed run: not an output
    plan = plan_jobs([root], tmp_path / "out", "json")
    assert [os.path.basename(j.source) for j in plan.todo] == ["a.wav", "c.wav"]
    assert [os.path.basename(j.source) for j in plan.done] == ["b.wav"]
    again = plan_jobs([root], tmp_path / "out", "json", overwrite=True)
    assert [os.path.basename(j.source) for j in again.todo] == ["a.wav", "b.wav", "c.wav"]
    assert again.done == ()


def test_write_atomic_writes_whole_files_with_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "deep" / "er" / "a.txt"
        write_atomic(target, "héllo\n")
        write_atomic(target, "second\n")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"second\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert os.listdir(target.parent) == ["a.txt"]


def test_write_atomic_leaves_no_temporary_file_when_it_fails(tmp_path):
    (tmp_path / "a.txt").mkdir()  # a directory where the file should go
    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path / "a.txt", "text")
    assert os.listdir(tmp_path) == ["a.txt"]


@pytest.mark.parametrize(("value", "address", "files"), [
    ("", None, ["a.wav"]),
    ("auto", "auto", ["a.wav"]),
    ("local", "local", ["a.wav"]),
    ("10.0.0.5:6379", "10.0.0.5:6379", ["a.wav"]),
    ("head-svc.ray.svc:6379", "head-svc.ray.svc:6379", ["a.wav"]),
    ("[::1]:6379", "[::1]:6379", ["a.wav"]),
    ("ray://head:10001", "ray://head:10001", ["a.wav"]),
    ("recordings/", None, ["recordings/", "a.wav"]),
    ("talk.wav", None, ["talk.wav", "a.wav"]),
])
def test_a_value_after_ray_that_is_no_address_is_the_first_input(value, address, files):
    assert split_address(value, ["a.wav"]) == (address, files)


def test_ray_needs_an_output_directory(capsys):
    assert main(["transcribe", "--ray", "auto", "a.wav"]) == 2
    assert capsys.readouterr().err == (
        "lumina: error: --ray needs --output DIR (transcripts are written as files)\n")


@pytest.mark.parametrize(("argv", "message"), [
    (["--ray", "auto", "--output", "out"], "no FILE or DIR to transcribe"),
    (["--output", "out"], "no FILE to transcribe"),
    ([], "no FILE to transcribe"),
])
def test_nothing_to_transcribe_is_an_error(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["transcribe", *argv]) == 2
    assert capsys.readouterr().err == f"lumina: error: {message}\n"
    assert os.listdir(tmp_path) == []


def test_a_folder_right_after_ray_is_the_input(tmp_path, monkeypatch):
    """``--ray recordings`` takes the folder as ADDRESS for argparse; it must still be the input."""
    import lumina.apps.distributed.command as command

    seen = {}

    def fake_archive(inputs, output, **options):
        seen.update(inputs=inputs, output=output, address=options["address"])
        return ArchiveReport((), (), ("recordings/a.wav",), 0, 0, 0.0, 0.1)

    monkeypatch.setattr(command, "transcribe_archive", fake_archive)
    assert main(["transcribe", "--ray", "recordings", "--output", "out"]) == 0
    assert seen == {"inputs": ["recordings"], "output": "out", "address": None}


def test_without_ray_installed_the_error_says_how_to_get_it(tmp_path, monkeypatch):
    touch(tmp_path / "a.wav")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'lumina\[ray\]'"):
        transcribe_archive([tmp_path / "a.wav"], tmp_path / "out", model="tiny.en")


def test_a_run_with_every_output_complete_does_not_touch_the_cluster(tmp_path, monkeypatch):
    touch(tmp_path / "a.wav")
    touch(tmp_path / "out" / "a.txt", b"done before\n")
    monkeypatch.setitem(sys.modules, "ray", None)  # any use of Ray would fail
    report = transcribe_archive([tmp_path / "a.wav"], tmp_path / "out", model="tiny.en")
    assert (report.written, report.failed, report.skipped) == ((), (), (str(tmp_path / "a.wav"),))
    assert report.ok and (tmp_path / "out" / "a.txt").read_bytes() == b"done before\n"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"fmt": "doc"}, "unknown format 'doc'"),
    ({"speed": "warp"}, "speed must be 'accurate' or 'fast'"),
    ({"max_attempts": 0}, "max_attempts must be >= 1"),
    ({"cpus_per_actor": 0}, "a worker needs some CPUs or GPUs"),
])
def test_bad_options_are_refused_up_front(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        transcribe_archive([tmp_path], tmp_path / "out", **kwargs)


def test_the_summary_line_counts_everything():
    ok = FileResult("/a.wav", "/o/a.txt", audio_seconds=5400.0)
    bad = FileResult("/b.wav", "/o/b.txt", "b.wav: cannot decode", "AudioFormatError")
    report = ArchiveReport((ok,), (bad,), ("/c.wav",), 2, 1, 5400.0, 12.34)
    assert summary(report) == ("lumina: 1 written, 1 skipped (complete), 1 failed; 1.50 h of "
                               "audio in 12.3 s; 1 workers lost, 2 files retried")
    assert not report.ok and ok.ok and not bad.ok


def test_the_progress_bar_counts_audio_hours_and_failures():
    progress = Progress(3, enabled=False)
    progress.update(FileResult("/a.wav", "/o/a.txt", audio_seconds=1800.0))
    progress.update(FileResult("/b.wav", "/o/b.txt", "bad", "AudioFormatError"))
    assert progress.audio_seconds == 1800.0 and progress.failed == 1
    text = progress.postfix()
    assert text.startswith("0.500 h audio, ") and text.endswith("x real time, 1 failed")
    progress.close()


def test_the_job_gets_an_empty_working_dir_unless_ray_adds_no_directory_of_ours(monkeypatch):
    """With a ``working_dir``, Ray puts neither the driver's working directory nor its script's
    first on the workers' import path (issue 17); Ray Client and a submitted job add neither."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)
    assert driver_runtime_env(None, "/tmp/e") == {"working_dir": "/tmp/e"}
    assert driver_runtime_env("127.0.0.1:6379", "/tmp/e") == {"working_dir": "/tmp/e"}
    assert driver_runtime_env("ray://head:10001", "/tmp/e") is None
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    assert driver_runtime_env(None, "/tmp/e") is None
    monkeypatch.setenv("RAY_ADDRESS", "auto")
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", "{}")
    assert driver_runtime_env(None, "/tmp/e") is None
