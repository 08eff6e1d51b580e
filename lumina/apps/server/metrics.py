"""Prometheus metrics of one server (its own registry, so several apps can live in one process).

Request counts, errors and latencies are recorded as requests pass; queue
depth, busy workers, aborted jobs and devices are read from the pools when
``/metrics`` is scraped, so they are never stale.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

__all__ = ["Metrics", "MetricsMiddleware"]

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Metrics:
    """The metric objects of one server and the text ``/metrics`` answers with."""

    def __init__(self, pools) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("lumina_requests", "HTTP requests answered", ["route", "status"], registry=r)
        self.errors = Counter("lumina_errors", "Requests answered with an error, by OpenAI error code",
                              ["route", "code"], registry=r)
        self.latency = Histogram("lumina_request_seconds", "Time from request to full response",
                                 ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.queue_wait = Histogram("lumina_queue_wait_seconds", "Time a job waited for a worker",
                                    ["model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.inference = Histogram("lumina_inference_seconds", "Time a worker spent on a job",
                                   ["model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.audio_seconds = Counter("lumina_audio_seconds", "Seconds of audio transcribed",
                                     ["model"], registry=r)
        self.cache_hits = Counter("lumina_cache_hits", "Transcripts answered by the phrase cache",
                                  ["model"], registry=r)
        self.realtime_sessions = Gauge("lumina_realtime_sessions", "Open realtime WebSocket sessions",
                                       registry=r)
        r.register(_PoolCollector(pools))

    def job_done(self, model: str, result, audio_s: float) -> None:
        """Record one finished job (a :class:`~lumina.apps.server.pool.JobResult`)."""
        self.queue_wait.labels(model).observe(result.wait_s)
        self.inference.labels(model).observe(result.run_s)
        self.audio_seconds.labels(model).inc(audio_s)
        if result.transcript.from_cache:
            self.cache_hits.labels(model).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class _PoolCollector:
    """Reads the pools at scrape time."""

    def __init__(self, pools) -> None:
        self._pools = pools

    def describe(self):
        return []

    def collect(self):
        depth = GaugeMetricFamily("lumina_queue_depth", "Jobs waiting for a worker", labels=["model"])
        busy = GaugeMetricFamily("lumina_workers_busy", "Workers running a job", labels=["model"])
        workers = GaugeMetricFamily("lumina_workers", "Workers (requests decoded at once)", labels=["model"])
        aborted = CounterMetricFamily("lumina_jobs_aborted", "Jobs stopped early (client gone or "
                                      "time limit)", labels=["model"])
        rejected = CounterMetricFamily("lumina_jobs_rejected", "Jobs refused because the queue was "
                                       "full (503)", labels=["model"])
        device = GaugeMetricFamily("lumina_device_info", "Device each model runs on (1 per device)",
                                   labels=["model", "device"])
        for name, pool in self._pools.items():
            s = pool.stats
            depth.add_metric([name], s.waiting)
            busy.add_metric([name], s.busy)
            workers.add_metric([name], s.workers)
            aborted.add_metric([name], s.aborted)
            rejected.add_metric([name], s.rejected)
            for dev in sorted(set(pool.devices)):
                device.add_metric([name, dev], 1)
        yield from (depth, busy, workers, aborted, rejected, device)


class MetricsMiddleware:
    """Counts and times every HTTP request by route (unknown paths share the label ``other``)."""

    def __init__(self, app, metrics: Metrics, routes: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in self.routes else "other"
        started = time.perf_counter()
        status = [500]

        async def watching_send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            self.metrics.requests.labels(route, str(status[0])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
