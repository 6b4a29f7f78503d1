"""A local stand-in for the Stripe REST API (Checkout Sessions, PaymentIntents), for tests only.

A loopback HTTP server the real stripe library is pointed at (`PARLEY_STRIPE_API_BASE`). It
checks every request the way Stripe would reject it — method, path, `Authorization: Bearer`
with the secret key, form encoding, required parameters, an `Idempotency-Key` — and keeps
Stripe's idempotency semantics: the same key with the same parameters replays the first answer
(no second charge), with other parameters it is a 400 `idempotency_error`. Declines follow
Stripe's test payment methods: `pm_card_chargeCustomerFail` is declined with a 402 card error
carrying the PaymentIntent. `sign` builds a real `Stripe-Signature` header for webhook tests.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

import stripe

from devstack.loopback_server import loopback_server

TEST_SECRET_KEY = "sk_test_parley_standin_0123456789abcdef"  # noqa: S105 - test only
TEST_WEBHOOK_SECRET = "whsec_parley_test_0123456789abcdef0123"  # noqa: S105 - test only
DECLINING = "pm_card_chargeCustomerFail"


def sign(payload: str, secret: str = TEST_WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """`Stripe-Signature` as Stripe sends it: t=<unix>,v1=<HMAC-SHA256 of "t.payload">."""
    t = int(time.time()) if timestamp is None else timestamp
    signature = stripe.WebhookSignature._compute_signature(f"{t}.{payload}", secret)  # noqa: SLF001
    return f"t={t},v1={signature}"


@dataclass
class Received:
    method: str
    path: str
    params: dict[str, str]
    idempotency_key: str | None
    status: int = 0
    error: str | None = None
    replayed: bool = False


@dataclass
class StripeStandIn:
    url: str
    secret_key: str
    received: list[Received] = field(default_factory=list)
    # idempotency key -> (params, status, body): what Stripe keeps for 24 hours
    answers: dict[str, tuple[dict[str, str], int, dict[str, Any]]] = field(default_factory=dict)
    # Seconds each new charge takes after it is made and before it is answered (a fault test
    # kills the worker inside that window: charged at Stripe, not yet recorded by Parley).
    charge_delay_seconds: float = 0.0

    def accepted(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path and r.error is None]

    @property
    def rejected(self) -> list[Received]:
        return [r for r in self.received if r.error is not None and r.status != 402]

    @property
    def charges(self) -> list[Received]:
        """Off-session PaymentIntents that were new (not idempotent replays), declined or not."""
        return [
            r
            for r in self.received
            if r.path == "/v1/payment_intents" and r.status in (200, 402) and not r.replayed
        ]


def _error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **extra}}


def _checkout(params: dict[str, str], base: str) -> tuple[int, dict[str, Any]]:
    mode = params.get("mode")
    if mode not in ("payment", "setup"):
        return 400, _error("invalid_request_error", "Missing required param: mode.", param="mode")
    if not params.get("success_url", "").startswith(("http://", "https://")):
        return 400, _error("invalid_request_error", "Not a valid URL", param="success_url")
    amount = 0
    if mode == "payment":
        try:
            amount = int(params["line_items[0][price_data][unit_amount]"])
            quantity = int(params["line_items[0][quantity]"])
        except (KeyError, ValueError):
            return 400, _error(
                "invalid_request_error",
                "line_items[0] needs price_data[unit_amount] and quantity",
                param="line_items",
            )
        if params.get("line_items[0][price_data][currency]") != "usd" or amount < 50:
            return 400, _error("invalid_request_error", "Invalid currency or amount too small.")
        if not params.get("line_items[0][price_data][product_data][name]"):
            return 400, _error("invalid_request_error", "Missing product_data[name].")
        future = params.get("payment_intent_data[setup_future_usage]")
        if future is not None and future not in ("off_session", "on_session"):
            return 400, _error("invalid_request_error", "Invalid setup_future_usage.")
        amount *= quantity
    session_id = "cs_test_" + secrets.token_hex(24)
    metadata = {
        key[len("metadata[") : -1]: value
        for key, value in params.items()
        if key.startswith("metadata[")
    }
    return 200, {
        "id": session_id,
        "object": "checkout.session",
        "livemode": False,
        "mode": mode,
        "status": "open",
        "payment_status": "unpaid",
        "amount_total": amount,
        "currency": "usd",
        "customer": None,
        "payment_intent": None,
        "client_reference_id": params.get("client_reference_id"),
        "metadata": metadata,
        "success_url": params["success_url"],
        "cancel_url": params.get("cancel_url"),
        "url": f"{base}/c/pay/{session_id}",
        "created": int(time.time()),
        "expires_at": int(time.time()) + 86400,
    }


def _payment_intent(params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    try:
        amount = int(params["amount"])
    except (KeyError, ValueError):
        return 400, _error("invalid_request_error", "Missing required param: amount.")
    if amount < 50 or params.get("currency") != "usd":
        return 400, _error("invalid_request_error", "Invalid amount or currency.")
    method = params.get("payment_method", "")
    if not method.startswith("pm_"):
        return 400, _error("invalid_request_error", "No such PaymentMethod.")
    if params.get("off_session") != "true" or params.get("confirm") != "true":
        return 400, _error("invalid_request_error", "off_session and confirm must both be true.")
    metadata = {
        key[len("metadata[") : -1]: value
        for key, value in params.items()
        if key.startswith("metadata[")
    }
    intent: dict[str, Any] = {
        "id": "pi_" + secrets.token_hex(12),
        "object": "payment_intent",
        "livemode": False,
        "amount": amount,
        "currency": "usd",
        "customer": params.get("customer"),
        "payment_method": method,
        "metadata": metadata,
        "created": int(time.time()),
    }
    if method == DECLINING:
        intent.update(status="requires_payment_method", amount_received=0)
        return 402, _error(
            "card_error",
            "Your card was declined.",
            code="card_declined",
            decline_code="generic_decline",
            payment_intent=intent,
        )
    intent.update(status="succeeded", amount_received=amount)
    return 200, intent


_ROUTES = {"/v1/checkout/sessions": "checkout", "/v1/payment_intents": "payment_intent"}


def _handler(standin: StripeStandIn, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet server
            return

        def _answer(self, record: Received, status: int, body: dict[str, Any]) -> None:
            record.status = status
            if status >= 400:
                record.error = str(body.get("error", {}).get("message", "error"))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_" + secrets.token_hex(8))
            if record.replayed:
                self.send_header("Idempotent-Replayed", "true")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            record = Received("GET", self.path, {}, self.headers.get("Idempotency-Key"))
            with lock:
                standin.received.append(record)
            self._answer(record, 404, _error("invalid_request_error", "Unrecognized request URL"))

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            params = dict(parse_qsl(raw, keep_blank_values=True))
            key = self.headers.get("Idempotency-Key")
            record = Received("POST", self.path, params, key)
            with lock:
                standin.received.append(record)
            route = _ROUTES.get(self.path)
            if route is None:
                return self._answer(
                    record, 404, _error("invalid_request_error", "Unrecognized request URL")
                )
            if self.headers.get("Authorization") != f"Bearer {standin.secret_key}":
                return self._answer(
                    record, 401, _error("invalid_request_error", "Invalid API Key provided")
                )
            if self.headers.get("Content-Type", "").split(";")[0] != (
                "application/x-www-form-urlencoded"
            ):
                return self._answer(record, 400, _error("invalid_request_error", "Form body"))
            if not key:
                # Parley always sends its own key; Stripe would accept none, the tests do not.
                return self._answer(
                    record, 400, _error("invalid_request_error", "Idempotency-Key required")
                )
            with lock:
                previous = standin.answers.get(key)
                if previous is not None:
                    if previous[0] != params:
                        return self._answer(
                            record,
                            400,
                            _error(
                                "idempotency_error",
                                "Keys for idempotent requests can only be used with the same "
                                "parameters they were first used with.",
                            ),
                        )
                    record.replayed = True
                    return self._answer(record, previous[1], previous[2])
                if route == "checkout":
                    status, body = _checkout(params, standin.url)
                else:
                    status, body = _payment_intent(params)
                if status in (200, 402):
                    standin.answers[key] = (params, status, body)
            if route == "payment_intent" and standin.charge_delay_seconds:
                time.sleep(standin.charge_delay_seconds)
            return self._answer(record, status, body)

    return Handler


@contextmanager
def stripe_standin(secret_key: str = TEST_SECRET_KEY) -> Iterator[StripeStandIn]:
    standins: list[StripeStandIn] = []

    def make_handler(url: str) -> type[BaseHTTPRequestHandler]:
        standins.append(StripeStandIn(url=url, secret_key=secret_key))
        return _handler(standins[0], threading.Lock())

    with loopback_server(make_handler):
        yield standins[0]
