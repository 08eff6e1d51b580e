"""``lumina serve --ray``: the server's ASGI app as a Ray Serve application, N replicas.

Each replica builds its own app with :func:`lumina.apps.server.create_app`
inside the replica (its own model catalogue, worker pool, metrics and
realtime sessions; nothing is shared through module state), and Serve's
HTTP proxy passes it the HTTP routes and the realtime WebSocket unchanged.
The API key, upload limit, queue bound and timeout are the plain server's,
enforced per replica. Around each app, :class:`~.replica.ReplicaIdentity`
names the replica in every answer and labels its ``/metrics``; Serve routes
with :class:`~.routing.SpreadRouter` (the less busy of two replicas).

Entry points: :func:`serve_application` (a bound application, for
``serve.run``), :func:`build_app` (an application builder for ``serve run``
and KubeRay's ``RayService``: ``import_path: lumina.apps.distributed.serve:build_app``)
and :func:`run_on_ray` (what ``lumina serve --ray`` runs). Ray is imported
only when one of them is called.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping

from lumina.errors import ArgumentError, LuminaError, MissingDependencyError

from lumina.apps.distributed.connection import connected
from lumina.apps.server.config import ServerConfig

__all__ = ["APP_NAME", "build_app", "run_on_ray", "serve_application"]

#: Name of the Serve application and of its one deployment.
APP_NAME = "lumina"
#: Requests a replica may hold beyond its queues: /health, /metrics, /v1/models answered meanwhile.
_SPARE_REQUESTS = 4
_PLACEMENT = ("replicas", "cpus_per_replica", "gpus_per_replica")
log = logging.getLogger("lumina.serve")
_LUMINA_ERROR = re.compile(r"lumina\.errors\.(\w+): (.*)")


def serve_application(config: ServerConfig, *, replicas: int = 1, cpus_per_replica: float = 1.0,
                      gpus_per_replica: float = 0.0):
    """The server as a Ray Serve application of ``replicas`` replicas, ready for ``serve.run``.

    Parameters
    ----------
    config : ServerConfig
        The settings of every replica. Model files this machine can read are
        passed as absolute paths and their SHA-256 is checked by every replica
        before it loads them (each node must see the same file, e.g. on shared
        storage); registry names are found in each node's own model store.
        ``api_key`` is resolved here (``$LUMINA_API_KEY`` of this process when
        None). ``threads`` defaults to the replica's CPUs shared among its workers.
    replicas : int, default 1
        Replicas, each with its own worker pool (``config.workers`` workers per model, sharing
        one copy of the model in the replica).
    cpus_per_replica, gpus_per_replica : float, default 1 and 0
        Resources each replica reserves; Ray places replicas where these fit.

    Returns
    -------
    ray.serve.Application
        Run it with ``serve.run(app, name=APP_NAME, route_prefix="/")``.

    Raises
    ------
    ArgumentError
        A count or resource is out of range.
    ModelIntegrityError
        A configured model file this machine can read is not a valid model.
    MissingDependencyError
        Ray Serve is not installed (``pip install 'lumina[ray]'``).
    """
    _check_placement(replicas, cpus_per_replica, gpus_per_replica)
    serve = _import_serve()
    from ray.serve.config import RequestRouterConfig

    from lumina.apps.distributed.routing import ROUTER_PATH

    config = _for_replicas(config, cpus_per_replica)
    digests = _model_digests(config)

    def build_asgi_app():  # runs in each replica, when it starts
        return replica_app(config, digests)

    per_model = config.workers + config.max_queue
    deployment = serve.deployment(
        serve.ingress(build_asgi_app)(), name=APP_NAME, num_replicas=replicas,
        ray_actor_options={"num_cpus": cpus_per_replica, "num_gpus": gpus_per_replica},
        # A replica takes what its own limits can answer (the pool's queue says 503 when full,
        # as the plain server's does); Serve queues beyond that only when every replica is full.
        max_ongoing_requests=per_model * len(config.models) + config.max_realtime_sessions
        + _SPARE_REQUESTS,
        max_queued_requests=config.max_queue,
        request_router_config=RequestRouterConfig(request_router_class=ROUTER_PATH))
    return deployment.bind()


def replica_app(config: ServerConfig, digests: Mapping[str, str]):
    """The ASGI app of one replica: the server app, checked model files, the replica's name on it.

    Raises
    ------
    ModelNotFoundError, ModelIntegrityError
        This node lacks a configured model or has a different file.
    """
    from lumina.models import validate_model_file
    from lumina.apps.distributed.replica import ReplicaIdentity, replica_identity
    from lumina.apps.server import create_app

    for name, digest in digests.items():
        validate_model_file(config.models[name], expected_sha256=digest)
    replica, node = replica_identity()
    return ReplicaIdentity(create_app(config), replica=replica, node=node)


def build_app(args: Mapping[str, object]):
    """Application builder for ``serve run`` and KubeRay's ``RayService``.

    Parameters
    ----------
    args : mapping
        ``replicas``, ``cpus_per_replica``, ``gpus_per_replica`` (see
        :func:`serve_application`) and any :class:`~lumina.apps.server.ServerConfig`
        field but ``store`` and ``engine_factory``: ``models`` as a mapping
        ``{served name: registry name or file}`` or a list of ``"[NAME=]MODEL"``
        strings, ``workers``, ``threads``, ``max_queue``, ``request_timeout_s``,
        ``max_upload_bytes``, ``cache``, ``device``, ``serve_installed``,
        ``api_key``, ... Without ``api_key``, ``$LUMINA_API_KEY`` is read where
        the application is built (on a RayService: give it to the pods, from a Secret).

    Returns
    -------
    ray.serve.Application

    Raises
    ------
    ArgumentError
        An unknown key or a bad value (the message names it).
    """
    settings = dict(args)
    placement = {key: settings.pop(key) for key in _PLACEMENT if key in settings}
    known = {f.name for f in dataclasses.fields(ServerConfig)} - {"store", "engine_factory"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ArgumentError(f"unknown lumina serve setting(s) {', '.join(map(repr, unknown))}; "
                            f"known: {', '.join(sorted(known | set(_PLACEMENT)))}")
    if isinstance(settings.get("models"), (list, tuple)):
        from lumina.apps.server.config import parse_model_option
        settings["models"] = dict(parse_model_option(str(v)) for v in settings["models"])
    try:
        config = ServerConfig(**settings)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"bad lumina serve settings: {exc}") from exc
    return serve_application(config, **placement)


def run_on_ray(config: ServerConfig, *, address: str | None = None, host: str = "127.0.0.1",
               port: int = 8000, replicas: int = 1, cpus_per_replica: float = 1.0,
               gpus_per_replica: float = 0.0, proxy_location: str | None = None,
               on_ready: Callable[[str], None] | None = None,
               stop: threading.Event | None = None) -> None:
    """Run the server on a Ray cluster until ``stop`` is set; then take the application down.

    Connects to the cluster (unless this process already is), starts Serve
    there if it is not running (its HTTP proxies on ``host:port``), deploys
    :func:`serve_application` as the application ``lumina`` at ``/``, calls
    ``on_ready(url)`` once every replica answers, and waits. On the way out
    it deletes the application, shuts Serve down if it started it, and
    disconnects if it connected.

    Parameters
    ----------
    address : str, optional
        ``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``; default Ray's choice
        (``RAY_ADDRESS``, a cluster on this machine, else a new local one).
    host, port
        Where Serve's proxies listen (a Serve that already runs on the cluster
        keeps its own; a warning says so).
    proxy_location : {"EveryNode", "HeadOnly"}, optional
        A proxy on every node with a replica (Ray's default), or on the head only.
    stop : threading.Event, optional
        Set it to end the run; default: wait until SIGINT or SIGTERM.

    Raises
    ------
    LuminaError
        The cluster cannot be reached, or the application did not start: a
        replica's error comes back as its class (``ModelNotFoundError`` when a
        node lacks the model, ...) with its message.
    """
    app = serve_application(config, replicas=replicas, cpus_per_replica=cpus_per_replica,
                            gpus_per_replica=gpus_per_replica)
    serve = _import_serve()
    import ray

    with connected(ray, address):
        started = not _serve_running(serve)
        if not started:
            log.warning("Ray Serve already runs on this cluster: its HTTP proxies keep the host and "
                        "port they have (not necessarily %s:%s)", host, port)
        serve.start(proxy_location=proxy_location, http_options={"host": host, "port": port})
        try:
            _deploy(serve, app)
            if on_ready is not None:
                on_ready(f"http://{_url_host(host)}:{port}")
            _wait(stop)
        finally:
            _take_down(serve, started)


def _deploy(serve, app) -> None:
    try:
        serve.run(app, name=APP_NAME, route_prefix="/")
    except RuntimeError as exc:  # Serve's "deploying the application failed"
        raise _replica_error(serve, exc) from exc


def _replica_error(serve, exc: Exception) -> LuminaError:
    """The error that stopped the replicas, as its lumina class, read from Serve's status.

    Serve retries a replica that fails to start a few times, then reports the
    deployment failed with the replica's traceback in its status message.
    """
    import lumina.errors

    try:
        status = serve.status().applications[APP_NAME]
        messages = [d.message for d in status.deployments.values()] + [status.message]
    except Exception:  # the status itself failed: report what serve.run said
        messages = []
    for message in messages:
        found = _LUMINA_ERROR.findall(message or "")
        if found:
            name, text = found[-1]
            kind = getattr(lumina.errors, name, LuminaError)
            kind = kind if isinstance(kind, type) and issubclass(kind, LuminaError) else LuminaError
            return kind(f"a replica could not start on the Ray cluster: {text.strip()}")
    return LuminaError(f"the lumina application did not start on the Ray cluster: {exc}")


def _take_down(serve, started: bool) -> None:
    if started:
        serve.shutdown()  # also the controller and proxies this run started
    else:
        serve.delete(APP_NAME)


def _wait(stop: threading.Event | None) -> None:
    import signal

    if stop is not None:
        stop.wait()
        return
    stop = threading.Event()
    handlers = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _serve_running(serve) -> bool:
    status = serve.status()
    return bool(status.proxies or status.applications)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _check_placement(replicas: int, cpus: float, gpus: float) -> None:
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ArgumentError(f"replicas must be an integer >= 1, got {replicas!r}")
    for name, value in (("cpus_per_replica", cpus), ("gpus_per_replica", gpus)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ArgumentError(f"{name} must be a number >= 0, got {value!r}")
    if cpus + gpus == 0:
        raise ArgumentError("a replica needs some CPUs or GPUs (cpus_per_replica and "
                            "gpus_per_replica are both 0)")


def _for_replicas(config: ServerConfig, cpus: float) -> ServerConfig:
    """Settings as a replica on another machine needs them: absolute model paths, the key, threads."""
    models = {name: os.path.abspath(source) if os.path.isfile(source) else source
              for name, source in config.models.items()}
    threads = config.threads or max(1, int(cpus) // config.workers)
    return dataclasses.replace(config, models=models, threads=threads,
                               api_key=config.resolved_api_key() or "")


def _model_digests(config: ServerConfig) -> dict[str, str]:
    """SHA-256 of every configured model file this machine can read, after checking it is a
    model (registry models are checked against their published hash by each node's store)."""
    from lumina.apps.distributed.worker import sha256_of

    from lumina.models import validate_model_file

    files = {name: source for name, source in config.models.items()
             if isinstance(source, str) and os.path.isabs(source) and os.path.isfile(source)}
    for source in files.values():
        validate_model_file(source)  # a broken file fails here, as `lumina serve` fails at start
    return {name: sha256_of(source) for name, source in files.items()}


def _import_serve():
    try:
        from ray import serve
        from ray.serve.request_router import RequestRouter  # noqa: F401  (the router API: Ray >= 2.50)
    except ImportError as exc:
        raise MissingDependencyError(
            "serving on a Ray cluster needs Ray Serve: pip install 'lumina[ray]'") from exc
    return serve
