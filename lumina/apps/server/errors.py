"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.

Every failure a client can cause is a 4xx with this body; the official
``openai`` client turns 400 into ``BadRequestError``, 401 into
``AuthenticationError``, 404 into ``NotFoundError`` and so on.
"""

from __future__ import annotations

import logging

from lumina.errors import AudioFormatError, LuminaError, ModelError, ModelNotFoundError, StateError
from lumina.apps.server.pool import PoolFull

__all__ = ["ApiError", "error_body", "from_lumina_error"]

log = logging.getLogger("lumina.server")


def error_body(message: str, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    """The JSON body OpenAI answers errors with."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class ApiError(Exception):
    """An HTTP error with OpenAI's error body.

    Parameters
    ----------
    status : int
        HTTP status.
    message : str
        What went wrong and what to do.
    type_ : str
        OpenAI's error type (``invalid_request_error``, ``server_error``...).
    param, code : str, optional
        The offending parameter and a machine-readable code.
    headers : dict, optional
        Extra response headers (``Retry-After``, ``WWW-Authenticate``).
    """

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(message, type_, param, code)
        self.headers = headers or {}

    @property
    def code(self) -> str | None:
        return self.body["error"]["code"]


def from_lumina_error(exc: LuminaError, *, param: str | None = None) -> ApiError:
    """The API error a lumina error becomes (bad input is a 4xx; the server's own trouble a 5xx)."""
    if isinstance(exc, PoolFull):
        return ApiError(503, str(exc), "server_error", code="server_busy",
                        headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, AudioFormatError):
        return ApiError(400, f"Could not decode the audio file: {exc}", param=param or "file",
                        code="invalid_audio")
    if isinstance(exc, ModelNotFoundError):
        return ApiError(404, str(exc), param="model", code="model_not_found")
    if isinstance(exc, StateError):
        return ApiError(503, str(exc), "server_error", code="shutting_down")
    if isinstance(exc, ModelError):
        log.error("model could not be used: %s", exc)
        return ApiError(503, f"The model could not be loaded: {exc}", "server_error",
                        code="model_unavailable")
    log.error("transcription failed: %s", exc)
    return ApiError(500, f"The transcription failed: {exc}", "server_error", code="backend_error")
