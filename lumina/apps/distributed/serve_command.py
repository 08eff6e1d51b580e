"""``lumina serve --ray [ADDRESS] --replicas N``: the command-line side of :mod:`.serve`."""

from __future__ import annotations

import argparse
import sys

from lumina.apps.server.config import ServerConfig

__all__ = ["add_ray_serve_options", "run_command"]


def add_ray_serve_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--ray [ADDRESS]`` and its options to the ``serve`` parser."""
    group = parser.add_argument_group(
        "on a Ray cluster", "pip install 'lumina[ray]'; the same app as Ray Serve replicas behind "
        "Serve's HTTP proxy (--host/--port are the proxy's); each replica has its own --workers, "
        "queue and limits. See docs/scaling.md.")
    group.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                       help="serve on the Ray cluster at ADDRESS: auto, HOST:PORT or ray://HOST:PORT "
                            "(without one: RAY_ADDRESS, else a cluster started on this machine, "
                            "else a new local one)")
    group.add_argument("--replicas", type=int, default=1, metavar="N",
                       help="replicas, each with its own engines (default 1)")
    group.add_argument("--cpus-per-replica", type=float, default=1.0, metavar="N",
                       help="CPUs each replica reserves (default 1; also its threads unless --threads)")
    group.add_argument("--gpus-per-replica", type=float, default=0.0, metavar="N",
                       help="GPUs each replica reserves (default 0)")
    group.add_argument("--proxy-location", choices=("EveryNode", "HeadOnly"),
                       help="Serve's HTTP proxies on every node with a replica (Ray's default) or "
                            "on the head node only")


def run_command(args: argparse.Namespace, config: ServerConfig) -> int:
    """Serve ``config`` on the cluster until SIGINT or SIGTERM; 0 when it stopped cleanly."""
    from lumina.apps.distributed.serve import run_on_ray

    def ready(url: str) -> None:
        print(f"lumina: serving on {url} with {args.replicas} replica(s) on Ray "
              "(Ctrl-C stops and removes them)", file=sys.stderr, flush=True)

    run_on_ray(config, address=args.ray or None, host=args.host, port=args.port,
               replicas=args.replicas, cpus_per_replica=args.cpus_per_replica,
               gpus_per_replica=args.gpus_per_replica, proxy_location=args.proxy_location,
               on_ready=ready)
    return 0
