"""ModelStore.download against a local HTTP server playing the hub."""

from __future__ import annotations

import hashlib
import multiprocessing
import pathlib
import threading
import time
from pathlib import Path

import pytest

from lumina import DownloadError, ModelIntegrityError, ModelNotFoundError
from lumina.models import ModelStore, RetryPolicy
from lumina.testing import make_model
from _models_util import FAST_RETRY, HubServer, closed_port, download_in_child, entry_for


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory) -> bytes:
    return make_model(tmp_path_factory.mktemp("src") / "m.bin", arch="micro").read_bytes()


@pytest.fixture
def hub():
    server = HubServer()
    yield server
    server.close()


@pytest.fixture
def served(hub, model_bytes):
    """The hub serving model 'm' with its true size and hashes; returns its registry."""
    hub.add("ggml-m.bin", model_bytes)
    return {"m": entry_for("m", model_bytes)}


def _partial(store: ModelStore, name: str) -> Path:
    dest = store.path(name)
    return dest.with_name(dest.name + ".partial")


def test_download_installs_the_exact_bytes(hub, served, tmp_path, model_bytes):
    store = hub.store(tmp_path, served)
    path = store.download("m", progress=False)
    assert path == tmp_path / "ggml-m.bin"
    assert path.read_bytes() == model_bytes
    assert not _partial(store, "m").exists()
    [req] = hub.file_requests("ggml-m.bin")
    assert (req.status, req.range, req.body_bytes) == (200, None, len(model_bytes))
    # Installed and stamped: a second call makes no request and find() agrees.
    assert store.download("m", progress=False) == path
    assert len(hub.file_requests("ggml-m.bin")) == 1
    assert store.find("m") == path


def test_resume_with_range_when_the_server_supports_it(hub, served, tmp_path, model_bytes):
    store = hub.store(tmp_path, served)
    have = 1_000_003
    _partial(store, "m").write_bytes(model_bytes[:have])
    path = store.download("m", progress=False)
    assert path.read_bytes() == model_bytes
    [req] = hub.file_requests("ggml-m.bin")
    assert (req.status, req.range, req.body_bytes) == (206, f"bytes={have}-",
                                                       len(model_bytes) - have)


def test_restart_from_zero_when_the_server_ignores_range(hub, served, tmp_path, model_bytes):
    hub.behaviour.honour_range = False
    store = hub.store(tmp_path, served)
    _partial(store, "m").write_bytes(model_bytes[:500_000])
    path = store.download("m", progress=False)
    assert path.read_bytes() == model_bytes
    [req] = hub.file_requests("ggml-m.bin")
    assert (req.status, req.range, req.body_bytes) == (200, "bytes=500000-", len(model_bytes))


def test_interrupted_transfer_resumes_where_it_stopped(hub, served, tmp_path, model_bytes):
    cut = 2_000_000
    hub.behaviour.cut_after, hub.behaviour.cuts_left = cut, 1
    store = hub.store(tmp_path, served)
    path = store.download("m", progress=False)
    assert path.read_bytes() == model_bytes
    first, second = hub.file_requests("ggml-m.bin")
    assert (first.status, first.range, first.body_bytes) == (200, None, cut)
    assert (second.status, second.range, second.body_bytes) == (206, f"bytes={cut}-",
                                                                len(model_bytes) - cut)


def test_interrupted_every_time_gives_up_after_the_attempts(hub, served, tmp_path, model_bytes):
    hub.behaviour.cut_after, hub.behaviour.cuts_left = 100_000, 99
    store = hub.store(tmp_path, served, retry=RetryPolicy(attempts=3, backoff=0.01, timeout=5))
    with pytest.raises(DownloadError, match="connection closed after 300000 of"):
        store.download("m", progress=False)
    assert [r.range for r in hub.file_requests("ggml-m.bin")] == [
        None, "bytes=100000-", "bytes=200000-"]
    assert not store.path("m").exists()
    # What arrived is kept for the next try, which resumes from it.
    assert _partial(store, "m").read_bytes() == model_bytes[:300_000]
    hub.behaviour.cuts_left = 0
    assert store.download("m", progress=False).read_bytes() == model_bytes
    assert hub.file_requests("ggml-m.bin")[-1].range == "bytes=300000-"


