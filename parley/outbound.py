"""The one way Parley starts an SMS that is not a webhook reply (SPEC §7): agent replies,
confirmations after the fact, reminders, notices.

`send_sms` always records an `OutboundMessage` and always applies the channel rules first:
an opted-out number gets nothing (status `blocked`); outside the debtor's convenient hours the
message waits (`scheduled`, `send_after` = the next allowed moment) for `parley.jobs` to send it;
otherwise it goes now, through the Twilio REST API when Twilio is configured (`sent`) or into the
local outbox the console shows (`outbox`). A failed send is `failed` with the reason; it is not
retried automatically, because a duplicate collection text is worse than a missing one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from parley import optout, quiet_hours
from parley.models import Account, AuditEvent, OutboundMessage, utcnow
from parley.settings import Settings, get_settings
from parley.sms import UNSUBSCRIBED_RECIPIENT, normalize_phone, status_callback_url, with_statement

log = logging.getLogger(__name__)

TWILIO_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class SendResult:
    status: str  # sent | outbox
    provider_id: str | None = None
    delivery_status: str | None = None


class SmsTransport(Protocol):
    def send(self, to: str, body: str) -> SendResult: ...


class OutboxTransport:
    """Local mode: the message is kept in `outbound_messages` with status `outbox` for the
    console; nothing leaves the machine."""

    def send(self, to: str, body: str) -> SendResult:
        return SendResult("outbox")


class RoutedHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no types
    """The twilio library's HTTP client with every Twilio API host replaced by `base_url`: how
    tests point the real client at a local stand-in without patching the library."""

    def __init__(self, base_url: str, timeout: float = TWILIO_TIMEOUT_SECONDS) -> None:
        super().__init__(timeout=timeout)
        parts = urlsplit(base_url)
        self._scheme, self._netloc = parts.scheme, parts.netloc
        self._prefix = parts.path.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        routed = urlunsplit(
            (self._scheme, self._netloc, self._prefix + parts.path, parts.query, "")
        )
        return super().request(method, routed, *args, **kwargs)


class TwilioTransport:
    """The Twilio REST API (Messages resource), with delivery reports to our status webhook."""

    def __init__(self, settings: Settings) -> None:
        if not settings.twilio_rest_configured:
            raise ValueError("Twilio account SID, auth token and a sender are needed")
        http_client = (
            RoutedHttpClient(settings.twilio_api_url)
            if settings.twilio_api_url
            else TwilioHttpClient(timeout=TWILIO_TIMEOUT_SECONDS)
        )
        self._client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token, http_client=http_client
        )
        self._sender: dict[str, str] = (
            {"messaging_service_sid": settings.twilio_messaging_service_sid}
            if settings.twilio_messaging_service_sid
            else {"from_": settings.twilio_from_number or ""}
        )
        self._status_callback = status_callback_url(settings)

    def send(self, to: str, body: str) -> SendResult:
        message = self._client.messages.create(
            to=to, body=body, status_callback=self._status_callback, **self._sender
        )
        return SendResult("sent", message.sid, message.status)


def make_transport(settings: Settings) -> SmsTransport:
    """Twilio when it is fully configured, the local outbox otherwise (SPEC §7 local mode)."""
    if settings.twilio_rest_configured:
        return TwilioTransport(settings)
    return OutboxTransport()


def debtor_zones(session: Session, phone: str, account_id: int | None = None) -> tuple[str, ...]:
    """Candidate zones for a number: the account's zone and ZIP zones (every account listing the
    number when none is named) and the area code's zones."""
    if account_id is not None:
        account = session.get(Account, account_id)
        accounts = [account] if account is not None else []
    else:
        accounts = list(session.scalars(select(Account).where(Account.phone == phone)))
    names: list[str] = []
    for account in accounts:
        if account.timezone:
            names.append(account.timezone)
        names.extend(str(zone) for zone in account.zip_timezones or [])
    return quiet_hours.candidate_zones(None, names, phone)


