"""The server's worker pool: a full queue answers 503 and recovers, a client that leaves frees its
worker, the time limit answers 504, jobs run in arrival order, workers run side by side."""

import asyncio
import dataclasses

import openai
import pytest

from lumina import Engine
from lumina.apps.server import create_app
from lumina.apps.server.pool import PoolFull, PoolJob, WorkerPool
from lumina.models import ModelStore
from _engine_util import HELLO_WAV
from lumina.testing import speechlike
from _server_util import GatedEngine, GatedFactory, asgi_client, until


@pytest.fixture(scope="module")
def hello_text(micro_model):
    with Engine(micro_model, threads=1) as engine:
        return engine.transcribe(HELLO_WAV).text


def gated_app(micro_model, tmp_path, **settings):
    factory = GatedFactory()
    app = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path),
                     engine_factory=factory, **settings)
    return app, factory


def transcribe(app, **options):
    client = asgi_client(app, max_retries=0)
    return client.audio.transcriptions.create(file=HELLO_WAV, model="micro", **options)


def test_a_full_queue_answers_503_with_retry_after_and_recovers(micro_model, tmp_path, hello_text):
    app, factory = gated_app(micro_model, tmp_path, workers=1, max_queue=1)
    pool = lambda: app.state.lumina.pools.items()[0][1]  # noqa: E731

    async def go():
        try:
            running = asyncio.ensure_future(transcribe(app))
            await until(lambda: factory.entered == 1)          # the only worker is held
            queued = asyncio.ensure_future(transcribe(app))
            await until(lambda: pool().stats.waiting == 1)     # the queue's only place is taken
            with pytest.raises(openai.InternalServerError) as info:
                await transcribe(app)
            factory.gate.set()
            texts = [(await running).text, (await queued).text, (await transcribe(app)).text]
            return info.value, texts, pool().stats
        finally:
            factory.gate.set()
            await app.state.lumina.aclose()
    refused, texts, stats = asyncio.run(go())
    assert refused.status_code == 503
    assert refused.response.json()["error"]["code"] == "server_busy"
    assert int(refused.response.headers["retry-after"]) >= 1
    assert texts == [hello_text] * 3
    assert (stats.completed, stats.rejected, stats.aborted, stats.busy, stats.waiting) == (3, 1, 0, 0, 0)


def test_a_client_that_leaves_frees_its_worker(micro_model, tmp_path, hello_text):
    app, factory = gated_app(micro_model, tmp_path, workers=1)

    async def go():
        try:
            leaving = asyncio.ensure_future(transcribe(app))
            await until(lambda: factory.entered == 1)
            leaving.cancel()                                  # the client goes away mid-request
            pool = app.state.lumina.pools.items()[0][1]
            await until(lambda: pool.stats.busy == 0)
            factory.gate.set()
            return (await transcribe(app)).text, pool.stats, factory.aborted
        finally:
            factory.gate.set()
            await app.state.lumina.aclose()
    text, stats, aborted = asyncio.run(go())
    assert aborted == 1
    assert (stats.aborted, stats.completed, stats.busy) == (1, 1, 0)
    assert text == hello_text


def test_a_client_that_leaves_the_queue_never_runs(micro_model, tmp_path):
    app, factory = gated_app(micro_model, tmp_path, workers=1)

    async def go():
        try:
            first = asyncio.ensure_future(transcribe(app))
            await until(lambda: factory.entered == 1)
            pool = app.state.lumina.pools.items()[0][1]
            second = asyncio.ensure_future(transcribe(app))
            await until(lambda: pool.stats.waiting == 1)
            second.cancel()
            await until(lambda: pool.stats.waiting == 0)
            factory.gate.set()
            await first
            return pool.stats, factory.entered
        finally:
            factory.gate.set()
            await app.state.lumina.aclose()
    stats, entered = asyncio.run(go())
    assert entered == 1
    assert (stats.completed, stats.aborted, stats.busy, stats.waiting) == (1, 0, 0, 0)


def test_the_time_limit_answers_504_and_stops_the_job(micro_model, tmp_path, hello_text):
    app, factory = gated_app(micro_model, tmp_path, workers=1, request_timeout_s=0.3)

    async def go():
        try:
            with pytest.raises(openai.InternalServerError) as info:
                await transcribe(app)
            pool = app.state.lumina.pools.items()[0][1]
            await until(lambda: pool.stats.busy == 0)
            factory.gate.set()
            # The next request may take longer than 0.3 s on a busy machine: lift the limit.
            state = app.state.lumina
            state.config = dataclasses.replace(state.config, request_timeout_s=300.0)
            return info.value, (await transcribe(app)).text, pool.stats
        finally:
            factory.gate.set()
            await app.state.lumina.aclose()
    timed_out, text, stats = asyncio.run(go())
    assert timed_out.status_code == 504
    assert timed_out.response.json()["error"]["code"] == "timeout"
    assert (stats.aborted, stats.completed) == (1, 1)
    assert text == hello_text


