"""``GET /v1/models``, ``GET /v1/models/{model}``, ``GET /health`` and ``GET /metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from lumina.errors import LuminaError
from lumina.apps.server.errors import from_lumina_error
from lumina.apps.server.state import ServerState

__all__ = ["router"]

router = APIRouter()


def _model_object(served) -> dict:
    return {"id": served.name, "object": "model", "created": served.created, "owned_by": "lumina"}


@router.get("/v1/models", summary="Models this server serves")
async def list_models(request: Request) -> JSONResponse:
    """The configured models and the registry models installed in the store."""
    state: ServerState = request.app.state.lumina
    return JSONResponse({"object": "list", "data": [_model_object(m) for m in state.catalog.names()]})


@router.get("/v1/models/{model}", summary="One served model",
            responses={404: {"description": "Unknown model"}})
async def retrieve_model(request: Request, model: str) -> JSONResponse:
    """A served model by name (``whisper-1`` is the default model)."""
    state: ServerState = request.app.state.lumina
    try:
        served = state.catalog.resolve(model)
    except LuminaError as exc:
        raise from_lumina_error(exc) from None
    return JSONResponse(_model_object(served))


@router.get("/health", summary="Liveness and model readiness (never needs the API key)")
async def health(request: Request) -> JSONResponse:
    """Always 200 while the process serves; ``ready`` says whether every loaded model is loaded."""
    state: ServerState = request.app.state.lumina
    models = {}
    for name, pool in state.pools.items():
        s = pool.stats
        models[name] = {"ready": pool.ready, "workers": s.workers, "busy": s.busy, "waiting": s.waiting}
    ready = all(m["ready"] for m in models.values())
    return JSONResponse({"status": "ok", "ready": ready, "models": models,
                         "realtime_sessions": len(state.realtime_sessions)})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    state: ServerState = request.app.state.lumina
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
