"""``lumina models ...`` through lumina.apps.cli.main, against a local hub server."""

from __future__ import annotations

import hashlib

import pytest

from lumina.apps.cli import main
from lumina.testing import make_model
from _models_util import HubServer


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory) -> bytes:
    return make_model(tmp_path_factory.mktemp("src") / "m.bin", arch="micro").read_bytes()


@pytest.fixture
def hub(model_bytes, tmp_path, monkeypatch):
    server = HubServer()
    # tiny-q8_0 has no published SHA-1: the listing's SHA-256 and size are checked.
    server.add("ggml-tiny-q8_0.bin", model_bytes)
    server.add("ggml-base.en.bin", model_bytes)  # not the published base.en: SHA-1 differs
    monkeypatch.setenv("LUMINA_HOME", str(tmp_path))
    monkeypatch.setenv("LUMINA_MODEL_URL_BASE", server.url_base)
    monkeypatch.setenv("LUMINA_MODEL_API_URL", server.api_url)
    monkeypatch.delenv("LUMINA_OFFLINE", raising=False)
    yield server
    server.close()


def _lines(text: str) -> list[str]:
    return text.strip().splitlines()


def test_list_shows_every_model_not_installed(hub, capsys):
    assert main(["models", "list"]) == 0
    lines = _lines(capsys.readouterr().out)
    assert lines[0].split() == ["NAME", "SIZE", "INSTALLED", "QUANT", "FROM"]
    assert len(lines) == 1 + 28
    assert lines[1].split() == ["tiny", "~75", "MiB", "no", "f16"]
    assert "large-v3-turbo-q8_0" in lines[-1] and lines[-1].split()[-2:] == ["no", "q8_0"]


def test_download_then_list_verify_path_remove(hub, tmp_path, model_bytes, capsys):
    dest = tmp_path / "models" / "ggml-tiny-q8_0.bin"
    assert main(["models", "download", "tiny-q8_0", "--no-progress"]) == 0
    assert capsys.readouterr().out == f"{dest}\n"
    assert dest.read_bytes() == model_bytes

    assert main(["models", "list"]) == 0
    row = next(l for l in _lines(capsys.readouterr().out) if l.startswith("tiny-q8_0 "))
    assert row.split() == ["tiny-q8_0", f"{len(model_bytes) / 2**20:.0f}", "MiB", "yes", "q8_0", "download"]

    assert main(["models", "verify", "tiny-q8_0"]) == 0
    sha256 = hashlib.sha256(model_bytes).hexdigest()
    assert capsys.readouterr().out == (
        f"ok {dest}: custom f16, 50 tensors, {len(model_bytes)} bytes, sha256 {sha256}\n")

    assert main(["models", "verify", str(dest)]) == 0
    assert capsys.readouterr().out == (
        f"ok {dest}: custom f16, 50 tensors, {len(model_bytes)} bytes, no hash to compare with\n")

    assert main(["models", "path", "tiny-q8_0"]) == 0
    assert capsys.readouterr().out == f"{dest}\n"

    assert main(["models", "remove", "tiny-q8_0"]) == 0
    assert capsys.readouterr().out == f"removed {dest}\n"
    assert not dest.exists()
    assert main(["models", "remove", "tiny-q8_0"]) == 1
    assert capsys.readouterr().err == (
        f"lumina: model 'tiny-q8_0' is not installed in {tmp_path / 'models'}\n")


def test_download_with_wrong_published_hash_fails_cleanly(hub, tmp_path, capsys):
    assert main(["models", "download", "base.en", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lumina: error: downloaded ggml-base.en.bin from "
                          f"{hub.url_base}/ggml-base.en.bin, but its SHA-1")
    assert "137c40403d78fd54d454da0f9bd998f78703390c was expected" in err
    assert "Traceback" not in err
    assert list((tmp_path / "models").glob("*.bin*")) == [tmp_path / "models" / "ggml-base.en.bin.lock"]


def test_offline_download_prints_instructions(hub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LUMINA_OFFLINE", "1")
    assert main(["models", "download", "base"]) == 1
    err = capsys.readouterr().err
    assert f"save it as the file ggml-base.bin in the directory {tmp_path / 'models'}" in err
    assert f"Download {hub.url_base}/ggml-base.bin" in err
    assert hub.seen == []


def test_unknown_name_and_missing_model(hub, capsys):
    assert main(["models", "path", "tiny.fr"]) == 1
    assert capsys.readouterr().err.startswith("lumina: error: unknown model 'tiny.fr'; known models: tiny,")
    assert main(["models", "verify", "small"]) == 1
    assert "model 'small' is not installed" in capsys.readouterr().err
