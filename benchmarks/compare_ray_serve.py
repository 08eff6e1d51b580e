"""`lumina serve` against `lumina serve --ray --replicas 2` on a local two-node cluster, in one run.

Run: python benchmarks ray_serve [--clients 1,4,16] [--per-client 2]
                                                         [--rounds 3]

Starts its own Ray cluster on 127.0.0.1 (two nodes of one CPU each, Ray's
files in a temporary directory) and every contender before the first
request; stops them all at the end. Contenders, each the `lumina serve`
command in its own process:

  serve-1w   lumina serve --workers 1 (one engine; threads: this machine's CPUs)
  serve-2w   lumina serve --workers 2 (two engines of CPUs / 2 threads: the shape of the Ray run)
  ray-2r     lumina serve --ray ADDRESS --replicas 2 --proxy-location HeadOnly: two replicas
             of one worker and one thread each, one per node, behind Serve's HTTP proxy

For every number of concurrent clients the rounds interleave the contenders
(serve-1w, serve-2w, ray-2r, serve-1w, ...); each client posts 2 s clips
(random-weight tiny.en, accurate speed) one after another. Printed: requests
per second, p50 and p95 latency (medians over the rounds), failed requests,
the share of ray-2r's answers each replica gave, and peak RSS (VmHWM): the
server process, or for ray-2r its two replicas and the proxy.

All nodes share this machine's cores, so ray-2r cannot beat serve-2w here: the
comparison measures what Serve's proxy and router add per request. On real
nodes each replica has its own cores and throughput grows with the replicas.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keep Ray on 127.0.0.1 (see tests/_ray_util.py)

import httpx
from benchmarks._helpers import model_path
from benchmarks.compare_server import load, percentile, wav  # the same load and clips
from ray.cluster_utils import Cluster

import lumina

REPLICA_HEADER = "x-lumina-replica"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`lumina serve ...` in its own process, from an empty directory (see tests/_ray_util.py)."""

    def __init__(self, name: str, flags: list[str], model: Path, cwd: Path) -> None:
        self.name, self.port = name, free_port()
        command = [sys.executable, "-m", "lumina.apps.cli", "serve", "--model", f"tiny.en={model}",
                   "--no-installed", "--max-queue", "64", "--port", str(self.port),
                   "--log-level", "warning", *flags]
        self.log = open(cwd / f"{name}.log", "w")
        self.process = subprocess.Popen(command, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
                                        env=dict(os.environ, LUMINA_API_KEY=""))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; "
                                   f"see {self.log.name}")
            try:
                health = httpx.get(self.url + "/health", timeout=2)
                if health.status_code == 200 and health.json()["ready"]:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start; see {self.log.name}")

    def peak_rss_mib(self) -> float:
        pids = [self.process.pid] if self.name != "ray-2r" else serve_actor_pids()
        return sum(_vm_hwm_kib(pid) for pid in pids) / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def serve_actor_pids() -> list[int]:
    """Serve's proxy and replica processes on this machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if command.startswith((b"ray::ProxyActor", b"ray::ServeReplica")):
                found.append(int(entry.name))
    return found


def _vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_cluster(temp: Path) -> Cluster:
    """Two one-CPU nodes on 127.0.0.1 whose workers import this lumina."""
    os.environ["RAY_TMPDIR"] = str(temp)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(Path(lumina.__file__).resolve().parent.parent),
         *(os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)])
    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    cluster.add_node(**node)
    cluster.wait_for_nodes()
    return cluster


def main(argv: list[str] | None = None) -> int | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--per-client", type=int, default=2, help="requests each client sends per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    model = model_path("tiny.en")
    clips = [wav(seed) for seed in range(8)]
    temp = Path(tempfile.mkdtemp(prefix="lumina-serve-bench-", dir="/tmp"))
    cluster = start_cluster(temp)
    cpus = os.cpu_count() or 1
    contenders = {"serve-1w": ["--workers", "1"],
                  "serve-2w": ["--workers", "2", "--threads", str(max(1, cpus // 2))],
                  "ray-2r": ["--ray", cluster.address, "--replicas", "2", "--threads", "1",
                             "--proxy-location", "HeadOnly"]}
    servers = [Server(name, flags, model, temp) for name, flags in contenders.items()]
    try:
        for s in servers:
            s.wait_ready()
        for s in servers:  # a few requests first: every engine has loaded and run, nothing is cold
            asyncio.run(load(s.url, 4, 2, clips))
        print(f"tiny.en (random weights), 2 s clips, accurate; {cpus} CPUs, load average "
              f"{os.getloadavg()[0]:.2f} at start; {args.per_client} requests per client per round, "
              f"{args.rounds} rounds, medians")
        print(f"{'clients':>7}  {'server':<9} {'req/s':>7} {'p50 s':>7} {'p95 s':>7} {'failed':>6}  replicas")
        for clients in (int(c) for c in args.clients.split(",")):
            rows: dict[str, list] = {s.name: [] for s in servers}
            for _ in range(args.rounds):
                for s in servers:
                    seconds, latencies, failed, replicas = asyncio.run(
                        load(s.url, clients, args.per_client, clips, REPLICA_HEADER))
                    rows[s.name].append((len(latencies) / seconds, percentile(latencies, 0.5),
                                         percentile(latencies, 0.95), failed, replicas))
            for s in servers:
                r = rows[s.name]
                shares = sum((x[4] for x in r), collections.Counter())
                spread = "/".join(str(n) for n in sorted(shares.values(), reverse=True)) \
                    if s.name == "ray-2r" else "-"
                print(f"{clients:>7}  {s.name:<9} {statistics.median(x[0] for x in r):>7.2f} "
                      f"{statistics.median(x[1] for x in r):>7.2f} {statistics.median(x[2] for x in r):>7.2f} "
                      f"{sum(x[3] for x in r):>6}  {spread}")
        print("peak RSS (MiB): " + ", ".join(f"{s.name} {s.peak_rss_mib():.0f}" for s in servers)
              + " (ray-2r: its proxy and replicas)")
    finally:
        for s in servers:
            s.stop()
        cluster.shutdown()
        shutil.rmtree(temp, ignore_errors=True)

