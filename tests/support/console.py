"""Using the console over HTTP in API tests (a TestClient on an app of the test's own)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

PASSWORD = "a long enough password"  # noqa: S105 - test only
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    page = client.get("/console/login")
    token = CSRF.search(page.text)
    assert token, page.text
    response = client.post(
        "/console/login",
        data={"username": name, "password": password, "csrf_token": token[1]},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    queue = client.get("/console/queue")
    found = CSRF.search(queue.text)
    assert found
    return found[1]
