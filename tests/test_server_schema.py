"""schemathesis against the app's own OpenAPI schema: no generated request gets a 5xx."""

import asyncio
import atexit
import pathlib
import shutil
import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from lumina.apps.server import create_app
from lumina.models import ModelStore
from lumina.testing import make_model


def _app():
    # schemathesis needs the schema when the module is collected, before fixtures exist.
    root = pathlib.Path(tempfile.mkdtemp(prefix="lumina-schema-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return create_app(models={"micro": make_model(root / "micro.bin", "micro")}, threads=1,
                      store=ModelStore(root / "store"), request_timeout_s=60)


APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _free_the_workers():
    yield
    asyncio.run(APP.state.lumina.aclose())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error])
