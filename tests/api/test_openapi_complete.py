"""The OpenAPI document describes every endpoint: a description, a typed response for each
success (a JSON schema by reference, or the documented non-JSON body), typed error bodies, and
the authentication the console and admin endpoints take. ReDoc is served offline too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes import docs
from devstack.stack import free_port
from parley.core.settings import Settings

NON_JSON = {"text/event-stream", "application/xml"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return create_app(Settings(PARLEY_SECRET_KEY="k" * 40)).openapi()


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_the_document_covers_every_public_api(schema: dict[str, Any]) -> None:
    paths = set(schema["paths"])
    for expected in (
        "/api/chat/sessions",
        "/api/chat/sessions/{session_id}/messages",
        "/api/chat/sessions/{session_id}/events",
        "/sms/twilio",
        "/sms/twilio/status",
        "/payments/stripe/webhook",
        "/api/console/queue",
        "/api/console/conversations/{conversation_id}",
        "/api/admin/accounts/import",
        "/healthz",
        "/livez",
    ):
        assert expected in paths, expected
    assert not [p for p in paths if p.startswith("/console")], "console pages are not an API"


def test_every_operation_has_a_description_and_a_typed_response(schema: dict[str, Any]) -> None:
    problems = []
    for path, method, operation in operations(schema):
        where = f"{method.upper()} {path}"
        if len((operation.get("description") or "").strip()) < 20:
            problems.append(f"{where}: no description")
        successes = {c: r for c, r in operation["responses"].items() if c.startswith("2")}
        if not successes:
            problems.append(f"{where}: no success response")
        for code, response in successes.items():
            content = response.get("content", {})
            json_schema = content.get("application/json", {}).get("schema", {})
            typed = "$ref" in json_schema or any(
                kind in content and content[kind].get("schema") for kind in NON_JSON
            )
            if not typed:
                problems.append(f"{where} {code}: untyped response {content}")
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")) and code != "422":
                ref = response.get("content", {}).get("application/json", {}).get("schema", {})
                if not ref.get("$ref"):
                    problems.append(f"{where} {code}: error body not typed")
    assert not problems, "\n".join(problems)


def test_bearer_and_session_auth_are_documented(schema: dict[str, Any]) -> None:
    schemes = schema["components"]["securitySchemes"]
    assert schemes["adminToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["adminToken"]["description"],
    }
    assert "parley users token" in schemes["adminToken"]["description"]
    assert schemes["consoleSession"]["in"] == "cookie"
    for path, _method, operation in operations(schema):
        if path.startswith(("/api/console", "/api/admin")):
            assert operation.get("security") == [{"adminToken": []}, {"consoleSession": []}]
        else:
            assert "security" not in operation, path


def test_redoc_is_served_from_the_pinned_package_without_other_hosts() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        PARLEY_SECRET_KEY="k" * 40, PARLEY_RASA_URL=dead, PARLEY_ACTION_SERVER_URL=dead
    )
    with TestClient(create_app(settings)) as client:
        page = client.get("/api/redoc")
        assert page.status_code == 200
        assert "http://" not in page.text and "https://" not in page.text
        assert 'data-openapi-url="/openapi.json"' in page.text
        for name, (_path, media_type) in docs.REDOC_ASSETS.items():
            asset = client.get(f"/api/redoc/static/{name}")
            assert asset.status_code == 200, name
            assert asset.headers["content-type"] == media_type
        assert client.get("/api/redoc/static/swagger-ui-bundle.js").status_code == 404
        assert client.get("/api/redoc/static/..%2F..%2Fapp.py").status_code == 404
