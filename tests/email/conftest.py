"""A real SMTP server on loopback (aiosmtpd) for the email channel's tests: it speaks SMTP with
AUTH, records every message it accepts (envelope and parsed message), and can be told to
refuse recipients or data the way a relay does."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from devstack.stack import free_port
from parley.core.settings import Settings

SMTP_USER = "parley-relay"
SMTP_PASSWORD = "p@ss/w:rd%"  # characters the URL must percent-encode
SENDER = "Parley Recovery Services <collections@parley.example>"
PUBLIC = "https://parley.example"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class Relay:
    """The handler: what a relay accepted, and how it should answer next."""

    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    refuse_rcpt: str | None = None  # e.g. "550 5.1.1 mailbox unavailable"
    refuse_data: str | None = None  # e.g. "451 4.3.0 try again later"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse_data:
            return self.refuse_data
        raw = bytes(envelope.original_content or envelope.content)
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, parsed))
        return "250 2.0.0 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == (SMTP_USER, SMTP_PASSWORD), handled=False)


@dataclass
class SmtpServer:
    relay: Relay
    port: int
    controller: Controller

    @property
    def url(self) -> str:
        user, password = quote(SMTP_USER, safe=""), quote(SMTP_PASSWORD, safe="")
        return f"smtp://{user}:{password}@127.0.0.1:{self.port}"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    relay = Relay()
    port = free_port()
    controller = Controller(
        relay,
        hostname="127.0.0.1",
        port=port,
        authenticator=relay.authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield SmtpServer(relay, port, controller)
    finally:
        controller.stop()


def email_settings(smtp_url: str | None = None, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "PARLEY_PUBLIC_URL": PUBLIC,
        "PARLEY_COMPANY_NAME": "Parley Recovery Services",
        "PARLEY_JOBS_INTERVAL_SECONDS": 0,
        **extra,
    }
    if smtp_url is not None:
        values.setdefault("PARLEY_SMTP_URL", smtp_url)
        values.setdefault("PARLEY_EMAIL_FROM", SENDER)
    return Settings(**values)
