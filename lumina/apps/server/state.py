"""What every route shares: settings, the model catalogue, the worker pools, metrics, sessions."""

from __future__ import annotations

import asyncio
import dataclasses

from lumina.apps.server.config import ModelCatalog, ServedModel, ServerConfig
from lumina.apps.server.errors import ApiError
from lumina.apps.server.metrics import Metrics
from lumina.apps.server.pool import JobResult, PoolJob, WorkerPools
from lumina.audio.convert import SAMPLE_RATE

__all__ = ["ClientGone", "ServerState"]


class ClientGone(Exception):
    """The client disconnected before its answer was ready; its job was stopped."""


@dataclasses.dataclass
class ServerState:
    """The shared state of one app (``app.state.lumina``)."""

    config: ServerConfig
    catalog: ModelCatalog
    pools: WorkerPools
    metrics: Metrics
    realtime_sessions: set = dataclasses.field(default_factory=set)

    @classmethod
    def build(cls, config: ServerConfig) -> ServerState:
        """Resolve the configured models (failing now if one is missing or broken) and make the pools."""
        catalog = ModelCatalog(config)
        cache = None
        if config.cache:
            from lumina.cache import PhraseCache
            cache = PhraseCache()
        factory = config.engine_factory
        pools = WorkerPools(workers=config.workers, max_queue=config.max_queue,
                        threads=config.threads_per_worker(), device=config.device, cache=cache,
                        factory=factory)
        return cls(config, catalog, pools, Metrics(pools))

    def start_loading(self) -> None:
        """Make the configured models' pools now, so their engines load before the first request."""
        for served in self.catalog.names()[:len(self.config.models)]:
            self.pools.get(served.name, served.path)

    async def run(self, served: ServedModel, job: PoolJob, *, disconnected=None,
                  bounded: bool = True) -> JobResult:
        """Run a job within the time limit; stop it when ``disconnected`` (an awaitable) finishes first.

        ``bounded=False`` waits however long the queue is (realtime sessions,
        whose number is limited on their own).

        Raises
        ------
        ApiError
            504 when the time limit passed (the job was stopped).
        ClientGone
            The client left (the job was stopped).
        PoolFull, LuminaError
            From the pool and the engine.
        """
        pool = self.pools.get(served.name, served.path)
        work = asyncio.ensure_future(pool.run(job, bounded=bounded))
        watcher = asyncio.ensure_future(disconnected) if disconnected is not None else None
        waiting = {work} if watcher is None else {work, watcher}
        try:
            done, _ = await asyncio.wait(waiting, timeout=self.config.request_timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            if watcher is not None:
                watcher.cancel()
            if not work.done():
                work.cancel()  # the pool tells the worker to abort
        if work in done:
            result = work.result()
            self.metrics.job_done(served.name, result, len(job.audio) / SAMPLE_RATE)
            return result
        if watcher is not None and watcher in done:
            raise ClientGone
        raise ApiError(504, f"The request did not finish within this server's limit of "
                            f"{self.config.request_timeout_s:g} s; send shorter audio or try later.",
                       "server_error", code="timeout")

    async def aclose(self) -> None:
        """End realtime sessions and free every worker."""
        for session in list(self.realtime_sessions):
            await session.close()
        await self.pools.aclose()
