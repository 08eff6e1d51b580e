"""Who may come in and how much they may send: the API key and the body size limit.

One pure ASGI middleware in front of everything, so no route can forget it:

* With a key configured, every HTTP route but the open ones (``/health``, and
  the browser page's files when the app serves the page) and the realtime
  WebSocket need ``Authorization: Bearer <key>`` (browsers, which cannot set
  headers on a WebSocket, may offer the subprotocol
  ``openai-insecure-api-key.<key>`` as OpenAI's realtime API allows; the
  server's own page does).
* A request body larger than the limit is refused with 413, from its
  ``Content-Length`` before a byte is read, or as soon as a chunked body
  passes the limit.
"""

from __future__ import annotations

import hmac
import json

from starlette.exceptions import HTTPException

from lumina.apps.server.errors import error_body

__all__ = ["AccessMiddleware", "OPEN_PATHS"]

#: Paths that never need the key (the app adds the page's when it serves the page).
OPEN_PATHS = frozenset({"/health"})
_KEY_SUBPROTOCOL = "openai-insecure-api-key."
_POLICY_VIOLATION = 1008


class _BodyTooLarge(HTTPException):
    """Raised from ``receive``; an HTTPException, so the framework's body parser lets it through."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


class AccessMiddleware:
    """Checks the API key and bounds request bodies, then calls the app.

    Parameters
    ----------
    app : ASGI app
    api_key : str or None
        None lets every request in.
    max_body : int
        Largest request body in bytes.
    open_paths : frozenset of str, default :data:`OPEN_PATHS`
        Paths that never need the key.
    """

    def __init__(self, app, *, api_key: str | None, max_body: int,
                 open_paths: frozenset[str] = OPEN_PATHS) -> None:
        self.app = app
        self._key = api_key.encode() if api_key else None
        self.max_body = max_body
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope, receive, send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self._key is not None and scope["path"] not in self.open_paths:
            problem = self._key_problem(scope)
            if problem is not None:
                await self._refuse(kind, problem, receive, send)
                return
        if kind == "websocket":
            await self.app(scope, receive, send)
            return
        await self._bounded(scope, receive, send)

    # ------------------------------------------------------------------ the key

    def _key_problem(self, scope) -> str | None:
        """Why the request's credentials are not good enough, or None when they are."""
        offered = _bearer(scope) or _subprotocol_key(scope)
        if offered is None:
            return ("You didn't provide an API key. Send it in the Authorization header: "
                    "'Authorization: Bearer YOUR_KEY'.")
        if not hmac.compare_digest(offered.encode(), self._key):
            return "Incorrect API key provided."
        return None

    @staticmethod
    async def _refuse(kind: str, message: str, receive, send) -> None:
        if kind == "websocket":
            await receive()  # websocket.connect; closing before accepting answers 403
            await send({"type": "websocket.close", "code": _POLICY_VIOLATION, "reason": message[:120]})
            return
        await _send_json(send, 401, error_body(message, code="invalid_api_key"),
                         [(b"www-authenticate", b"Bearer")])

    # ------------------------------------------------------------------ the body

    async def _bounded(self, scope, receive, send) -> None:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await _send_json(send, 413, self._too_large_body(int(declared)))
            return
        seen = 0
        started = False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _BodyTooLarge(self._too_large_body(seen)["error"]["message"])
            return message

        async def watching_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _BodyTooLarge:
            if not started:
                await _send_json(send, 413, self._too_large_body(seen))

    def _too_large_body(self, size: int) -> dict:
        return error_body(f"The request body is larger than this server's limit of {self.max_body} "
                          f"bytes (got at least {size}); send a shorter or compressed file.",
                          param="file", code="request_too_large")


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _bearer(scope) -> str | None:
    value = _header(scope, b"authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _subprotocol_key(scope) -> str | None:
    if scope["type"] != "websocket":
        return None
    for protocol in scope.get("subprotocols", ()):
        if protocol.startswith(_KEY_SUBPROTOCOL):
            return protocol[len(_KEY_SUBPROTOCOL):]
    return None


async def _send_json(send, status: int, body: dict, headers: list | None = None) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": payload})
