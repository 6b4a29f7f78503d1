"""How an email leaves (SPEC §14): SMTP through the standard library's `smtplib`, or the local
outbox when no SMTP URL is configured.

`smtplib` rather than a client library: one message per call to one relay is all Parley needs,
and the standard library does it completely (implicit TLS, STARTTLS with certificate checks,
AUTH, SMTPUTF8); a library would add a dependency and nothing this channel uses. A connection is
opened per message: sends are rare (a cadence step, a receipt) and a fresh connection cannot be a
stale one.

A send either returns (the relay accepted the message) or raises `SendFailed` with what the
relay said; the caller records it and may retry (`parley.email.send`). Once the relay has
accepted the message, nothing afterwards (a failed QUIT, a dropped connection) turns it into a
failure, because a retry would then send it twice.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from parley.core.settings import Settings
from parley.email.smtp_url import SmtpConfig, parse_smtp_url
from parley.tables import OutboundStatus

log = logging.getLogger(__name__)

ACCEPTED = "accepted"  # the relay took the message (250 after DATA)
UNREACHABLE = "unreachable"  # no SMTP conversation: refused connection, DNS, timeout, TLS


@dataclass(frozen=True)
class EmailResult:
    status: OutboundStatus  # SENT or OUTBOX
    delivery_status: str | None = None


class SendFailed(Exception):
    """The relay did not accept the message (so it was not sent: a retry is safe)."""

    def __init__(self, delivery_status: str, detail: str) -> None:
        super().__init__(detail)
        self.delivery_status = delivery_status  # "smtp 550", "unreachable", ...
        self.detail = detail


class EmailTransport(Protocol):
    def send(self, message: EmailMessage) -> EmailResult: ...


class OutboxTransport:
    """Local mode: the row stays in `outbound_messages` with status `outbox` (subject and text
    part stored) for the console; nothing leaves the machine."""

    def send(self, message: EmailMessage) -> EmailResult:
        return EmailResult(OutboundStatus.OUTBOX)


class SmtpTransport:
    """One SMTP relay. `ssl_context` is for tests (a local CA); by default the system's trust
    store verifies the relay's certificate and host name."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        timeout: float = 20.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self._context = ssl_context

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        context = self._context or ssl.create_default_context()
        if config.implicit_tls:
            return smtplib.SMTP_SSL(config.host, config.port, timeout=self.timeout, context=context)
        client = smtplib.SMTP(config.host, config.port, timeout=self.timeout)
        if config.starttls:
            try:
                client.starttls(context=context)
            except BaseException:
                client.close()
                raise
        return client

    def send(self, message: EmailMessage) -> EmailResult:
        try:
            client = self._connect()
        except smtplib.SMTPResponseException as exc:  # e.g. 554 at the greeting, STARTTLS refused
            raise SendFailed(f"smtp {exc.smtp_code}", _said(exc.smtp_code, exc.smtp_error)) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise SendFailed("starttls unsupported", str(exc)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SendFailed(UNREACHABLE, f"{type(exc).__name__}: {exc}") from exc
        try:
            try:
                if self.config.username:
                    client.login(self.config.username, self.config.password or "")
                client.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                code, said = next(iter(exc.recipients.values()), (0, b""))
                raise SendFailed(f"smtp {code}", _said(code, said)) from exc
            except smtplib.SMTPResponseException as exc:  # auth, sender, data refused
                raise SendFailed(
                    f"smtp {exc.smtp_code}", _said(exc.smtp_code, exc.smtp_error)
                ) from exc
            except (OSError, smtplib.SMTPException) as exc:  # dropped before the 250 after DATA
                raise SendFailed(UNREACHABLE, f"{type(exc).__name__}: {exc}") from exc
        except BaseException:
            client.close()
            raise
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()  # accepted already: a failed goodbye changes nothing
        return EmailResult(OutboundStatus.SENT, ACCEPTED)


def _said(code: int, said: bytes | str) -> str:
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
    return f"SMTP {code} {text}".strip()[:500]


def make_transport(settings: Settings) -> EmailTransport:
    """SMTP when `PARLEY_SMTP_URL` is set, the local outbox otherwise (SPEC §14 local mode).
    Production never gets the outbox: there, email without an SMTP URL is disabled (the
    settings refuse enabling it), and `send_email` blocks it before a transport is used."""
    if settings.smtp_url:
        return SmtpTransport(
            parse_smtp_url(settings.smtp_url), timeout=settings.smtp_timeout_seconds
        )
    return OutboxTransport()
