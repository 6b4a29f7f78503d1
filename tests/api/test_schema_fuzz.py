"""The API against its own OpenAPI schema with schemathesis (pinned in requirements/app.in):
generated requests, valid and invalid, to every operation of a running server; none may answer
with a server error (issue 11: "0 server errors").

The server is a real uvicorn on loopback with a migrated SQLite database, real signature checks
(Twilio and Stripe secrets set) and a stand-in Rasa that greets; the example count is bounded so
the run stays within a minute or two.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.openapi import from_url

from api.app import create_app
from devstack.loopback_server import loopback_server
from devstack.stack import free_port
from parley.core.migrations import upgrade_to_head
from parley.core.settings import Settings

EXAMPLES = 150  # per operation


def _rasa(_url: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._answer({"version": "3.6.21"})

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._answer([{"text": "Hello, how can I help?"}])

        def do_PUT(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._answer({"events": []})

        def log_message(self, *_args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    database = Path(tmp_path_factory.mktemp("fuzz")) / "parley.db"
    url = f"sqlite:///{database}"
    upgrade_to_head(url)
    port = free_port()
    with loopback_server(_rasa) as rasa:
        app_settings = Settings(  # type: ignore[call-arg]
            DATABASE_URL=url,
            PARLEY_RASA_URL=rasa,
            PARLEY_ACTION_SERVER_URL=rasa,
            PARLEY_PUBLIC_URL=f"http://127.0.0.1:{port}",
            PARLEY_JOBS_INTERVAL_SECONDS=0,
            TWILIO_AUTH_TOKEN="fuzz-twilio-token",  # noqa: S106 - test only
            TWILIO_ACCOUNT_SID="ACfuzz",
            TWILIO_FROM_NUMBER="+15005550006",
            STRIPE_WEBHOOK_SECRET="whsec_fuzz",  # noqa: S106 - test only
            PARLEY_RATE_LIMIT_SESSIONS="100000/minute",
            PARLEY_RATE_LIMIT_VERIFICATION="100000/minute",
            PARLEY_RATE_LIMIT_LOGIN="100000/minute",
        )
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(app_settings), host="127.0.0.1", port=port, log_level="warning"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert httpx.get(f"{base}/livez").status_code == 200
        schema = from_url(f"{base}/openapi.json")
        schema.config.base_url = base  # type: ignore[attr-defined]
        try:
            yield schema
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def test_no_request_gets_a_server_error(api_schema: schemathesis.BaseSchema) -> None:
    """Every operation, `EXAMPLES` generated cases each (driven here with Hypothesis directly:
    schemathesis' pytest plugin does not run under pytest 9)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12, [op.label for op in operations]
    calls: list[int] = []
    failures: list[str] = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call()
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        run()
    print(f"schemathesis: {len(calls)} requests to {len(operations)} operations")
    assert calls, "requests were made"
    assert not failures, failures
