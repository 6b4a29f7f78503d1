"""Finding 17: the API reference at /api/docs works offline and under the pages' CSP.

Swagger UI comes from the pinned `fastapi-offline` package's static files through api/routes/docs.py, started
by a script file of our own: the page names no other host, every file it loads is served here
with its type, it has no inline script, and the static path serves only the files it lists.
(tests/browser/test_api_docs.py renders it in Chromium with every other host blocked.)
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from devstack.stack import free_port
from parley.core.settings import Settings

STATIC = "/api/docs/static"
TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".png": "image/png",
}
# Any absolute or protocol-relative URL (the page may only use paths on this origin).
URL = re.compile(r"""(?:https?:)?//[^\s"'<>()]+""", re.IGNORECASE)


class Page(HTMLParser):
    """The parts of a page its CSP decides on: scripts, their bodies, URLs, inline handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.script_bodies: list[str] = []
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.handlers: list[str] = []
        self.data_urls: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts.append(values)
            self._in_script = True
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}>")
            if name in ("src", "href") and value is not None:
                self.urls.append((tag, name, value))
            if name == "data-openapi-url" and value is not None:
                self.data_urls.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.script_bodies.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """The docs touch no database: an unmigrated SQLite file is never opened."""
    dead = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'unused.db'}",
        PARLEY_RASA_URL=dead,
        PARLEY_ACTION_SERVER_URL=dead,
        PARLEY_JOBS_INTERVAL_SECONDS=0,
    )
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def test_docs_page_references_no_other_host(client: TestClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert URL.findall(response.text) == []
    page = parse(response.text)
    assert page.urls, "the page loads Swagger UI's files"
    for _tag, _attribute, value in page.urls:
        assert value.startswith(STATIC + "/"), value
    assert page.data_urls == ["/openapi.json"]
    # The init script names no host either (the bundle's online validator is switched off).
    init = client.get(f"{STATIC}/api-docs.js").text
    assert URL.findall(init) == []
    assert "validatorUrl: null" in init


def test_every_asset_the_docs_page_loads_answers_200_with_its_type(client: TestClient) -> None:
    page = parse(client.get("/api/docs").text)
    assets = [value for _tag, _attribute, value in page.urls]
    assert sorted(a.rsplit("/", 1)[1] for a in assets) == [
        "api-docs.js",
        "favicon.png",
        "swagger-ui-bundle.js",
        "swagger-ui.css",
    ]
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        expected = TYPES[Path(asset).suffix]
        assert response.headers["content-type"].split(";")[0] == expected, asset
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.content, asset
    bundle = client.get(f"{STATIC}/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text and len(bundle.content) > 500_000
    assert ".swagger-ui" in client.get(f"{STATIC}/swagger-ui.css").text
    assert client.get(f"{STATIC}/favicon.png").content.startswith(b"\x89PNG")
    # The document the page shows is this API's own, and still served.
    spec = client.get(page.data_urls[0])
    assert spec.status_code == 200
    assert spec.headers["content-type"] == "application/json"
    assert spec.json()["info"]["title"] == "Parley"
    assert "/api/chat/sessions" in spec.json()["paths"]
    assert "/api/docs" not in spec.json()["paths"]


def test_docs_page_passes_its_content_security_policy(client: TestClient) -> None:
    response = client.get("/api/docs")
    policy = {
        part.split()[0]: part.split()[1:]
        for part in response.headers["content-security-policy"].split(";")
        if part.strip()
    }
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["connect-src"][0] == "'self'"
    page = parse(response.text)
    # Scripts: files of this origin only; no inline script, no inline handler.
    assert [s.get("src") for s in page.scripts] == [
        f"{STATIC}/swagger-ui-bundle.js",
        f"{STATIC}/api-docs.js",
    ]
    assert page.script_bodies == []
    assert page.handlers == []
    assert "javascript:" not in response.text.lower()
    # FastAPI's default page (CDN files and an inline starter script) is gone.
    assert "cdn.jsdelivr.net" not in response.text
    assert "SwaggerUIBundle(" not in response.text
    assert client.get("/docs").status_code == 404


T = TypeVar("T")


def in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on an event loop of its own, in a thread: the caller's thread may have a
    loop running already (Playwright's sync API leaves one when the browser tests ran first)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def raw_get(app: FastAPI, raw_path: bytes) -> tuple[int, bytes]:
    """A GET whose path reaches the app exactly as sent (an HTTP client would remove dot
    segments first; a server such as uvicorn passes them on), decoded as uvicorn does."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path.decode("ascii")),
        "raw_path": raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    status: list[int] = []
    body: list[bytes] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    async def run() -> None:
        async with app.router.lifespan_context(app):
            await app(scope, receive, send)

    in_own_loop(run())
    return status[0], b"".join(body)


TRAVERSALS = [
    "../../app.py",
    "../../routes/docs.py",
    "..%2F..%2Fapp.py",
    "%2e%2e/%2e%2e/app.py",
    "%2e%2e%2f%2e%2e%2fapp.py",
    "..",
    "%2e%2e",
    "..%5C..%5Capp.py",
    "swagger-ui.css/../../../app.py",
    "swagger-ui.css%00.png",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    # Files in the package that the page does not load are not served either.
    "redoc.standalone.js",
    "swagger-ui-bundle.js.map",
    "__init__.py",
    "..%2Fcore.py",
    "",
]


@pytest.mark.parametrize("tail", TRAVERSALS)
def test_path_traversal_and_unlisted_files_under_the_static_path_are_404(
    app: FastAPI, tail: str
) -> None:
    raw = f"{STATIC}/{tail}".encode()
    status, body = raw_get(app, raw)
    assert status == 404, (raw, body[:200])
    assert b"from __future__" not in body and b"root:" not in body
    assert b"<html" not in body.lower()


def test_a_listed_file_is_served_through_the_raw_path_too(app: FastAPI) -> None:
    """The raw request above does reach the docs route (so its 404s are real refusals)."""
    status, body = raw_get(app, quote(f"{STATIC}/api-docs.js").encode())
    assert status == 200
    assert b"SwaggerUIBundle" in body
