"""Transcribing archives on a two-node Ray cluster started on 127.0.0.1 by this module.

The cluster starts once for the module; ``local_cluster`` checks on the way
out that no process it started is left. Outputs are compared with what the
local ``lumina transcribe --output`` writes for the same files.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess

import _ray_util  # noqa: F401  (first: sets what Ray reads at import)
import numpy as np
import pytest
import soundfile
from _child_util import REPO_ROOT, lumina_command
from _engine_util import HELLO_WAV
from lumina.testing import speechlike
from _ray_util import local_cluster

import lumina
import lumina.apps.distributed.dispatcher as dispatcher_module
from lumina.apps.cli import main
from lumina.apps.distributed import transcribe_archive
from lumina.errors import ModelIntegrityError

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def from_the_repository_root(monkeypatch):
    """Run from the repository's root, as README's commands are. Ray puts the driver's working
    directory first on the workers' import path unless the job says otherwise; the unbuilt
    ``lumina/`` there (in CI) must not shadow the installed package (issue 17)."""
    monkeypatch.chdir(REPO_ROOT)


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(nodes=2, cpus=1) as c:
        yield c


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Six files of 1.5-3.5 s: WAV 16 kHz, WAV 44.1 kHz stereo, FLAC, one in a sub-folder."""
    root = tmp_path_factory.mktemp("archive")
    (root / "day2").mkdir()
    (root / "notes.txt").write_text("not audio: a folder walk leaves it out")
    for i, seconds in enumerate((1.5, 2.0, 2.5, 3.0)):
        lumina.write_wav(root / f"talk{i}.wav", speechlike(seconds, seed=i), 16000)
    stereo = speechlike(1.5 * 44100 / 16000, seed=7)  # 1.5 s at 44.1 kHz
    lumina.write_wav(root / "stereo.wav", np.stack([stereo, stereo[::-1]], axis=1), 44100)
    soundfile.write(root / "day2" / "call.flac", speechlike(3.5, seed=9), 16000)
    return root


def audio_files(folder):
    return sorted(p for p in folder.iterdir() if p.suffix in (".wav", ".flac"))


def local_outputs(folder, out, model, fmt):
    """What the local command writes for the archive (one call per folder, as it takes files).

    With one thread, as each worker (one CPU each) runs: whisper.cpp's sums,
    and so the token probabilities in JSON, depend on the thread count.
    """
    for sub in (folder, folder / "day2"):
        files = [str(p) for p in audio_files(sub)]
        if files:
            target = out if sub == folder else out / "day2"
            assert main(["transcribe", *files, "--model", str(model), "--format", fmt,
                         "--threads", "1", "--output", str(target)]) == 0
    return tree(out)


def tree(root):
    """{relative path: bytes} of every file under ``root`` (temporary files included)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def node_ids(cluster):
    return {node.node_id for node in cluster.list_all_nodes()}


@pytest.fixture
def writes(monkeypatch):
    """Counts the writes of each output file during a distributed run."""
    counts = collections.Counter()
    real = dispatcher_module.write_atomic

    def counting(target, text):
        counts[str(target)] += 1
        real(target, text)

    monkeypatch.setattr(dispatcher_module, "write_atomic", counting)
    return counts


def test_the_cluster_is_two_nodes_on_the_loopback(cluster):
    nodes = cluster.list_all_nodes()
    assert len(nodes) == 2 and len(node_ids(cluster)) == 2
    assert {node.node_ip_address for node in nodes} == {"127.0.0.1"}
    assert cluster.address.startswith("127.0.0.1:")


@pytest.mark.parametrize("fmt", ["srt", "json"])
def test_every_output_equals_the_local_commands_and_both_nodes_work(
        cluster, archive, micro_model, tmp_path, writes, fmt):
    report = transcribe_archive([archive], tmp_path / "ray", model=micro_model, fmt=fmt,
                                address=cluster.address, progress=False)
    expected = local_outputs(archive, tmp_path / "local", micro_model, fmt)
    got = tree(tmp_path / "ray")
    assert sorted(got) == sorted(expected) == sorted(
        [f"talk{i}.{fmt}" for i in range(4)] + [f"stereo.{fmt}", f"day2/call.{fmt}"])
    if fmt == "json":  # timings are wall-clock measurements of each run; everything else is equal
        got, expected = ({k: _without_timings(v) for k, v in d.items()} for d in (got, expected))
    assert got == expected
    assert report.failed == () and report.skipped == () and report.workers_lost == 0
    assert {r.node_id for r in report.written} == node_ids(cluster)
    assert dict(writes) == {str(tmp_path / "ray" / name): 1 for name in expected}
    assert report.audio_seconds == pytest.approx(1.5 + 2.0 + 2.5 + 3.0 + 1.5 + 3.5)


def test_the_command_runs_from_the_repository_root(cluster, micro_model, tmp_path):
    """``lumina transcribe --ray`` as README runs it: from the checkout's root, a relative path."""
    command = [*lumina_command(), "transcribe", "--ray", cluster.address, "examples/hello.wav",
               "--model", str(micro_model), "--output", str(tmp_path / "ray")]
    # The child inherits PYTHONPATH (the tested lumina first) from local_cluster.
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    said = [line for line in run.stderr.splitlines() if line.startswith("lumina: ")]
    assert len(said) == 1 and re.fullmatch(
        r"lumina: 1 written, 0 skipped \(complete\), 0 failed; 0\.00 h of audio in [\d.]+ s", said[0])
    assert main(["transcribe", str(HELLO_WAV), "--model", str(micro_model), "--threads", "1",
                 "--output", str(tmp_path / "local")]) == 0
    assert tree(tmp_path / "ray") == tree(tmp_path / "local") != {}


