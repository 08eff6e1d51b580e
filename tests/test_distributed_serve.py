"""`lumina serve --ray`: the server as Ray Serve replicas on a two-node cluster started on 127.0.0.1.

The cluster starts once for the module, and ``lumina serve --ray ADDRESS --replicas 2`` once
(a child process, as a user runs it); the tests talk to Serve's proxy with the official openai
client, httpx and a websockets client. The last test stops the command and checks that Serve's
controller, proxy and replicas are gone; ``local_cluster`` then checks that nothing at all is
left. The first tests need no cluster.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import _ray_util  # noqa: F401  (first: sets what Ray reads at import)
import httpx
import numpy as np
import openai
import pytest
from _child_util import REPO_ROOT, lumina_command
from _engine_util import HELLO_WAV, hello
from _ray_util import descendants, local_cluster, wait_gone
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from lumina import Engine, Segmenter
from lumina.streaming import SpeechEnd, SpeechStart
from lumina.apps.cli import build_parser
from lumina.apps.distributed import serve as ray_serve
from lumina.apps.distributed.replica import NODE_HEADER, REPLICA_HEADER, ReplicaIdentity, relabel
from lumina.apps.distributed.routing import SpreadRouter
from lumina.apps.server import ServerConfig, create_app
from lumina.asr.formats import render
from lumina.errors import ArgumentError, ModelIntegrityError, ModelNotFoundError
from lumina.models import ModelStore
from _server_util import raw_client

pytestmark = pytest.mark.slow

KEY = "s3rve-key"
PREFIX = "conversation.item.input_audio_transcription"
SERVE_ACTORS = ("ray::ServeController", "ray::ProxyActor", "ray::ServeReplica")


@pytest.fixture(autouse=True)
def from_the_repository_root(monkeypatch):
    """Run from the repository's root, as README's commands are. Ray puts the driver's working
    directory first on the workers' import path unless the job says otherwise; the unbuilt
    ``lumina/`` there (in CI) must not shadow the installed package (issue 17)."""
    monkeypatch.chdir(REPO_ROOT)


@pytest.fixture(scope="module")
def hello_transcript(micro_model):
    with Engine(micro_model, threads=1) as engine:  # one thread, as each replica runs
        return engine.transcribe(HELLO_WAV)


# ---------------------------------------------------------------------- without a cluster

def test_build_app_names_what_it_cannot_take(micro_model):
    with pytest.raises(ArgumentError, match=r"unknown lumina serve setting\(s\) 'modles', 'port'"):
        ray_serve.build_app({"modles": {"m": str(micro_model)}, "port": 80})
    with pytest.raises(ArgumentError, match="workers must be an integer >= 1, got 0"):
        ray_serve.build_app({"models": [f"m={micro_model}"], "workers": 0})
    with pytest.raises(ArgumentError, match="replicas must be an integer >= 1, got 0"):
        ray_serve.build_app({"models": [f"m={micro_model}"], "replicas": 0})
    with pytest.raises(ArgumentError, match="a replica needs some CPUs or GPUs"):
        ray_serve.build_app({"models": [f"m={micro_model}"], "cpus_per_replica": 0})


def test_a_broken_model_file_fails_before_anything_is_deployed(micro_model, tmp_path):
    broken = tmp_path / "broken.bin"
    broken.write_bytes(micro_model.read_bytes()[:100_000])
    with pytest.raises(ModelIntegrityError, match="broken.bin"):
        ray_serve.serve_application(ServerConfig(models={"m": str(broken)}, serve_installed=False))


def test_a_replica_checks_its_model_file_against_the_drivers_hash(micro_model):
    config = ServerConfig(models={"m": str(micro_model)}, serve_installed=False)
    with pytest.raises(ModelIntegrityError, match=f"SHA-256 is [0-9a-f]{{64}} but {'0' * 64} was expected"):
        ray_serve.replica_app(config, {"m": "0" * 64})


def test_the_replica_wrapper_names_itself_and_labels_its_metrics(micro_model, tmp_path):
    inner = create_app(models={"m": micro_model}, threads=1, store=ModelStore(tmp_path), api_key="k")
    app = ReplicaIdentity(inner, replica="r1", node="n1")

    async def go():
        async with raw_client(app) as http:
            health = await http.get("/health")
            refused = await http.get("/metrics")
            metrics = await http.get("/metrics", headers={"Authorization": "Bearer k"})
        await inner.state.lumina.aclose()
        return health, refused, metrics

    health, refused, metrics = asyncio.run(go())
    for answer in (health, refused, metrics):
        assert (answer.headers[REPLICA_HEADER], answer.headers[NODE_HEADER]) == ("r1", "n1")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert metrics.status_code == 200 and int(metrics.headers["content-length"]) == len(metrics.content)
    samples = [s for f in text_string_to_metric_families(metrics.text) for s in f.samples]
    assert samples and all((s.labels["replica"], s.labels["node"]) == ("r1", "n1") for s in samples)
    requests = {s.labels["route"]: s.value for s in samples if s.name == "lumina_requests_total"}
    assert requests == {"/health": 1.0, "/metrics": 1.0}  # the refused scrape; this one counts later


def test_relabel_adds_labels_and_changes_nothing_else():
    text = (b'# HELP jobs_total Jobs\n# TYPE jobs_total counter\njobs_total{model="a"} 3.0\n'
            b'# HELP depth Depth\n# TYPE depth gauge\ndepth 2.0\n')
    assert relabel(text, {}) == text
    assert relabel(text, {"replica": 'x"y'}) == (
        b'# HELP jobs_total Jobs\n# TYPE jobs_total counter\njobs_total{model="a",replica="x\\"y"} 3.0\n'
        b'# HELP depth Depth\n# TYPE depth gauge\ndepth{replica="x\\"y"} 2.0\n')


def test_the_router_offers_two_different_replicas_in_one_rank():
    router = object.__new__(SpreadRouter)  # choose_replicas reads nothing of the router's state
    replicas = ["a", "b", "c"]
    ranks = [asyncio.run(router.choose_replicas(replicas)) for _ in range(200)]
    assert all(len(r) == 1 and len(r[0]) == 2 and len(set(r[0])) == 2 for r in ranks)
    assert {frozenset(r[0]) for r in ranks} == {frozenset("ab"), frozenset("ac"), frozenset("bc")}
    assert asyncio.run(router.choose_replicas(["a"])) == [["a"]]
    assert asyncio.run(router.choose_replicas([])) == []


def test_the_serve_command_takes_the_ray_options():
    args = build_parser().parse_args(["serve", "--ray", "--replicas", "3", "--cpus-per-replica", "2",
                                      "--proxy-location", "HeadOnly"])
    assert (args.ray, args.replicas, args.cpus_per_replica, args.gpus_per_replica,
            args.proxy_location) == ("", 3, 2.0, 0.0, "HeadOnly")
    assert build_parser().parse_args(["serve"]).ray is None
    assert build_parser().parse_args(["serve", "--ray", "10.0.0.1:6379"]).ray == "10.0.0.1:6379"


# ---------------------------------------------------------------------- on a two-node cluster

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_processes() -> dict[int, str]:
    """This process's descendants that are Serve's controller, a proxy or a replica."""
    found = {}
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if command.startswith(SERVE_ACTORS):
            found[pid] = command.strip()
    return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two nodes whose model stores are empty (LUMINA_HOME, read by the nodes' processes)."""
    saved = os.environ.get("LUMINA_HOME")
    os.environ["LUMINA_HOME"] = str(tmp_path_factory.mktemp("empty-home"))
    try:
        with local_cluster(nodes=2, cpus=1) as c:
            yield c
    finally:
        if saved is None:
            os.environ.pop("LUMINA_HOME", None)
        else:
            os.environ["LUMINA_HOME"] = saved


