"""Helpers of the server tests: an in-process openai client, a uvicorn thread, a gated engine."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import httpx
import openai

from lumina import Engine
from lumina.errors import TranscriptionAborted


def asgi_client(app, api_key: str = "unused", **options) -> openai.AsyncOpenAI:
    """The official client talking to ``app`` in-process through httpx's ASGI transport."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://lumina.test")
    return openai.AsyncOpenAI(api_key=api_key, base_url="http://lumina.test/v1", http_client=http,
                              **options)


def raw_client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://lumina.test")


@contextlib.asynccontextmanager
async def running(app):
    """Run the app's lifespan (model loading at start, every worker freed at the end)."""
    async with app.router.lifespan_context(app):
        yield app


class UvicornThread:
    """A uvicorn server on 127.0.0.1 (a free port) in a thread of this process; ``stop()`` ends it."""

    def __init__(self, app) -> None:
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on",
                                ws="websockets-sansio")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    def __enter__(self) -> UvicornThread:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self._thread.join(60)
        assert not self._thread.is_alive(), "uvicorn did not stop"


class _WrappedEngine:
    """What the engine protocol asks besides ``transcribe_samples``, passed to ``self.engine``."""

    engine: Engine

    @property
    def device(self):
        return self.engine.device

    @property
    def is_ready(self):
        return self.engine.is_ready

    def close(self) -> None:
        self.engine.close()


class GatedEngine(_WrappedEngine):
    """A real Engine whose calls first wait for ``gate`` (honouring should_abort), so a test can
    hold a worker busy for as long as it needs; ``entered`` counts calls that began."""

    def __init__(self, engine: Engine, gate: threading.Event) -> None:
        self.engine = engine
        self.gate = gate
        self.entered = 0
        self.aborted = 0
        self._lock = threading.Lock()

    def transcribe_samples(self, audio, options, *, should_abort=None, on_segment=None,
                           on_candidate=None):
        with self._lock:
            self.entered += 1
        while not self.gate.wait(0.01):
            if should_abort is not None and should_abort():
                with self._lock:
                    self.aborted += 1
                raise TranscriptionAborted("stopped while held at the gate")
        return self.engine.transcribe_samples(audio, options, should_abort=should_abort,
                                              on_segment=on_segment, on_candidate=on_candidate)


class GatedFactory:
    """``engine_factory`` making GatedEngines that share one gate; ``engines`` lists them.

    Like the server's default factory, one engine serves all ``concurrency`` workers of a model
    (one copy of the weights, a whisper.cpp state per worker)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.engines: list[GatedEngine] = []

    def __call__(self, path, *, threads, cache, device, concurrency):
        engine = GatedEngine(Engine(path, threads=threads, cache=cache, device=device,
                                    concurrency=concurrency, shared_weights=True), self.gate)
        self.engines.append(engine)
        return engine

    @property
    def entered(self) -> int:
        return sum(e.entered for e in self.engines)

    @property
    def aborted(self) -> int:
        return sum(e.aborted for e in self.engines)


async def until(predicate, timeout: float = 30.0) -> None:
    """Wait (polling) until ``predicate()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


class HoldingEngine(_WrappedEngine):
    """A real Engine that, after handing its first segment on, waits inside whisper.cpp's segment
    callback until ``release`` is set; ``held`` says whether the release came while it waited."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.holding = threading.Event()
        self.release = threading.Event()
        self.held = None

    def transcribe_samples(self, audio, options, *, should_abort=None, on_segment=None,
                           on_candidate=None):
        hold = None
        if on_segment is not None:
            def hold(segment):
                on_segment(segment)
                if self.held is None:
                    self.holding.set()
                    self.held = self.release.wait(120)

        return self.engine.transcribe_samples(audio, options, should_abort=should_abort,
                                              on_segment=hold, on_candidate=on_candidate)


class GrowingEngine:
    """A model stand-in whose hypothesis grows with the audio: ``w0 ... wN``, one word per started
    quarter second. Every hypothesis extends the previous one, so each utterance's deltas must
    join to exactly its final text, whatever the partial windows were. (Also an engine factory.)"""

    device, is_ready = "cpu", True

    def __init__(self, path=None, *, threads=None, cache=None, device=None, concurrency=1) -> None:
        pass

    def transcribe_samples(self, audio, options, *, should_abort=None, on_segment=None,
                           on_candidate=None):
        from _stream_util import transcript
        return transcript(list(range(len(audio) // 4000 + 1)))

    @staticmethod
    def text_for(n_samples: int) -> str:
        return " ".join(f"w{i}" for i in range(n_samples // 4000 + 1))

    def close(self) -> None:
        pass