# Messages that pursue the debt stop while collection is paused (dispute, bankruptcy, attorney,
# cease communication: SPEC §10); an agent's reply or a notice the debtor needs still goes out.
COLLECTION_KINDS = frozenset({"reminder", "confirmation", "collection"})


def _collection_paused(session: Session, account_id: int | None) -> bool:
    if account_id is None:
        return False
    account = session.get(Account, account_id)
    return account is not None and account.collection_paused


def send_sms(
    session: Session,
    to: str,
    body: str,
    kind: str,
    conversation_id: str | None = None,
    account_id: int | None = None,
    now: datetime | None = None,
    *,
    settings: Settings | None = None,
    transport: SmsTransport | None = None,
) -> OutboundMessage:
    """Send (or schedule, or refuse) one SMS Parley initiates, and record what happened.

    Runs in the caller's transaction; the row is flushed so its id and status are readable.
    """
    settings = settings or get_settings()
    now = now or utcnow()
    phone = normalize_phone(to) or to
    row = OutboundMessage(
        conversation_id=conversation_id,
        account_id=account_id,
        channel="sms",
        to=phone,
        body=with_statement(body, settings.sms_opt_out_text),
        kind=kind[:16],
        status="scheduled",
        send_after=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    dispatch(session, row, settings, transport, now)
    return row


def dispatch(
    session: Session,
    row: OutboundMessage,
    settings: Settings,
    transport: SmsTransport | None,
    now: datetime,
) -> None:
    """Apply opt-out, the collection pause and quiet hours to `row` at `now`, then hand it to
    the transport. Checked again by the job at send time, so a pause or an opt-out that comes
    after scheduling still stops the message."""
    if optout.is_opted_out(session, row.to):
        row.status, row.error = "blocked", "opted_out"
        _audit(session, row, "sms.blocked", reason="opted_out")
        return
    if row.kind in COLLECTION_KINDS and _collection_paused(session, row.account_id):
        row.status, row.error = "blocked", "collection_paused"
        _audit(session, row, "sms.blocked", reason="collection_paused")
        return
    zones = debtor_zones(session, row.to, row.account_id)
    if not quiet_hours.is_allowed(now, zones):
        try:
            row.send_after = quiet_hours.next_allowed(now, zones)
        except quiet_hours.NoAllowedTime:
            row.status, row.error = "blocked", "no_convenient_time"
            _audit(session, row, "sms.blocked", reason="no_convenient_time")
            return
        row.status = "scheduled"
        _audit(session, row, "sms.deferred", send_after=row.send_after.isoformat())
        return
    transmit(session, row, transport or make_transport(settings), now)


def transmit(
    session: Session, row: OutboundMessage, transport: SmsTransport, now: datetime
) -> None:
    """Hand the message to the transport and record the outcome (never raises for a send)."""
    row.status, row.sent_at = "sending", now
    try:
        result = transport.send(row.to, row.body)
    except TwilioRestException as exc:
        row.status, row.error = "failed", f"twilio {exc.code}: {exc.msg}"[:500]
        if str(exc.code) == UNSUBSCRIBED_RECIPIENT:
            # The carrier or Twilio holds a STOP we never saw: honour it everywhere.
            row.status = "blocked"
            optout.opt_out(session, row.to, "carrier", f"twilio {exc.code}", row.conversation_id)
        log.warning("sms send failed", extra={"outbound_id": row.id, "code": exc.code})
    except Exception as exc:  # network errors, bad configuration: record, do not crash callers
        row.status, row.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
        log.warning("sms send failed", extra={"outbound_id": row.id, "error": type(exc).__name__})
    else:
        row.status = result.status
        row.provider_id = result.provider_id
        row.delivery_status = result.delivery_status
        log.info("sms %s", result.status, extra={"outbound_id": row.id})
    _audit(session, row, f"sms.{row.status}")


def _audit(session: Session, row: OutboundMessage, kind: str, **data: Any) -> None:
    session.add(
        AuditEvent(
            kind=kind,
            conversation_id=row.conversation_id,
            account_id=row.account_id,
            data={"outbound_id": row.id, "kind": row.kind, **data},
        )
    )