def _without_timings(data: bytes) -> dict:
    parsed = json.loads(data)
    assert set(parsed.pop("timings")) == {"load", "audio", "encode", "decode", "total"}
    return parsed


def test_a_killed_worker_loses_and_duplicates_nothing(cluster, archive, tiny_en_model, tmp_path,
                                                       writes):
    killed = []

    def kill_first_worker(result):
        if not killed:  # the worker already holds its next file, and is decoding it
            killed.append(result.pid)
            os.kill(result.pid, signal.SIGKILL)

    report = transcribe_archive([archive], tmp_path / "ray", model=tiny_en_model, fmt="txt",
                                address=cluster.address, progress=False,
                                on_result=kill_first_worker)
    expected = local_outputs(archive, tmp_path / "local", tiny_en_model, "txt")
    assert tree(tmp_path / "ray") == expected  # nothing lost, no temporary file left
    assert dict(writes) == {str(tmp_path / "ray" / name): 1 for name in expected}
    assert report.workers_lost == 1 and report.retries >= 1 and report.failed == ()
    assert len(report.written) == len(expected)
    assert [r.pid for r in report.written].count(killed[0]) == 1
    assert {r.attempts for r in report.written} == {1, 2}
    assert {r.node_id for r in report.written} == node_ids(cluster)


def test_an_undecodable_file_is_reported_and_the_rest_complete_then_a_rerun_skips_them(
        cluster, archive, micro_model, tmp_path, capsys, writes):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for p in audio_files(archive)[:3]:
        (inputs / p.name).write_bytes(p.read_bytes())
    (inputs / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    out = tmp_path / "out"
    argv = ["transcribe", "--ray", cluster.address, str(inputs), "--output", str(out),
            "--model", str(micro_model)]

    assert main(argv) == 1
    printed, errors = capsys.readouterr()
    good = sorted(str(out / f"{p.stem}.txt") for p in audio_files(archive)[:3])
    assert sorted(printed.splitlines()) == good
    error_lines = errors.splitlines()
    assert len(error_lines) == 2
    assert error_lines[0].startswith("lumina: error: ") and "broken.wav" in error_lines[0]
    assert error_lines[1].startswith("lumina: 3 written, 0 skipped (complete), 1 failed; ")
    assert sorted(str(p) for p in out.iterdir()) == good
    first = tree(out)

    (out / ".talk0.txt.123-abcd.tmp").write_text("a temporary file of a killed run")
    (out / "talk1.txt").unlink()
    writes.clear()
    assert main(argv) == 1
    printed, errors = capsys.readouterr()
    assert printed == f"{out / 'talk1.txt'}\n"
    assert errors.splitlines()[-1].startswith("lumina: 1 written, 2 skipped (complete), 1 failed; ")
    assert dict(writes) == {str(out / "talk1.txt"): 1}
    assert tree(out) == {**first, ".talk0.txt.123-abcd.tmp": b"a temporary file of a killed run"}


def test_a_node_with_another_model_file_stops_the_run_before_any_write(
        cluster, archive, micro_model, tmp_path):
    with pytest.raises(ModelIntegrityError, match=f"SHA-256 is [0-9a-f]{{64}} but {'0' * 64} was expected"):
        transcribe_archive([archive], tmp_path / "out", model=micro_model, fmt="txt",
                           address=cluster.address, progress=False, model_sha256="0" * 64)
    assert not (tmp_path / "out").exists()
