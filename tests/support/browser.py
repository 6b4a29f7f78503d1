"""Driving the console in a real browser (tests/browser)."""

from __future__ import annotations

from playwright.sync_api import Page

PASSWORD = "browser-test-password"  # noqa: S105 - test only


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")


def csrf_token(page: Page) -> str:
    token = page.get_attribute("meta[name=csrf-token]", "content")
    assert token
    return token