# ---------------------------------------------------------------------- the pool itself

@pytest.fixture
def gated_pool(micro_model):
    def make(n, max_queue):
        factory = GatedFactory()
        workers = [factory(micro_model, threads=1, cache=None, device="cpu", concurrency=1)
                   for _ in range(n)]
        return WorkerPool(workers, max_queue, "micro"), factory
    return make


def test_jobs_run_in_arrival_order(gated_pool, micro_model):
    pool, factory = gated_pool(1, 8)
    clips = [speechlike(1.0 + 0.25 * i, seed=i) for i in range(4)]
    order = []

    async def one(i):
        result = await pool.run(PoolJob(clips[i]))
        order.append(i)
        return result.transcript.text

    async def go():
        try:
            tasks = [asyncio.ensure_future(one(0))]
            await until(lambda: factory.entered == 1)
            for i in range(1, 4):
                tasks.append(asyncio.ensure_future(one(i)))
                await until(lambda: pool.stats.waiting == i)
            factory.gate.set()
            return await asyncio.gather(*tasks)
        finally:
            await pool.aclose()
    texts = asyncio.run(go())
    assert order == [0, 1, 2, 3]
    with Engine(micro_model, threads=1) as engine:
        assert texts == [engine.transcribe(c).text for c in clips]


def test_workers_run_side_by_side(gated_pool):
    pool, factory = gated_pool(2, 0)

    async def go():
        try:
            jobs = [asyncio.ensure_future(pool.run(PoolJob(speechlike(1.0, seed=i)))) for i in range(2)]
            await until(lambda: factory.entered == 2)     # both held at once: two workers
            busy = pool.stats.busy
            with pytest.raises(PoolFull) as info:        # no queue at all
                await pool.run(PoolJob(speechlike(1.0)))
            factory.gate.set()
            await asyncio.gather(*jobs)
            return busy, info.value.retry_after, pool.stats
        finally:
            factory.gate.set()
            await pool.aclose()
    busy, retry_after, stats = asyncio.run(go())
    assert busy == 2 and retry_after >= 1
    assert (stats.completed, stats.rejected, stats.busy) == (2, 1, 0)


def test_closing_the_pool_stops_running_and_waiting_jobs(gated_pool):
    from lumina.errors import StateError

    pool, factory = gated_pool(1, 4)

    async def go():
        running = asyncio.ensure_future(pool.run(PoolJob(speechlike(1.0))))
        await until(lambda: factory.entered == 1)
        waiting = asyncio.ensure_future(pool.run(PoolJob(speechlike(1.0))))
        await until(lambda: pool.stats.waiting == 1)
        await pool.aclose()
        return await asyncio.gather(running, waiting, return_exceptions=True)
    outcomes = asyncio.run(go())
    assert [type(o).__name__ for o in outcomes] == ["WorkAborted", "StateError"]
    assert isinstance(outcomes[1], StateError)
    assert factory.aborted == 1


def test_an_engine_failure_is_a_server_error_and_the_worker_survives(micro_model, tmp_path):
    class Failing(GatedEngine):
        calls = 0

        def transcribe_samples(self, audio, options, **hooks):
            Failing.calls += 1
            if Failing.calls == 1:
                from lumina.errors import BackendError
                raise BackendError("whisper_full failed (status -7)")
            return super().transcribe_samples(audio, options, **hooks)

    factory = GatedFactory()
    factory.gate.set()

    def make(path, **kw):
        engine = Failing(Engine(path, **kw), factory.gate)
        factory.engines.append(engine)
        return engine

    app = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path),
                     engine_factory=make)

    async def go():
        try:
            with pytest.raises(openai.InternalServerError) as info:
                await transcribe(app)
            return info.value, (await transcribe(app)).text, app.state.lumina.pools.items()[0][1].stats
        finally:
            await app.state.lumina.aclose()
    failed, text, stats = asyncio.run(go())
    assert failed.status_code == 500 and failed.response.json()["error"]["code"] == "backend_error"
    assert text and (stats.failed, stats.completed, stats.busy) == (1, 1, 0)

