"""``GET /``: the page a person opens to try the server, and its files under ``/ui/``.

The page (``ui/`` in this package: plain HTML, CSS and JavaScript, no build
step, nothing loaded from another host, so it works offline) does live
dictation over ``/v1/realtime?intent=transcription`` and file transcription
over ``/v1/audio/transcriptions``, with the model list from ``/v1/models``.
It uses the public API only: everything it does, a client can do.

The page and its files need no API key, so a person can open it; the page
sends the key typed into it with each API call (``Authorization: Bearer`` over
HTTP; on the WebSocket, where a browser cannot set headers, the subprotocol
``openai-insecure-api-key.<key>`` that :mod:`lumina.apps.server.auth` accepts,
as OpenAI's realtime API does). ``lumina serve --no-ui`` leaves these routes out.
"""

from __future__ import annotations

import functools
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

__all__ = ["FILES", "PAGE_PATHS", "router"]

#: The page's files (in ``lumina/apps/server/ui/``) and their media types; nothing else is served.
FILES = {
    "index.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "live.js": "text/javascript; charset=utf-8",
    "files.js": "text/javascript; charset=utf-8",
    "subtitles.js": "text/javascript; charset=utf-8",
    "capture-worklet.js": "text/javascript; charset=utf-8",
}

#: The paths that serve the page; they never need the API key.
PAGE_PATHS = frozenset({"/", *(f"/ui/{name}" for name in FILES)})

# Same-origin everything: the page loads only its own files and talks only to this server
# ('self' covers ws:/wss: of the same host in CSP 3; older engines need the schemes named).
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: "
                               "blob:; media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The files change with the installed package; a browser asks again instead of guessing.
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@functools.cache
def _content(name: str) -> bytes:
    return resources.files("lumina.apps.server").joinpath("ui", name).read_bytes()


def _response(name: str) -> Response:
    return Response(_content(name), media_type=FILES[name], headers=_HEADERS)


@router.get("/")
async def page() -> Response:
    """The page: live dictation and file transcription."""
    return _response("index.html")


def _add_file_route(name: str) -> None:
    async def ui_file() -> Response:
        return _response(name)

    router.add_api_route(f"/ui/{name}", ui_file, methods=["GET"], name=f"ui:{name}")


for _name in FILES:
    _add_file_route(_name)
