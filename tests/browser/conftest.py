"""Real-browser fixtures: Debian's Chromium driven by Playwright (never `playwright install`),
against the same running stack as the end-to-end tests (`stack` in tests/conftest.py)."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from devstack.stack import Stack
from parley.console import users
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