def test_server_errors_are_retried_with_backoff(hub, served, tmp_path, model_bytes):
    hub.behaviour.fail_status = [503, 500]
    store = hub.store(tmp_path, served)
    assert store.download("m", progress=False).read_bytes() == model_bytes
    assert [r.status for r in hub.file_requests("ggml-m.bin")] == [503, 500, 200]


def test_not_found_is_not_retried(hub, served, tmp_path):
    hub.behaviour.fail_status = [404]
    store = hub.store(tmp_path, served)
    with pytest.raises(DownloadError, match=r"could not be downloaded from .*\(HTTP 404") as err:
        store.download("m", progress=False)
    assert not isinstance(err.value, ModelNotFoundError)  # a failed transfer, not a missing model
    assert err.value.url == f"{hub.url_base}/ggml-m.bin"
    assert err.value.reason == "HTTP 404 Not Found"
    assert len(hub.file_requests("ggml-m.bin")) == 1


def test_wrong_size_installs_nothing(hub, model_bytes, tmp_path):
    hub.add("ggml-m.bin", model_bytes, listed_size=len(model_bytes) + 1)
    store = hub.store(tmp_path, {"m": entry_for("m", model_bytes, sha1=None)})
    with pytest.raises(ModelIntegrityError,
                       match=f"its size is {len(model_bytes)} bytes where {len(model_bytes) + 1} "
                             "bytes was expected"):
        store.download("m", progress=False)
    assert not store.path("m").exists() and not _partial(store, "m").exists()


def test_wrong_published_sha1_installs_nothing(hub, model_bytes, tmp_path):
    hub.add("ggml-m.bin", model_bytes)
    store = hub.store(tmp_path, {"m": entry_for("m", model_bytes, sha1="1" * 40)})
    sha1 = hashlib.sha1(model_bytes).hexdigest()
    with pytest.raises(ModelIntegrityError,
                       match=f"SHA-1 \\(published by whisper.cpp\\) is {sha1} where {'1' * 40}"):
        store.download("m", progress=False)
    assert not store.path("m").exists() and not _partial(store, "m").exists()
    assert len(hub.file_requests("ggml-m.bin")) == 1  # a fresh transfer is not repeated


def test_wrong_listed_sha256_installs_nothing(hub, model_bytes, tmp_path):
    hub.add("ggml-m.bin", model_bytes, listed_sha256="2" * 64)
    store = hub.store(tmp_path, {"m": entry_for("m", model_bytes, sha1=None)})
    with pytest.raises(ModelIntegrityError, match="SHA-256 \\(listed by the hub\\) is"):
        store.download("m", progress=False)
    assert not store.path("m").exists()


def test_junk_partial_is_discarded_and_fetched_again_from_zero(hub, served, tmp_path,
                                                               model_bytes):
    store = hub.store(tmp_path, served)
    _partial(store, "m").write_bytes(b"\xff" * 4096)  # junk from some earlier crash
    assert store.download("m", progress=False).read_bytes() == model_bytes
    assert [r.range for r in hub.file_requests("ggml-m.bin")] == ["bytes=4096-", None]
    assert not _partial(store, "m").exists()


def test_fresh_transfer_with_a_bad_hash_is_not_repeated(hub, model_bytes, tmp_path):
    hub.add("ggml-m.bin", model_bytes)
    store = hub.store(tmp_path, {"m": entry_for("m", model_bytes, sha1="1" * 40)})
    _partial(store, "m").write_bytes(model_bytes[:4096])
    with pytest.raises(ModelIntegrityError, match="SHA-1"):
        store.download("m", progress=False)
    # Resumed try, then one from zero; both fail the check; nothing is kept.
    assert [r.range for r in hub.file_requests("ggml-m.bin")] == ["bytes=4096-", None]
    assert not _partial(store, "m").exists() and not store.path("m").exists()


