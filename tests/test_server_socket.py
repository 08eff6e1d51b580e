"""`lumina serve` over a real socket on 127.0.0.1: uvicorn in a thread, and the `lumina serve` command."""

import asyncio
import re
import signal
import subprocess
import sys
import time

import httpx
import openai
import pytest

from lumina import Engine
from lumina.apps.server import create_app
from lumina.apps.server.config import parse_model_option
from lumina.models import ModelStore
from _engine_util import HELLO_WAV
from _server_util import GatedFactory, UvicornThread, until
from _child_util import child_env


@pytest.fixture(scope="module")
def hello_text(micro_model):
    with Engine(micro_model, threads=1) as engine:
        return engine.transcribe(HELLO_WAV).text


def test_the_openai_client_over_a_socket(micro_model, tmp_path, hello_text):
    app = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path),
                     api_key="k3y")
    with UvicornThread(app) as server:
        client = openai.OpenAI(api_key="k3y", base_url=server.url + "/v1", max_retries=0)
        assert client.audio.transcriptions.create(file=HELLO_WAV, model="whisper-1").text == hello_text
        events = list(client.audio.transcriptions.create(file=HELLO_WAV, model="micro", stream=True))
        assert events[-1].type == "transcript.text.done" and events[-1].text == hello_text
        vtt = client.audio.transcriptions.create(file=HELLO_WAV, model="micro", response_format="vtt")
        assert vtt.startswith("WEBVTT\n\n")
        with pytest.raises(openai.BadRequestError):
            client.audio.transcriptions.create(file=("bad.wav", b"RIFF...."), model="micro")
        wrong = openai.OpenAI(api_key="nope", base_url=server.url + "/v1", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.audio.transcriptions.create(file=HELLO_WAV, model="micro")
        assert httpx.get(server.url + "/health").status_code == 200


def test_a_client_that_disconnects_mid_request_frees_its_worker(micro_model, tmp_path, hello_text):
    factory = GatedFactory()
    app = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path),
                     engine_factory=factory)
    with UvicornThread(app) as server:
        async def leave():
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
                request = asyncio.ensure_future(http.post(
                    "/v1/audio/transcriptions", files={"file": ("hello.wav", HELLO_WAV.read_bytes())},
                    data={"model": "micro"}))
                await until(lambda: factory.entered == 1)
                request.cancel()  # closes the connection
                await asyncio.gather(request, return_exceptions=True)
        asyncio.run(leave())
        pool = app.state.lumina.pools.items()[0][1]
        deadline = time.monotonic() + 30
        while pool.stats.busy and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (factory.aborted, pool.stats.aborted, pool.stats.busy) == (1, 1, 0)
        factory.gate.set()
        client = openai.OpenAI(api_key="x", base_url=server.url + "/v1", max_retries=0)
        assert client.audio.transcriptions.create(file=HELLO_WAV, model="micro").text == hello_text


def test_lumina_serve_command_end_to_end(micro_model, tmp_path, hello_text):
    env = child_env(LUMINA_HOME=str(tmp_path), LUMINA_API_KEY="")
    command = [sys.executable, "-m", "lumina.apps.cli", "serve", "--model", f"micro={micro_model}",
               "--port", "0", "--threads", "1", "--no-installed", "--log-level", "info"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        url = None
        for line in process.stderr:
            found = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", line)
            if found:
                url = found.group(1)
                break
        assert url is not None, "lumina serve did not start"
        client = openai.OpenAI(api_key="unused", base_url=url + "/v1", max_retries=0)
        assert [m.id for m in client.models.list().data] == ["micro"]
        assert client.audio.transcriptions.create(file=HELLO_WAV, model="micro").text == hello_text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stderr.close()
    assert code == 0


def test_serve_refuses_a_model_that_is_not_there(tmp_path):
    env = child_env(LUMINA_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "lumina.apps.cli", "serve", "--model",
                           str(tmp_path / "none.bin"), "--port", "0"],
                          env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("lumina: error: no model file at")


@pytest.mark.parametrize("value, expected", [
    ("tiny.en", ("tiny.en", "tiny.en")),
    ("fast=tiny.en", ("fast", "tiny.en")),
    ("models/ggml-base.en.bin", ("base.en", "models/ggml-base.en.bin")),
    ("mine=/m/x.bin", ("mine", "/m/x.bin")),
])
def test_model_options(value, expected):
    assert parse_model_option(value) == expected