def test_a_node_without_the_model_stops_the_start_with_its_error(cluster, tmp_path):
    config = ServerConfig(models={"base.en": "base.en"}, serve_installed=False, threads=1)
    stop = threading.Event()  # set if the replicas do start, so that the call returns
    with pytest.raises(ModelNotFoundError, match=r"a replica could not start on the Ray cluster: .*"
                                                 r"base\.en.* is not installed"):
        ray_serve.run_on_ray(config, address=cluster.address, port=free_port(), replicas=1,
                             proxy_location="HeadOnly", stop=stop, on_ready=lambda url: stop.set())
    assert wait_gone(set(serve_processes())) == set()  # the Serve it started, shut down


class ServeCommand:
    """``lumina serve --ray ADDRESS --replicas 2`` in a child process, run from the repository's
    root as README runs it; its stderr is kept."""

    def __init__(self, cluster, model) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [*lumina_command(), "serve", "--ray", cluster.address,
                   "--replicas", "2", "--proxy-location", "HeadOnly", "--port", str(self.port),
                   "--model", f"micro={model}", "--threads", "1", "--no-installed", "--api-key", KEY]
        # The child inherits PYTHONPATH (the tested lumina first) from local_cluster.
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True,
                                        env=dict(os.environ, LUMINA_API_KEY=""))
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)
            if line.startswith("lumina: serving on "):
                self.ready.set()

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("lumina serve --ray did not start:\n" + "".join(self.lines[-40:]))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(120)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._reader.join(10)
            self.process.stderr.close()


