"""The app factory: routes, error handlers, the access and metrics middleware, the lifespan.

Routes: the OpenAI API (:mod:`~lumina.apps.server.routes_audio`, the realtime
WebSocket in :mod:`~lumina.apps.server.realtime`), models, health and metrics
(:mod:`~lumina.apps.server.routes_info`), and unless ``ServerConfig(ui=False)``
the browser page at ``/`` (:mod:`~lumina.apps.server.routes_ui`).
"""

from __future__ import annotations

import contextlib
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from lumina.errors import LuminaError
from lumina.apps.server import realtime, routes_audio, routes_info, routes_ui
from lumina.apps.server.auth import OPEN_PATHS, AccessMiddleware
from lumina.apps.server.config import ServerConfig
from lumina.apps.server.errors import ApiError, from_lumina_error
from lumina.apps.server.metrics import MetricsMiddleware
from lumina.apps.server.state import ClientGone, ServerState

__all__ = ["create_app"]

log = logging.getLogger("lumina.server")

_HTTP_CODES = {401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed",
               413: "request_too_large"}


def create_app(config: ServerConfig | None = None, **settings) -> FastAPI:
    """Build the ASGI app of ``lumina serve``.

    Parameters
    ----------
    config : ServerConfig, optional
        All settings; or pass them as keyword arguments (``create_app(models={"tiny": path})``).

    Returns
    -------
    fastapi.FastAPI
        Run it with uvicorn or mount it in another ASGI app. Its lifespan starts
        loading the configured models and frees every worker at shutdown; an app
        driven without lifespan events (httpx's ASGI transport) loads models on
        first use and is freed with ``await app.state.lumina.aclose()``.

    Raises
    ------
    ModelNotFoundError, ModelIntegrityError
        A configured model is missing or broken.
    """
    if config is None:
        config = ServerConfig(**settings)
    elif settings:
        raise TypeError("pass either a ServerConfig or keyword settings, not both")
    state = ServerState.build(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        state.start_loading()
        try:
            yield
        finally:
            await state.aclose()

    app = FastAPI(title="lumina", summary="Local speech-to-text with OpenAI's transcription API",
                  version=_version(), lifespan=lifespan)
    app.state.lumina = state
    routers = (routes_audio.router, routes_info.router, realtime.router)
    if config.ui:
        routers += (routes_ui.router,)
    for router in routers:
        app.include_router(router)
    routes = frozenset(r.path for router in routers for r in router.routes)
    _add_handlers(app, state, routes)
    # Added last = outermost: metrics see every answer, the 401s and 413s included.
    open_paths = OPEN_PATHS | routes_ui.PAGE_PATHS if config.ui else OPEN_PATHS
    app.add_middleware(AccessMiddleware, api_key=config.resolved_api_key(),
                       max_body=config.max_upload_bytes, open_paths=open_paths)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics, routes=routes)
    return app


def _version() -> str:
    import lumina
    return lumina.__version__


def _add_handlers(app: FastAPI, state: ServerState, routes: frozenset[str]) -> None:
    def answer(request: Request, error: ApiError) -> JSONResponse:
        path = request.url.path
        route = path if path in routes else "other"
        state.metrics.errors.labels(route, error.code or str(error.status)).inc()
        return JSONResponse(error.body, status_code=error.status, headers=error.headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return answer(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return answer(request, _validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = _HTTP_CODES.get(exc.status_code, "invalid_request")
        error = ApiError(exc.status_code, str(exc.detail), param="file" if exc.status_code == 413
                         else None, code=code, headers=dict(exc.headers or {}))
        return answer(request, error)

    @app.exception_handler(LuminaError)
    async def lumina_error(request: Request, exc: LuminaError):
        return answer(request, from_lumina_error(exc))

    @app.exception_handler(ClientGone)
    async def client_gone(request: Request, exc: ClientGone):
        path = request.url.path
        state.metrics.errors.labels(path if path in routes else "other", "client_closed_request").inc()
        return Response(status_code=499)  # nobody reads it; nginx's code for the record

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return answer(request, ApiError(500, f"Internal error: {type(exc).__name__}", "server_error",
                                        code="internal_error"))


def _validation_error(exc: RequestValidationError) -> ApiError:
    """FastAPI's 422 becomes OpenAI's 400 naming the first offending parameter."""
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    param = loc[0] if loc else None
    message = first.get("msg", "invalid request")
    if param:
        message = f"{param}: {message}"
    code = "missing_required_parameter" if first.get("type") == "missing" else "invalid_value"
    return ApiError(400, message, param=param, code=code)

