"""Session-wide fixtures: random-weight whisper models written once per test run."""

import pytest

from lumina.testing import make_model


@pytest.fixture(scope="session")
def micro_model(tmp_path_factory):
    """A few-MB model of the real architecture (one layer, width 64)."""
    return make_model(tmp_path_factory.mktemp("models") / "micro.bin", "micro")


@pytest.fixture(scope="session")
def tiny_en_model(tmp_path_factory):
    """A model of the tiny.en shape (75 MB, about 1 s per transcription on 2 cores)."""
    return make_model(tmp_path_factory.mktemp("models") / "tiny.en.bin", "tiny.en")