@pytest.fixture(scope="module")
def server(cluster, micro_model):
    command = ServeCommand(cluster, micro_model)
    try:
        command.wait_ready()
        yield command
    finally:
        command.stop()


def node_ids(cluster) -> set[str]:
    return {node.node_id for node in cluster.list_all_nodes()}


def test_two_replicas_answer_the_openai_client(server, cluster, hello_transcript):
    assert f"lumina: serving on {server.url} with 2 replica(s) on Ray" in "".join(server.lines)

    async def go():
        client = openai.AsyncOpenAI(api_key=KEY, base_url=server.url + "/v1", max_retries=0)
        create = client.audio.transcriptions.with_raw_response.create
        answers = await asyncio.gather(*[create(file=HELLO_WAV, model="micro") for _ in range(6)],
                                       create(file=HELLO_WAV, model="whisper-1", response_format="srt"))
        await client.close()
        return answers

    # The router chooses between the two replicas by queue length, so a loaded machine may
    # send one burst to a single replica; up to three bursts must reach both.
    replicas, nodes = set(), set()
    for _ in range(3):
        answers = asyncio.run(go())
        assert [a.parse().text for a in answers[:6]] == [hello_transcript.text] * 6
        assert answers[6].parse() == render(hello_transcript, "srt")
        replicas |= {a.headers[REPLICA_HEADER] for a in answers}
        nodes |= {a.headers[NODE_HEADER] for a in answers}
        if len(replicas) == 2:
            break
    assert len(replicas) == 2  # the proxy's node has one replica; the router used the other too
    assert nodes == node_ids(cluster)


