"""``lumina serve``: OpenAI's transcription API and realtime transcription over one machine's lumina.

``GET /`` serves a page to try it in a browser (live dictation and file
transcription, through the same API; :mod:`lumina.apps.server.routes_ui`);
``ServerConfig(ui=False)`` / ``lumina serve --no-ui`` leaves it out.

Needs the optional extra: ``pip install 'lumina[server]'`` (FastAPI, uvicorn,
prometheus-client, python-multipart). Importing this package does not import
them; :func:`create_app` does, and says how to install them when they are missing.

Examples
--------
>>> from lumina.apps.server import ServerConfig, create_app       # doctest: +SKIP
>>> app = create_app(ServerConfig(models={"tiny.en": "tiny.en"}, workers=2))
>>> # uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

from lumina.errors import MissingDependencyError
from lumina.apps.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app", "require_server_extra"]

_EXTRA = ("fastapi", "uvicorn", "prometheus_client", "multipart")


def require_server_extra() -> None:
    """Raise :class:`~lumina.errors.MissingDependencyError` unless the ``server`` extra is installed."""
    import importlib.util

    missing = [name for name in _EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingDependencyError(
            f"lumina serve needs the optional packages {', '.join(missing)}, which are not installed; "
            "install them with `pip install 'lumina[server]'`")


def create_app(config: ServerConfig | None = None, **settings):
    """Build the ASGI app (see :func:`lumina.apps.server.app.create_app`)."""
    require_server_extra()
    from lumina.apps.server.app import create_app as build

    return build(config, **settings)
