"""Finding 17 in a real browser: /api/docs renders Swagger UI with every other host blocked.

The docs need no bot and no database, so this test runs an API server of its own (uvicorn, in a
thread, on a free loopback port) rather than the shared stack; Chromium is Debian's, launched as
tests/browser/conftest.py launches it. Every request to another host is aborted and recorded, and
so is every Content-Security-Policy violation the page reports.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import ConsoleMessage, Route, expect, sync_playwright

from api.app import create_app
from devstack.stack import free_port
from parley.core.settings import Settings
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

# Collects the page's CSP violations before any of its own scripts run.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    dead = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'unused.db'}",
        PARLEY_RASA_URL=dead,
        PARLEY_ACTION_SERVER_URL=dead,
        PARLEY_JOBS_INTERVAL_SECONDS=0,
        PARLEY_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="docs-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Visit:
    blocked: list[str] = field(default_factory=list)  # requests to other hosts (aborted)
    served: list[str] = field(default_factory=list)  # paths asked of this API
    errors: list[str] = field(default_factory=list)  # console errors, uncaught exceptions
    violations: list[str] = field(default_factory=list)  # CSP violations the page reported
    title: str = ""
    operations: list[str] = field(default_factory=list)


def visit_docs(api_server: str) -> Visit:
    """Open /api/docs in Chromium with every other host blocked; wait for Swagger UI."""
    origin = urlsplit(api_server).netloc
    seen = Visit()

    def only_this_host(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc != origin:
            seen.blocked.append(url)
            route.abort("blockedbyclient")
            return
        seen.served.append(urlsplit(url).path)
        route.continue_()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.errors.append(message.text)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=api_server)
            context.set_default_timeout(15_000)
            context.route("**/*", only_this_host)
            context.add_init_script(CSP_LISTENER)
            page = context.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda exc: seen.errors.append(f"page error: {exc}"))
            page.goto("/api/docs")
            title = page.locator(".swagger-ui .info .title")
            expect(title).to_contain_text("Parley")
            # The operations come from this API's own /openapi.json.
            paths = page.locator(".opblock-summary-path")
            expect(paths.filter(has_text="/api/chat/sessions").first).to_be_visible()
            seen.title = title.inner_text()
            seen.operations = paths.all_inner_texts()
            seen.violations = page.evaluate("window.__cspViolations")
        finally:
            browser.close()
    return seen


def test_api_docs_render_offline_with_other_hosts_blocked(api_server: str) -> None:
    if shutil.which("chromium") is None:
        pytest.fail("Chromium is missing: `make browser-deps` installs Debian's package")
    # Playwright's sync API runs an event loop in the thread that drives it: a thread of its
    # own, so none is left running in the test's thread (asyncio.run in later tests) and none
    # running there (the session's `browser` fixture) gets in the way.
    with ThreadPoolExecutor(max_workers=1) as pool:
        seen = pool.submit(visit_docs, api_server).result()
    assert seen.blocked == [], f"the docs tried to reach other hosts: {seen.blocked}"
    assert seen.violations == [], f"CSP violations: {seen.violations}"
    assert seen.errors == [], seen.errors
    assert seen.title.startswith("Parley")
    assert "/api/chat/sessions" in seen.operations
    assert "/openapi.json" in seen.served
    assert {"/api/docs/static/swagger-ui-bundle.js", "/api/docs/static/api-docs.js"} <= set(
        seen.served
    )
