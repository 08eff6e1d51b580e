"""How Serve's proxy picks a replica for each request: the less busy of two, wherever they run.

Serve's default router first tries replicas on the proxy's own node and
goes elsewhere only when those are full. That saves a network hop, which is
worth nothing next to a transcription of seconds, and it concentrates work:
with one proxy (``HeadOnly``), or a client whose kept-alive connection always
lands on the same node, one replica queues requests while the others idle,
since a lumina replica accepts as many requests as its own queue holds (its
limits answer 503 as the plain server's do). This router drops the locality
preference and keeps the rest: two replicas drawn at random, the one with
the shorter queue wins, requests routed in arrival order.

Imported by Serve's proxies and replicas (by its dotted path), so it needs
Ray Serve; nothing else in lumina imports it.
"""

from __future__ import annotations

import random

from ray.serve.request_router import FIFOMixin, RequestRouter

__all__ = ["ROUTER_PATH", "SpreadRouter"]

#: The dotted path Serve imports the router from.
ROUTER_PATH = "lumina.apps.distributed.routing:SpreadRouter"


class SpreadRouter(FIFOMixin, RequestRouter):
    """Power of two choices over every replica, in arrival order, with no node preference."""

    async def choose_replicas(self, candidate_replicas, pending_request=None):
        """One rank of (at most) two random replicas; the router takes the one with the shorter queue."""
        if len(candidate_replicas) <= 2:
            chosen = list(candidate_replicas)
            random.shuffle(chosen)  # equal queues: either, at random
        else:
            chosen = random.sample(list(candidate_replicas), 2)
        return [chosen] if chosen else []
