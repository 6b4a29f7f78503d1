"""The channels outreach initiates messages on (SPEC §14): SMS and email.

A `Channel` knows the debtor's address on it and how to send one message (its send path adds
the channel's opt-out line) in the caller's transaction. The cadence runner (parley.outreach.steps)
checks the contact rules first and records a `sending` event (committed) before calling
`send`, so a channel need not guard against a crash between its provider call and the commit.

Email goes through `parley.email.send_email`, which keeps its own once-per-key record and
commits the session as it goes (record, claim, send), so `send` is called outside a `begin()`
block and the cadence runner commits its outcome after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from parley.core.settings import Settings
from parley.email.addresses import InvalidAddress, normalize_address
from parley.email.send import send_email
from parley.email.transport import EmailTransport
from parley.email.transport import make_transport as make_email_transport
from parley.outreach.send import send_sms
from parley.sms.phones import normalize_phone
from parley.sms.twilio import SmsTransport
from parley.tables import Account, OutboundKind, OutboundMessage, OutboundStatus


@dataclass(frozen=True)
class Delivery:
    """What the channel did: `sent` (or `outbox` in local mode), else a refusal's reason."""

    ok: bool
    status: str
    outbound_id: int | None = None
    error: str | None = None


class Channel(Protocol):
    name: str

    def address(self, account: Account) -> str | None:
        """Where this debtor is reached on this channel (normalised), or None."""
        ...

    def transactional(self, settings: Settings) -> bool:
        """True when `send` only writes to the database (local mode's outbox): a send a crash
        interrupted then left no trace and is safely done again. False when a provider is
        called: an interrupted send may have gone out and is never repeated."""
        ...

    def send(
        self,
        session: Session,
        settings: Settings,
        *,
        account: Account,
        to: str,
        subject: str,
        text: str,
        kind: str,
        idempotency_key: str,
        now: datetime,
        services: dict[str, Any],
    ) -> Delivery: ...


def _outbound_kind(kind: str) -> OutboundKind:
    return OutboundKind.COLLECTION if kind == "collection" else OutboundKind.NOTICE


def _delivery(row: OutboundMessage, *delivered: OutboundStatus) -> Delivery:
    """The channel's outbound row as a `Delivery`: ok when its status is one of `delivered`."""
    return Delivery(row.status in delivered, str(row.status), row.id, row.error)


class SmsChannel:
    """Through `parley.outreach.send.send_sms` (Twilio, or the local outbox), which applies
    the SMS rules once more and appends the opt-out statement."""

    name = "sms"

    def address(self, account: Account) -> str | None:
        return normalize_phone(account.phone) if account.phone else None

    def transactional(self, settings: Settings) -> bool:
        return not settings.twilio_rest_configured

    def send(
        self,
        session: Session,
        settings: Settings,
        *,
        account: Account,
        to: str,
        subject: str,
        text: str,
        kind: str,
        idempotency_key: str,
        now: datetime,
        services: dict[str, Any],
    ) -> Delivery:
        transport: SmsTransport | None = services.get("sms_transport")
        row = send_sms(
            session,
            settings,
            to,
            text,
            _outbound_kind(kind),
            account_id=account.id,
            now=now,
            transport=transport,
        )
        # `scheduled`: the SMS rules deferred it after all; the deferred-send job sends it.
        return _delivery(row, OutboundStatus.SENT, OutboundStatus.OUTBOX, OutboundStatus.SCHEDULED)


class EmailChannel:
    """Through `parley.email.send_email` (SMTP, or the local outbox), which adds the collector
    statement and the unsubscribe line to both parts and refuses an unsubscribed address."""

    name = "email"

    def address(self, account: Account) -> str | None:
        if not account.email:
            return None
        try:
            return normalize_address(account.email)
        except InvalidAddress:
            return None

    def transactional(self, settings: Settings) -> bool:
        # send_email's own row, claimed before SMTP, already guards an interrupted send.
        return False

    def send(
        self,
        session: Session,
        settings: Settings,
        *,
        account: Account,
        to: str,
        subject: str,
        text: str,
        kind: str,
        idempotency_key: str,
        now: datetime,
        services: dict[str, Any],
    ) -> Delivery:
        transport: EmailTransport = services.get("email_transport") or make_email_transport(
            settings
        )
        row = send_email(
            session,
            settings,
            transport,
            account=account,
            to=to,
            subject=subject,
            text=text,
            kind=_outbound_kind(kind),
            idempotency_key=f"outreach:{idempotency_key}",
            now=now,
        )
        return _delivery(row, OutboundStatus.SENT, OutboundStatus.OUTBOX)


_CHANNELS: dict[str, Channel] = {"sms": SmsChannel(), "email": EmailChannel()}


def get_channel(name: str) -> Channel | None:
    return _CHANNELS.get(name)
