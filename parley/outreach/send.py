"""The one way Parley starts an SMS that is not a webhook reply (SPEC §7): agent replies,
confirmations after the fact, reminders, notices.

`send_sms` always records an `OutboundMessage` and always applies the channel rules first:
an opted-out number gets nothing (status `blocked`); outside the debtor's convenient hours the
message waits (`scheduled`, `send_after` = the next allowed moment) for `send_due` to send it;
otherwise it goes now, through the Twilio REST API when Twilio is configured (`sent`) or into the
local outbox the console shows (`outbox`). A failed send is `failed` with the reason; it is not
retried automatically, because a duplicate collection text is worse than a missing one. The
rules are checked again when a deferred message goes out: the debtor may have texted STOP since.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from twilio.base.exceptions import TwilioRestException

from parley.core.clock import utcnow
from parley.core.db import transaction
from parley.core.settings import Settings
from parley.jobs.lease import BATCH, claimed, run_claimed, stale_before
from parley.outreach import quiet_hours
from parley.records.audit import Kind, record
from parley.sms import optout
from parley.sms.phones import normalize_phone
from parley.sms.render import with_statement
from parley.sms.twilio import UNSUBSCRIBED_RECIPIENT, SmsTransport, make_transport
from parley.tables import (
    Account,
    Channel,
    OptOutSource,
    OutboundKind,
    OutboundMessage,
    OutboundStatus,
)

log = logging.getLogger(__name__)

# Messages that pursue the debt stop while collection is paused (dispute, bankruptcy, attorney,
# cease communication: SPEC §10); an agent's reply or a notice the debtor needs still goes out.
COLLECTION_KINDS = frozenset(
    {OutboundKind.REMINDER, OutboundKind.CONFIRMATION, OutboundKind.COLLECTION}
)
_STATUS_KIND = {
    OutboundStatus.SENDING: Kind.SMS_SENDING,
    OutboundStatus.SENT: Kind.SMS_SENT,
    OutboundStatus.OUTBOX: Kind.SMS_OUTBOX,
    OutboundStatus.FAILED: Kind.SMS_FAILED,
    OutboundStatus.BLOCKED: Kind.SMS_BLOCKED,
    OutboundStatus.SCHEDULED: Kind.SMS_DEFERRED,
}


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


def _collection_paused(session: Session, account_id: int | None) -> bool:
    if account_id is None:
        return False
    account = session.get(Account, account_id)
    return account is not None and account.collection_paused


def send_sms(
    session: Session,
    settings: Settings,
    to: str,
    body: str,
    kind: OutboundKind,
    *,
    conversation_id: str | None = None,
    account_id: int | None = None,
    now: datetime | None = None,
    transport: SmsTransport | None = None,
) -> OutboundMessage:
    """Send (or schedule, or refuse) one SMS Parley initiates, and record what happened.

    Runs in the caller's transaction; the row is flushed so its id and status are readable.
    """
    now = now or utcnow()
    row = OutboundMessage(
        conversation_id=conversation_id,
        account_id=account_id,
        channel="sms",
        to=normalize_phone(to) or to,
        body=with_statement(body, settings.sms_opt_out_text),
        kind=OutboundKind(kind),
        status=OutboundStatus.SCHEDULED,
        send_after=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    dispatch(session, row, settings, transport, now)
    return row


def _block(session: Session, row: OutboundMessage, reason: str) -> None:
    row.status, row.error = OutboundStatus.BLOCKED, reason
    _audit(session, row, Kind.SMS_BLOCKED, reason=reason)


def dispatch(
    session: Session,
    row: OutboundMessage,
    settings: Settings,
    transport: SmsTransport | None,
    now: datetime,
) -> None:
    """Apply opt-out, the collection pause and quiet hours to `row` at `now`, then hand it to
    the transport."""
    if optout.is_opted_out(session, row.to):
        _block(session, row, "opted_out")
        return
    if row.kind in COLLECTION_KINDS and _collection_paused(session, row.account_id):
        _block(session, row, "collection_paused")
        return
    zones = debtor_zones(session, row.to, row.account_id)
    if not quiet_hours.is_allowed(now, zones):
        try:
            row.send_after = quiet_hours.next_allowed(now, zones)
        except quiet_hours.NoAllowedTime:
            _block(session, row, "no_convenient_time")
            return
        row.status = OutboundStatus.SCHEDULED
        _audit(session, row, Kind.SMS_DEFERRED, send_after=row.send_after.isoformat())
        return
    transmit(session, row, transport or make_transport(settings), now)


def transmit(
    session: Session, row: OutboundMessage, transport: SmsTransport, now: datetime
) -> None:
    """Hand the message to the transport and record the outcome (never raises for a send)."""
    row.status, row.sent_at = OutboundStatus.SENDING, now
    try:
        result = transport.send(row.to, row.body)
    except TwilioRestException as exc:
        row.status, row.error = OutboundStatus.FAILED, f"twilio {exc.code}: {exc.msg}"[:500]
        if str(exc.code) == UNSUBSCRIBED_RECIPIENT:
            # The carrier or Twilio holds a STOP we never saw: honour it everywhere.
            row.status = OutboundStatus.BLOCKED
            optout.opt_out(
                session, row.to, OptOutSource.CARRIER, f"twilio {exc.code}", row.conversation_id
            )
        log.warning("sms send failed", extra={"outbound_id": row.id, "code": exc.code})
    except Exception as exc:  # network errors, bad configuration: record, do not crash callers
        row.status, row.error = OutboundStatus.FAILED, f"{type(exc).__name__}: {exc}"[:500]
        log.warning("sms send failed", extra={"outbound_id": row.id, "error": type(exc).__name__})
    else:
        row.status = result.status
        row.provider_id = result.provider_id
        row.delivery_status = result.delivery_status
        log.info("sms %s", result.status, extra={"outbound_id": row.id})
    _audit(session, row, _STATUS_KIND[row.status])


def _audit(session: Session, row: OutboundMessage, kind: Kind, **data: Any) -> None:
    record(
        session,
        kind,
        conversation_id=row.conversation_id,
        account_id=row.account_id,
        outbound_id=row.id,
        kind=str(row.kind),
        **data,
    )


# --- the deferred messages, sent when their time comes ---------------------------------------


def send_due(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    transport: SmsTransport | None = None,
    now: datetime | None = None,
    limit: int = BATCH,
) -> int:
    """Send every deferred SMS due at `now`; returns how many rows this run claimed.

    A row is claimed (`scheduled` -> `sending`) before anything is sent. A row left in `sending`
    by a crash mid-send is not retried (Twilio may have sent it): once stale it is marked
    `failed` with a note, for a person to look at. Owns its transactions (see `run_claimed`).
    """
    now = now or utcnow()
    with transaction(factory) as session:
        session.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.channel == Channel.SMS,  # email rows: parley.email.send
                OutboundMessage.status == OutboundStatus.SENDING,
                OutboundMessage.sent_at < stale_before(now, settings.job_lease_seconds),
            )
            .values(status=OutboundStatus.FAILED, error="interrupted while sending; not retried")
            .execution_options(synchronize_session=False)
        )
        due = list(
            session.scalars(
                select(OutboundMessage.id)
                .where(
                    OutboundMessage.channel == Channel.SMS,
                    OutboundMessage.status == OutboundStatus.SCHEDULED,
                    OutboundMessage.send_after <= now,
                )
                .order_by(OutboundMessage.send_after, OutboundMessage.id)
                .limit(limit)
            )
        )
    if not due:
        return 0
    sender = transport or make_transport(settings)

    def claim(session: Session, outbound_id: int) -> bool:
        return claimed(
            session,
            update(OutboundMessage)
            .where(
                OutboundMessage.id == outbound_id,
                OutboundMessage.status == OutboundStatus.SCHEDULED,
                OutboundMessage.send_after <= now,
            )
            .values(status=OutboundStatus.SENDING, sent_at=now),
        )

    def send(outbound_id: int) -> None:
        with transaction(factory) as session:
            row = session.get(OutboundMessage, outbound_id)
            if row is not None:
                dispatch(session, row, settings, sender, now)

    return run_claimed(factory, due, claim, send)


def due_deferred(session: Session, now: datetime, limit: int = BATCH) -> list[tuple[int, str]]:
    """(outbound id, job key) for each deferred SMS due at `now`: the job engine's plan for
    `sms.deferred` jobs. The key names the row and its send time, so a message deferred again
    (quiet hours moved it) gets a new job and a sent one never another."""
    rows = session.execute(
        select(OutboundMessage.id, OutboundMessage.send_after)
        .where(
            OutboundMessage.status == OutboundStatus.SCHEDULED,
            OutboundMessage.send_after <= now,
        )
        .order_by(OutboundMessage.send_after, OutboundMessage.id)
        .limit(limit)
    ).all()
    return [(row_id, f"sms:{row_id}:{after.isoformat()}") for row_id, after in rows]


def send_one(
    factory: sessionmaker[Session],
    settings: Settings,
    outbound_id: int,
    *,
    transport: SmsTransport | None = None,
    now: datetime | None = None,
) -> str:
    """The `sms.deferred` job's body: claim this row (`scheduled` -> `sending`) and send it as
    `send_due` would; a row a dead worker left `sending` is failed, never re-sent."""
    now = now or utcnow()
    with transaction(factory) as session:
        stale: Any = session.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.id == outbound_id,
                OutboundMessage.status == OutboundStatus.SENDING,
                OutboundMessage.sent_at < stale_before(now, settings.job_lease_seconds),
            )
            .values(status=OutboundStatus.FAILED, error="interrupted while sending; not retried")
            .execution_options(synchronize_session=False)
        )
        if stale.rowcount:
            return "interrupted"
        won = claimed(
            session,
            update(OutboundMessage)
            .where(
                OutboundMessage.id == outbound_id,
                OutboundMessage.status == OutboundStatus.SCHEDULED,
                OutboundMessage.send_after <= now,
            )
            .values(status=OutboundStatus.SENDING, sent_at=now),
        )
    if not won:
        return "not_due"
    with transaction(factory) as session:
        row = session.get(OutboundMessage, outbound_id)
        if row is None:
            return "gone"
        dispatch(session, row, settings, transport or make_transport(settings), now)
        return str(row.status)