def test_the_api_key_is_enforced_through_the_proxy(server):
    wrong = openai.OpenAI(api_key="wrong", base_url=server.url + "/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        wrong.audio.transcriptions.create(file=HELLO_WAV, model="micro")
    assert refused.value.response.json()["error"]["code"] == "invalid_api_key"
    anonymous = httpx.get(server.url + "/v1/models")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    health = httpx.get(server.url + "/health")
    assert health.status_code == 200 and health.json()["models"]["micro"]["workers"] == 1
    models = httpx.get(server.url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    assert [m["id"] for m in models.json()["data"]] == ["micro"]

    async def websocket_without_key():
        with pytest.raises(InvalidStatus) as closed:
            async with connect(server.url.replace("http", "ws") + "/v1/realtime?intent=transcription"):
                pass
        return closed.value.response.status_code
    assert asyncio.run(websocket_without_key()) == 403


def test_metrics_are_answered_by_one_replica_and_carry_its_labels(server, cluster):
    scrapes = [httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {KEY}"})
               for _ in range(8)]
    for scrape in scrapes:
        assert scrape.status_code == 200
        name = (scrape.headers[REPLICA_HEADER], scrape.headers[NODE_HEADER])
        families = {f.name: f for f in text_string_to_metric_families(scrape.text)}
        samples = [s for f in families.values() for s in f.samples]
        assert samples and all((s.labels["replica"], s.labels["node"]) == name for s in samples)
        assert [(s.labels["model"], s.value) for s in families["lumina_workers"].samples] == [("micro", 1)]
    assert {s.headers[NODE_HEADER] for s in scrapes} <= node_ids(cluster)
    assert httpx.get(server.url + "/metrics").status_code == 401


def test_a_realtime_session_through_serve(server, micro_model):
    samples = np.concatenate([np.zeros(8000, np.float32), hello(), np.zeros(16000, np.float32)])
    pcm = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2")
    events = asyncio.run(realtime_session(server, pcm))

    reference = Segmenter(16000, hangover_ms=300, pre_roll_ms=200)  # the server's settings
    segments = list(reference.feed(pcm.astype(np.float32) / 32768))
    starts = [e for e in segments if isinstance(e, SpeechStart)]
    ends = [e for e in segments if isinstance(e, SpeechEnd)]
    assert len(starts) == len(ends) >= 1
    with Engine(micro_model, threads=1) as engine:
        finals = [engine.transcribe(e.audio).text for e in ends]

    def of(kind):
        return [e for e in events if e["type"] == kind]

    assert [e["type"] for e in events[:2]] == ["session.created", "session.updated"]
    assert [e["audio_start_ms"] for e in of("input_audio_buffer.speech_started")] == [
        max(0, s.start_sample - reference.pre_roll_samples) * 1000 // 16000 for s in starts]
    assert [e["audio_end_ms"] for e in of("input_audio_buffer.speech_stopped")] == [
        e.end_sample * 1000 // 16000 for e in ends]
    completed = of(f"{PREFIX}.completed")
    assert [e["transcript"] for e in completed] == finals  # one per utterance
    items = [e["item_id"] for e in of("input_audio_buffer.speech_started")]
    assert [e["item_id"] for e in completed] == items and len(set(items)) == len(items)
    assert not of("error")


async def realtime_session(server, pcm: np.ndarray) -> list[dict]:
    """Stream ``pcm`` (16 kHz) at twice real time; collect events until every utterance completed."""
    url = server.url.replace("http", "ws") + "/v1/realtime?intent=transcription"
    events: list[dict] = []
    async with connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
        events.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
        await ws.send(json.dumps({"type": "session.update", "session": {
            "type": "transcription", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}}}))
        events.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))

        async def read():
            async for message in ws:
                events.append(json.loads(message))

        reader = asyncio.ensure_future(read())
        for i in range(0, len(pcm), 1600):
            chunk = base64.b64encode(pcm[i:i + 1600].tobytes()).decode()
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
            await asyncio.sleep(0.05)
        deadline = time.monotonic() + 60

        def done() -> bool:
            kinds = [e["type"] for e in events]
            return kinds.count(f"{PREFIX}.completed") == kinds.count("input_audio_buffer.speech_started")
        while not done() or not any(e["type"] == f"{PREFIX}.completed" for e in events):
            assert time.monotonic() < deadline, [e["type"] for e in events]
            await asyncio.sleep(0.05)
        # The audio ends in silence: the commit's answer is "nothing to commit", sent once the
        # session's stream has ended, so every event of its items came before it.
        await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        while not events or events[-1]["type"] != "error":
            assert time.monotonic() < deadline, [e["type"] for e in events]
            await asyncio.sleep(0.05)
        reader.cancel()
    assert events[-1]["error"]["code"] == "input_audio_buffer_commit_empty"
    return events[:-1]


def test_stopping_the_command_takes_serve_down(server):
    actors = serve_processes()
    kinds = sorted(re.match(r"ray::(\w+)", command).group(1) for command in actors.values())
    assert kinds == ["ProxyActor", "ServeController", "ServeReplica", "ServeReplica"]
    assert server.stop() == 0
    assert "Traceback" not in "".join(server.lines)
    assert wait_gone(set(actors)) == set()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/health")
