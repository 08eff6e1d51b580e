"""What a Ray Serve replica adds around the server's ASGI app: who answered, and whose metrics.

Behind Serve's proxy many replicas answer on one address, so each HTTP
answer names its replica and node (``x-lumina-replica``, ``x-lumina-node``),
and ``/metrics`` (answered by whichever replica the proxy chose) carries the
same two as labels on every sample: series from different replicas never
merge, and nobody mistakes one replica's counts for the deployment's. The
cluster-wide view is Ray Serve's own metrics (see docs/scaling.md).

This module does not import Ray; :func:`replica_identity` reads the replica
context when it runs inside a replica.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["REPLICA_HEADER", "NODE_HEADER", "ReplicaIdentity", "relabel", "replica_identity"]

REPLICA_HEADER = "x-lumina-replica"
NODE_HEADER = "x-lumina-node"
_METRICS_PATH = "/metrics"


def replica_identity() -> tuple[str, str]:
    """``(replica id, node id)`` of the Serve replica this code runs in."""
    import ray
    from ray import serve

    return serve.get_replica_context().replica_id.unique_id, ray.get_runtime_context().get_node_id()


class ReplicaIdentity:
    """ASGI middleware: names the replica in every HTTP answer and labels ``/metrics`` with it.

    Parameters
    ----------
    app : ASGI app
        The server app (``lumina.apps.server.create_app``); lifespan and
        WebSocket scopes pass through untouched.
    replica, node : str
        Values of the ``replica`` and ``node`` labels and headers.
    """

    def __init__(self, app, *, replica: str, node: str) -> None:
        self.app = app
        self.labels = {"replica": replica, "node": node}
        self._headers = [(REPLICA_HEADER.encode(), replica.encode("latin-1")),
                         (NODE_HEADER.encode(), node.encode("latin-1"))]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == _METRICS_PATH and scope["method"] in ("GET", "HEAD"):
            await self._metrics(scope, receive, send)
            return

        async def naming_send(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *self._headers]}
            await send(message)

        await self.app(scope, receive, naming_send)

    async def _metrics(self, scope, receive, send) -> None:
        """Let the app answer (the API key still applies), then relabel a 200's body."""
        start: dict = {}
        body = bytearray()

        async def buffering_send(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))

        await self.app(scope, receive, buffering_send)
        payload = bytes(body)
        if start.get("status") == 200 and scope["method"] == "GET":
            payload = relabel(payload, self.labels)
        headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() != b"content-length"]
        headers += [(b"content-length", str(len(payload)).encode()), *self._headers]
        await send({"type": "http.response.start", "status": start.get("status", 500),
                    "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def relabel(exposition: bytes, labels: Mapping[str, str]) -> bytes:
    """The Prometheus text ``exposition`` with ``labels`` added to every sample.

    Parsed and rendered again by prometheus-client, so escaping and the
    format stay its own.
    """
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.metrics_core import Metric
    from prometheus_client.parser import text_string_to_metric_families

    families = []
    for family in text_string_to_metric_families(exposition.decode("utf-8")):
        copy = Metric(family.name, family.documentation, family.type, family.unit)
        for sample in family.samples:
            copy.add_sample(sample.name, {**sample.labels, **labels}, sample.value,
                            sample.timestamp, sample.exemplar)
        families.append(copy)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))
    return generate_latest(registry)


class _Fixed:
    """A collector that yields the families it was given."""

    def __init__(self, families) -> None:
        self._families = families

    def collect(self):
        return iter(self._families)
