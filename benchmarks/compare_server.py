"""`lumina serve` under load against a naive server that builds an engine per request, in one run.

Run: python benchmarks server [--clients 1,4,16] [--per-client 2] [--rounds 3]

Each contender is a uvicorn server in its own process on 127.0.0.1, all started
before the first request and stopped at the end:

  lumina-1w   lumina serve, 1 worker (one tiny.en model in memory)
  lumina-2w   lumina serve, 2 workers: still one model in memory, two
              whisper.cpp states (Engine(concurrency=2, shared_weights=True))
  ctx-2w      lumina serve, 2 workers as 2 whisper.cpp contexts (two copies of
              the weights: what lumina-2w was before shared weights)
  naive       an endpoint that loads an Engine for every request (what a
              server without a pool does; WhisperLive loads one per client)

For every number of concurrent clients, the rounds interleave the contenders
(lumina-1w, lumina-2w, naive, lumina-1w, ...); each client posts 2 s clips
(random-weight tiny.en, accurate speed) one after another. Printed: requests
per second, p50 and p95 latency (medians over the rounds), failed requests,
and each server's peak RSS (VmHWM) over the whole run.
"""


import argparse
import asyncio
import collections
import io
import os
import statistics
import subprocess
import time
from pathlib import Path


import httpx
import soundfile as sf
from lumina.testing import speechlike
from benchmarks._helpers import child_command, model_path

CONTENDERS = {"lumina-1w": ["--workers", "1"], "lumina-2w": ["--workers", "2"],
              "ctx-2w": ["--workers", "2", "--contexts"], "naive": ["--naive"]}


# ---------------------------------------------------------------------- the servers

def naive_app(model: str):
    """One endpoint that loads, runs and frees an Engine for every request."""
    from fastapi import FastAPI, File, UploadFile

    import lumina

    app = FastAPI()

    def transcribe(data: bytes) -> str:
        with lumina.Engine(model, warmup=False) as engine:
            return engine.transcribe(data).text

    @app.post("/v1/audio/transcriptions")
    async def transcriptions(file: UploadFile = File(...)):
        return {"text": await asyncio.to_thread(transcribe, await file.read())}

    return app


def contexts_factory(path, *, threads, cache, device, concurrency=1):
    """The server's engine with one whisper.cpp context (one copy of the weights) per worker."""
    import lumina

    return lumina.Engine(path, threads=threads, cache=cache, device=device, concurrency=concurrency,
                         shared_weights=False)


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    if args.naive:
        app = naive_app(args.model)
    else:
        from lumina.apps.server import ServerConfig, create_app
        factory = contexts_factory if args.contexts else None
        app = create_app(ServerConfig(models={"tiny.en": args.model}, serve_installed=False,
                                      workers=args.workers, max_queue=1024, engine_factory=factory))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", ws="none")


class Server:
    """A contender in its own process."""

    def __init__(self, name: str, flags: list[str], model: Path, port: int) -> None:
        self.name, self.port = name, port
        self.process = subprocess.Popen(
            child_command("server", "--serve", "--model", str(model), "--port", str(port), *flags))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + "/health" if self.name != "naive" else self.url + "/docs",
                             timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---------------------------------------------------------------------- the load

async def load(url: str, clients: int, per_client: int, clips: list[bytes],
               count_header: str | None = None):
    """(seconds, latencies, failures, answers per value of ``count_header``) of ``clients``
    clients each sending ``per_client`` clips (compare_ray_serve.py counts its replicas)."""
    latencies: list[float] = []
    answered_by: collections.Counter = collections.Counter()
    failures = 0

    async def client(index: int, http: httpx.AsyncClient) -> None:
        nonlocal failures
        for k in range(per_client):
            clip = clips[(index * per_client + k) % len(clips)]
            started = time.perf_counter()
            response = await http.post("/v1/audio/transcriptions", files={"file": ("c.wav", clip)},
                                       data={"model": "tiny.en"})
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
                if count_header is not None:
                    answered_by[response.headers.get(count_header)] += 1
            else:
                failures += 1

    limits = httpx.Limits(max_connections=clients + 1)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(i, http) for i in range(clients)))
        return time.perf_counter() - started, latencies, failures, answered_by


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def wav(seed: int) -> bytes:
    import numpy as np
    rng = np.random.default_rng(seed)
    audio = speechlike(2.0) * (0.8 + 0.4 * rng.random()) + 0.003 * rng.standard_normal(32000)
    buf = io.BytesIO()
    sf.write(buf, audio.astype("float32"), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int | None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--per-client", type=int, default=2, help="requests each client sends per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--naive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--contexts", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args)
        return
    model = model_path("tiny.en")
    clips = [wav(seed) for seed in range(8)]
    servers = [Server(name, flags, model, 18700 + i) for i, (name, flags) in enumerate(CONTENDERS.items())]
    try:
        for s in servers:
            s.wait_ready()
        for s in servers:  # a few requests first: every lumina worker has loaded and run, nothing is cold
            asyncio.run(load(s.url, 2, 2, clips))
        print(f"tiny.en (random weights), 2 s clips, accurate; {os.cpu_count()} CPUs; "
              f"{args.per_client} requests per client per round, {args.rounds} rounds, medians")
        print(f"{'clients':>7}  {'server':<10} {'req/s':>7} {'p50 s':>7} {'p95 s':>7} {'failed':>6}")
        for clients in (int(c) for c in args.clients.split(",")):
            rows: dict[str, list[tuple[float, float, float, int]]] = {s.name: [] for s in servers}
            for _ in range(args.rounds):
                for s in servers:
                    seconds, latencies, failed, _ = asyncio.run(load(s.url, clients, args.per_client, clips))
                    rows[s.name].append((len(latencies) / seconds, percentile(latencies, 0.5),
                                         percentile(latencies, 0.95), failed))
            for s in servers:
                r = rows[s.name]
                print(f"{clients:>7}  {s.name:<10} {statistics.median(x[0] for x in r):>7.2f} "
                      f"{statistics.median(x[1] for x in r):>7.2f} {statistics.median(x[2] for x in r):>7.2f} "
                      f"{sum(x[3] for x in r):>6}")
        print("peak RSS (MiB): " + ", ".join(f"{s.name} {s.peak_rss_mib():.0f}" for s in servers))
    finally:
        for s in servers:
            s.stop()

