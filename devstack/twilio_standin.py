"""A local stand-in for the Twilio REST API (Messages resource), for tests only.

A tiny HTTP server on a loopback port that the real twilio library is pointed at (through
`PARLEY_TWILIO_API_URL`). It checks every request the way Twilio would reject it — method, path,
basic auth with the account SID and token, required parameters — records what it received, and
answers with a realistic Message resource (sid "SM...").
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

from devstack.loopback_server import loopback_server

TEST_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TEST_AUTH_TOKEN = "test-twilio-auth-token-0123456789"  # noqa: S105 - test only
TEST_FROM_NUMBER = "+15005550006"
_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-f]{32})/Messages\.json$")


@dataclass
class Received:
    method: str
    path: str
    params: dict[str, str]
    sid: str | None = None
    error: str | None = None


@dataclass
class TwilioStandIn:
    url: str
    account_sid: str
    auth_token: str
    received: list[Received] = field(default_factory=list)

    @property
    def sent(self) -> list[Received]:
        """The requests that were accepted as messages."""
        return [r for r in self.received if r.error is None]

    @property
    def rejected(self) -> list[Received]:
        return [r for r in self.received if r.error is not None]


def _handler(standin: TwilioStandIn, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet server
            return

        def _answer(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _reject(self, record: Received, status: int, code: int, message: str) -> None:
            record.error = message
            self._answer(
                status,
                {"code": code, "message": message, "more_info": "", "status": status},
            )

        def do_GET(self) -> None:  # noqa: N802
            record = Received("GET", self.path, {})
            with lock:
                standin.received.append(record)
            self._reject(record, 405, 20004, "Method not allowed")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            params = {key: values[-1] for key, values in parse_qs(raw).items()}
            record = Received("POST", self.path, params)
            with lock:
                standin.received.append(record)
            match = _PATH.match(self.path)
            if match is None or match["sid"] != standin.account_sid:
                return self._reject(record, 404, 20404, "The requested resource was not found")
            expected = (
                "Basic "
                + base64.b64encode(f"{standin.account_sid}:{standin.auth_token}".encode()).decode()
            )
            if self.headers.get("Authorization") != expected:
                return self._reject(record, 401, 20003, "Authentication Error")
            if self.headers.get("Content-Type", "").split(";")[0] != (
                "application/x-www-form-urlencoded"
            ):
                return self._reject(record, 400, 20001, "Form-encoded body expected")
            if not params.get("To") or not params.get("Body"):
                return self._reject(record, 400, 21604, "A 'To' and a 'Body' are required")
            if not params.get("From") and not params.get("MessagingServiceSid"):
                return self._reject(
                    record, 400, 21603, "A 'From' or 'MessagingServiceSid' is required"
                )
            if params["To"] == "+15005550009":  # Twilio's magic number for an opted-out phone
                return self._reject(record, 400, 21610, "Attempt to send to unsubscribed recipient")
            record.sid = "SM" + secrets.token_hex(16)
            self._answer(
                201,
                {
                    "sid": record.sid,
                    "account_sid": standin.account_sid,
                    "to": params["To"],
                    "from": params.get("From"),
                    "messaging_service_sid": params.get("MessagingServiceSid"),
                    "body": params["Body"],
                    "status": "queued",
                    "num_segments": "1",
                    "direction": "outbound-api",
                    "api_version": "2010-04-01",
                    "price": None,
                    "error_code": None,
                    "error_message": None,
                    "date_created": "Mon, 01 Sep 2025 12:00:00 +0000",
                    "date_updated": "Mon, 01 Sep 2025 12:00:00 +0000",
                    "date_sent": None,
                    "uri": f"{self.path[:-5]}/{record.sid}.json",
                    "subresource_uris": {},
                },
            )
            return None

    return Handler


@contextmanager
def twilio_standin(
    account_sid: str = TEST_ACCOUNT_SID, auth_token: str = TEST_AUTH_TOKEN
) -> Iterator[TwilioStandIn]:
    standins: list[TwilioStandIn] = []

    def make_handler(url: str) -> type[BaseHTTPRequestHandler]:
        standins.append(TwilioStandIn(url=url, account_sid=account_sid, auth_token=auth_token))
        return _handler(standins[0], threading.Lock())

    with loopback_server(make_handler):
        yield standins[0]
