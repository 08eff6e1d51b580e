"""stream=true sends a transcript.text.delta per segment while whisper.cpp decodes; a failure before
the first segment is a plain HTTP error, one after it an error event; a client that leaves mid-stream
stops the decode."""

import asyncio
import json
import threading
import time

import httpx
import pytest

from lumina import Engine, Segment, Timings, Transcript
from lumina.apps.server import create_app
from lumina.errors import BackendError
from lumina.models import ModelStore
from _engine_util import HELLO_WAV
from _server_util import HoldingEngine, UvicornThread, raw_client

FORM = {"model": "micro", "stream": "true"}


@pytest.fixture(scope="module")
def hello_text(micro_model):
    with Engine(micro_model, threads=1) as engine:
        return engine.transcribe(HELLO_WAV).text


def holding_app(micro_model, tmp_path):
    holders: list[HoldingEngine] = []

    def factory(path, *, threads, cache, device, concurrency):
        holder = HoldingEngine(Engine(path, threads=threads, cache=cache, device=device,
                                      concurrency=concurrency, shared_weights=True))
        holders.append(holder)
        return holder
    app = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path),
                     engine_factory=factory)
    return app, holders


def files():
    return {"file": ("hello.wav", HELLO_WAV.read_bytes())}


def events_of(body: str) -> list[dict]:
    return [json.loads(line[len("data: "):]) for line in body.splitlines() if line.startswith("data: ")]


def test_deltas_reach_the_client_while_the_model_decodes(micro_model, tmp_path, hello_text):
    """The engine waits inside whisper.cpp's segment callback until the client has read the first
    delta: if deltas were sent only after the decode, that wait would run out (held False)."""
    app, holders = holding_app(micro_model, tmp_path)
    events = []
    with UvicornThread(app) as server, httpx.Client(base_url=server.url, timeout=300) as http:
        with http.stream("POST", "/v1/audio/transcriptions", files=files(), data=FORM) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[len("data: "):]))
                    holders[0].release.set()
    assert holders[0].held is True
    assert [e["type"] for e in events[:-1]] == ["transcript.text.delta"] * (len(events) - 1)
    assert len(events) >= 3 and events[-1]["type"] == "transcript.text.done"
    assert "".join(e["delta"] for e in events[:-1]) == events[-1]["text"] == hello_text


def test_a_client_that_leaves_mid_stream_stops_the_decode(micro_model, tmp_path, hello_text):
    app, holders = holding_app(micro_model, tmp_path)
    with UvicornThread(app) as server, httpx.Client(base_url=server.url, timeout=300) as http:
        with http.stream("POST", "/v1/audio/transcriptions", files=files(), data=FORM) as response:
            first = next(line for line in response.iter_lines() if line.startswith("data: "))
        # the connection is closed; the engine still waits inside whisper.cpp's callback
        pool = app.state.lumina.pools.items()[0][1]
        assert holders[0].holding.wait(60)
        holders[0].release.set()
        deadline = time.monotonic() + 60
        while (pool.stats.aborted, pool.stats.busy) != (1, 0) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (pool.stats.aborted, pool.stats.completed, pool.stats.busy) == (1, 0, 0)
        again = http.post("/v1/audio/transcriptions", files=files(), data={"model": "micro"})
    assert json.loads(first[len("data: "):])["type"] == "transcript.text.delta"
    assert again.json()["text"] == hello_text


class _StandIn:
    device, is_ready = "cpu", True
    segments = (Segment(0.0, 1.0, "first words", ()), Segment(1.0, 2.0, "and more", ()))

    def __init__(self, path=None, *, threads, cache, device, concurrency):
        pass

    def close(self):
        pass


class _FailsAfterASegment(_StandIn):
    def transcribe_samples(self, audio, options, *, should_abort=None, on_segment=None,
                           on_candidate=None):
        on_segment(self.segments[0])
        raise BackendError("whisper_full failed with status -7")


class _FailsAtOnce(_StandIn):
    def transcribe_samples(self, audio, options, *, should_abort=None, on_segment=None,
                           on_candidate=None):
        raise BackendError("whisper_full failed with status -7")


class _NotLive(_StandIn):
    """An engine that never calls on_segment: its segments are streamed from the transcript."""

    def transcribe_samples(self, audio, options, *, should_abort=None, on_segment=None,
                           on_candidate=None):
        return Transcript("first words and more", self.segments, "en", "cpu", Timings())


def post_stream(micro_model, tmp_path, factory) -> httpx.Response:
    app = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path),
                     engine_factory=factory)

    async def go():
        try:
            async with raw_client(app) as http:
                return await http.post("/v1/audio/transcriptions", files=files(), data=FORM)
        finally:
            await app.state.lumina.aclose()
    return asyncio.run(go()), app


def test_a_failure_after_the_first_segment_is_an_error_event(micro_model, tmp_path):
    response, app = post_stream(micro_model, tmp_path, _FailsAfterASegment)
    events = events_of(response.text)
    assert response.status_code == 200
    assert events[0] == {"type": "transcript.text.delta", "delta": "first words"}
    assert events[1]["error"]["code"] == "backend_error" and len(events) == 2
    metrics = app.state.lumina.metrics
    assert metrics.errors.labels("/v1/audio/transcriptions", "backend_error")._value.get() == 1


def test_a_failure_before_any_segment_is_an_http_error(micro_model, tmp_path):
    response, _ = post_stream(micro_model, tmp_path, _FailsAtOnce)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "backend_error"


def test_segments_an_engine_did_not_report_live_are_streamed_at_the_end(micro_model, tmp_path):
    response, _ = post_stream(micro_model, tmp_path, _NotLive)
    assert events_of(response.text) == [
        {"type": "transcript.text.delta", "delta": "first words"},
        {"type": "transcript.text.delta", "delta": " and more"},
        {"type": "transcript.text.done", "text": "first words and more"}]


def test_the_pool_runs_stream_jobs_on_their_worker_thread(micro_model, tmp_path):
    """on_segment is called on the worker thread, never on the event loop's."""
    loop_threads, seen = set(), []

    class Recording(_NotLive):
        def transcribe_samples(self, audio, options, *, should_abort=None, on_segment=None,
                               on_candidate=None):
            seen.append(threading.current_thread().name)
            for segment in self.segments:
                on_segment(segment)
            return super().transcribe_samples(audio, options)

    async def go():
        loop_threads.add(threading.current_thread().name)
        app = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path),
                         engine_factory=Recording)
        try:
            async with raw_client(app) as http:
                return await http.post("/v1/audio/transcriptions", files=files(), data=FORM)
        finally:
            await app.state.lumina.aclose()
    response = asyncio.run(go())
    assert [e.get("delta") for e in events_of(response.text)] == ["first words", " and more", None]
    assert seen and seen[0].startswith("lumina-serve-micro") and not loop_threads & set(seen)