def test_html_answer_is_not_installed(hub, model_bytes, tmp_path):
    hub.behaviour.html = True
    store = hub.store(tmp_path, {"m": entry_for("m", model_bytes, sha1=None)}, api_url="")
    with pytest.raises(ModelIntegrityError, match="not a valid model: .*HTML/text error page"):
        store.download("m", progress=False)
    assert not store.path("m").exists() and not _partial(store, "m").exists()


def test_broken_installed_file_is_replaced(hub, served, tmp_path, model_bytes):
    store = hub.store(tmp_path, served)
    store.path("m").write_bytes(model_bytes[:1000])
    assert store.download("m", progress=False).read_bytes() == model_bytes
    assert len(hub.file_requests("ggml-m.bin")) == 1


def test_unreachable_hub_says_which_file_to_put_where(tmp_path, model_bytes):
    base = f"http://127.0.0.1:{closed_port()}/files"
    store = ModelStore(tmp_path / "models", url_base=base, api_url="", retry=FAST_RETRY,
                       registry={"m": entry_for("m", model_bytes)}, offline=False)
    with pytest.raises(DownloadError) as err:
        store.download("m", progress=False)
    assert not isinstance(err.value, ModelNotFoundError)
    msg = str(err.value)
    assert f"could not be downloaded from {base}/ggml-m.bin" in msg
    assert "refused" in msg.lower()
    assert f"save it as the file ggml-m.bin in the directory {tmp_path / 'models'}" in msg
    assert f"Download {base}/ggml-m.bin" in msg


def test_offline_mode_makes_no_request(hub, served, tmp_path, monkeypatch):
    store = hub.store(tmp_path, served, offline=True)
    with pytest.raises(ModelNotFoundError, match="offline mode .* forbids downloads.*ggml-m.bin"):
        store.download("m", progress=False)
    monkeypatch.setenv("LUMINA_OFFLINE", "1")
    env_store = ModelStore(tmp_path, url_base=hub.url_base, api_url=hub.api_url,
                           registry=served)
    with pytest.raises(ModelNotFoundError, match="offline"):
        env_store.download("m", progress=False)
    assert hub.seen == []


def test_offline_mode_returns_an_installed_model(hub, served, tmp_path, model_bytes):
    hub.store(tmp_path, served).download("m", progress=False)
    n = len(hub.seen)
    assert hub.store(tmp_path, served, offline=True).download("m") == tmp_path / "ggml-m.bin"
    assert len(hub.seen) == n


def test_concurrent_processes_transfer_once(hub, served, tmp_path, model_bytes):
    hub.behaviour.gate = threading.Event()  # hold the first transfer open
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=download_in_child,
                         args=(str(tmp_path), hub.url_base, hub.api_url, served["m"], go, out))
             for _ in range(2)]
    for p in procs:
        p.start()
    assert [out.get(timeout=60) for _ in procs] == [("ready", None)] * 2
    go.set()
    _wait_for(lambda: hub.file_requests("ggml-m.bin"))
    # One process holds the transfer open; the other must be waiting on the download lock
    # before the transfer may finish (the overlap this test is about).
    _wait_for(lambda: _waiting_on_a_lock({p.pid for p in procs}))
    hub.behaviour.gate.set()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    assert results == [("ok", str(tmp_path / "ggml-m.bin"))] * 2
    assert [p.exitcode for p in procs] == [0, 0]
    assert len(hub.file_requests("ggml-m.bin")) == 1
    assert (tmp_path / "ggml-m.bin").read_bytes() == model_bytes


def _waiting_on_a_lock(pids: set[int]) -> bool:
    """Whether one of ``pids`` is blocked on a file lock (a ``->`` line of /proc/locks)."""
    for line in pathlib.Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[1] == "->" and int(fields[5]) in pids:
            return True
    return False


def _wait_for(cond, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_progress_bar_goes_to_stderr_only_on_a_terminal(hub, served, tmp_path, capsys):
    hub.store(tmp_path, served).download("m", progress=True)
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")  # captured stderr is not a TTY
