"""``lumina serve``: registered into the ``lumina`` command by :func:`add_serve_command`.

A command module: it imports the server (:mod:`lumina.apps.server`) and, for ``--ray``, the Ray
side (:mod:`lumina.apps.distributed.serve_command`); neither imports it back.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

from lumina.apps.server.config import parse_model_option

__all__ = ["add_serve_command"]


def add_serve_command(sub: argparse._SubParsersAction) -> None:
    """Add ``lumina serve`` to the ``lumina`` command's sub-commands."""
    p = sub.add_parser(
        "serve", help="serve OpenAI's transcription API (HTTP and realtime WebSocket)",
        description="An OpenAI-compatible transcription server: POST /v1/audio/transcriptions, "
                    "WebSocket /v1/realtime?intent=transcription, GET /v1/models, /health, /metrics, "
                    "and a page to try it in a browser at / (live dictation, file transcription). "
                    "Needs `pip install 'lumina[server]'`. Listens on 127.0.0.1 unless --host says "
                    "otherwise; --api-key (or LUMINA_API_KEY) makes every route but /health and the "
                    "page need 'Authorization: Bearer KEY' (the page asks for the key and sends it).")
    p.add_argument("--model", action="append", metavar="[NAME=]MODEL",
                   help="registry name or model file, optionally served under NAME; repeat to serve "
                        "several (the first is the default and answers 'whisper-1'); default base.en")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1,
                   help="requests decoded at once per model, on one copy of the weights (default 1)")
    p.add_argument("--threads", type=int, help="CPU threads per worker (default: CPUs / workers)")
    p.add_argument("--api-key", help="require this bearer key (default: $LUMINA_API_KEY, else none)")
    p.add_argument("--max-queue", type=int, default=16,
                   help="requests that may wait per model before 503 (default 16)")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds a request may wait and run before 504 (default 300)")
    p.add_argument("--max-upload-mb", type=float, default=25.0, help="largest upload (default 25)")
    p.add_argument("--cache", action="store_true", help="answer repeated phrases from a phrase cache")
    p.add_argument("--device", default="auto", help="auto, cpu, gpu, cuda, vulkan or metal")
    p.add_argument("--no-ui", dest="ui", action="store_false",
                   help="do not serve the browser page at / (the API is the same either way)")
    p.add_argument("--no-installed", action="store_true",
                   help="serve only the --model models, not every installed registry model")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    from lumina.apps.distributed.serve_command import add_ray_serve_options  # --ray: Ray Serve
    add_ray_serve_options(p)
    p.set_defaults(handler=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    from lumina.apps.server import ServerConfig, create_app, require_server_extra

    require_server_extra()
    import uvicorn

    models = dict(parse_model_option(v) for v in (args.model or ["base.en"]))
    config = ServerConfig(models=models, serve_installed=not args.no_installed, workers=args.workers,
                          threads=args.threads, max_queue=args.max_queue,
                          request_timeout_s=args.timeout, api_key=args.api_key,
                          max_upload_bytes=int(args.max_upload_mb * 1024 * 1024), cache=args.cache,
                          device=args.device, ui=args.ui)
    if not _is_loopback(args.host) and config.resolved_api_key() is None:
        print(f"lumina: warning: listening on {args.host} without an API key; anyone who can reach "
              "this port can use the server (set --api-key or LUMINA_API_KEY)", file=sys.stderr)
    if args.ray is not None:
        from lumina.apps.distributed.serve_command import run_command
        return run_command(args, config)
    app = create_app(config)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, ws="websockets-sansio")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
