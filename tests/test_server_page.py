"""The browser page of `lumina serve` as HTTP sees it: its routes, headers, the key, `--no-ui`, and that
its files are installed with the package. The page in a real browser: test_server_browser.py."""

import asyncio
import importlib.metadata
import json
import re
from importlib import resources

import pytest

from lumina.apps.cli import build_parser
from lumina.apps.server import create_app
from lumina.apps.server.routes_ui import FILES, PAGE_PATHS
from lumina.models import ModelStore
from _server_util import raw_client

UI = resources.files("lumina.apps.server").joinpath("ui")


def test_the_installed_package_has_every_file_of_the_page():
    installed = sorted(p.name for p in UI.iterdir() if p.is_file())
    assert installed == sorted(FILES)
    dist = importlib.metadata.distribution("lumina")
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    if not direct.get("dir_info", {}).get("editable"):
        # A wheel install (CI's): the wheel itself carried the files (RECORD lists what it installed).
        recorded = {str(f) for f in dist.files}
        assert {f"lumina/apps/server/ui/{name}" for name in FILES} <= recorded


def test_every_file_the_page_loads_is_served():
    html = UI.joinpath("index.html").read_text()
    scripts = {name: UI.joinpath(name).read_text() for name in FILES if name.endswith(".js")}
    loaded = set(re.findall(r'(?:href|src)="ui/([^"]+)"', html))
    for text in scripts.values():
        loaded |= set(re.findall(r'from "\./([^"]+)"', text))
        loaded |= set(re.findall(r'new URL\("([^"]+)", import\.meta\.url\)', text))
    assert loaded == set(FILES) - {"index.html"}
    hosts = set()  # nothing from another host: the page works offline
    for text in (html, *scripts.values(), UI.joinpath("style.css").read_text()):
        hosts |= set(re.findall(r"(?:https?|wss?)://([^\s/\"'`]+)", text))
        assert "@import" not in text and "url(" not in text
    assert hosts == {"localhost:PORT"}  # in a message: "open this page as http://localhost:PORT/"


def test_the_page_and_its_files_need_no_key_but_the_api_does(micro_model, tmp_path):
    app = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path), api_key="k")

    async def go():
        async with raw_client(app) as http:
            page = await http.get("/")
            files = {name: await http.get(f"/ui/{name}") for name in FILES}
            unknown = await http.get("/ui/nope.js")
            models = await http.get("/v1/models")
            keyed = await http.get("/v1/models", headers={"Authorization": "Bearer k"})
            schema = (await http.get("/openapi.json", headers={"Authorization": "Bearer k"})).json()
        return page, files, unknown, models, keyed, schema
    page, files, unknown, models, keyed, schema = asyncio.run(go())
    assert page.status_code == 200 and page.text == UI.joinpath("index.html").read_text()
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"].startswith("default-src 'self'; ")
    assert page.headers["x-content-type-options"] == "nosniff"
    for name, response in files.items():
        assert response.status_code == 200, name
        assert response.headers["content-type"] == FILES[name]
        assert response.content == UI.joinpath(name).read_bytes()
    assert unknown.status_code == 401  # not a page file: the key is asked for like anywhere else
    assert models.status_code == 401 and keyed.status_code == 200
    assert not set(schema["paths"]) & PAGE_PATHS


def test_no_ui_leaves_the_page_out(micro_model, tmp_path):
    app = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path), ui=False)
    keyed = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path), ui=False,
                       api_key="k")

    async def go():
        async with raw_client(app) as http, raw_client(keyed) as other:
            return ((await http.get("/")).status_code, (await http.get("/ui/app.js")).status_code,
                    (await other.get("/")).status_code)
    assert asyncio.run(go()) == (404, 404, 401)


@pytest.mark.parametrize("argv, ui", [(["serve"], True), (["serve", "--no-ui"], False)])
def test_the_no_ui_option(argv, ui):
    assert build_parser().parse_args(argv).ui is ui
