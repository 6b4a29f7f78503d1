"""Real-browser fixtures: Debian's Chromium driven by Playwright (never `playwright install`),
against the same running stack as the end-to-end tests (`stack` in tests/conftest.py), or, for
pages that need no bot (the console's queue and admin), an API server of their own
(`console_api`)."""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from devstack.stack import Stack, free_port
from parley.console import users
from parley.core.db import make_engine, make_session_factory
from parley.core.migrations import upgrade_to_head
from parley.core.settings import Settings
from tests.support.browser import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
_names = itertools.count(1)
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if shutil.which("chromium") is None:
        pytest.fail("Chromium is missing: `make browser-deps` installs Debian's package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Browser, stack: Stack) -> Iterator[Callable[[], Page]]:
    """Pages in separate contexts (separate cookies), like two people on two machines."""
    contexts: list[BrowserContext] = []

    def _open() -> Page:
        context = browser.new_context(base_url=stack.api_url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: print(f"page error on {page.url}: {exc}"))
        return page

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def console_user(stack_db: sessionmaker[Session]) -> Callable[[str], str]:
    """Create a console user with `role` in the stack's database; returns the username."""

    def _create(role: str) -> str:
        name = f"{role}{next(_names)}"
        with stack_db.begin() as session:
            users.create_user(session, name, PASSWORD, role)
        return name

    return _create


@dataclass(frozen=True)
class ConsoleApi:
    """An API server of its own (no bot needed) on a fresh migrated SQLite database."""

    url: str
    db: sessionmaker[Session]


@pytest.fixture(scope="module")
def console_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleApi]:
    """The console's pages need no Rasa: this runs only the API (uvicorn in a thread), so the
    console's browser tests do not wait for the bot to load on a busy machine."""
    folder = tmp_path_factory.mktemp("console-api")
    url = f"sqlite:///{folder / 'parley.db'}"
    upgrade_to_head(url)
    port = free_port()
    dead = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        DATABASE_URL=url,
        PARLEY_ENV="test",
        PARLEY_SECRET_KEY="browser-console-secret-0123456789abcdef",
        PARLEY_RASA_URL=dead,
        PARLEY_ACTION_SERVER_URL=dead,
        PARLEY_JOBS_INTERVAL_SECONDS=0,
        PARLEY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        PARLEY_RATE_LIMIT_LOGIN="1000/minute",
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, name="console-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the console's API server did not start")
        time.sleep(0.05)
    engine = make_engine(url)
    try:
        yield ConsoleApi(f"http://127.0.0.1:{port}", make_session_factory(engine))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


@pytest.fixture
def console_page(browser: Browser, console_api: ConsoleApi) -> Iterator[Callable[..., Page]]:
    """Pages on `console_api`, each in its own context (own cookies); optional viewport. The
    page's Content-Security-Policy is bypassed so axe-core can be injected (the policy itself
    is tested in tests/api/test_security.py)."""
    contexts: list[BrowserContext] = []

    def _open(width: int = 1280, height: int = 800) -> Page:
        context = browser.new_context(
            base_url=console_api.url,
            viewport={"width": width, "height": height},
            bypass_csp=True,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: print(f"page error on {page.url}: {exc}"))
        return page

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def console_api_user(console_api: ConsoleApi) -> Callable[[str], str]:
    """Create a user with `role` on `console_api`; returns the username."""

    def _create(role: str) -> str:
        name = f"{role}{next(_names)}"
        with console_api.db.begin() as session:
            users.create_user(session, name, PASSWORD, role)
        return name

    return _create
