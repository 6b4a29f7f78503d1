"""`send_email`: the one way Parley emails a debtor (SPEC §14), once per idempotency key.

The outreach engine calls it for every email a cadence step, a receipt or an agreement sends.
It always leaves one `OutboundMessage` row (`channel=email`) per idempotency key that says what
happened, and it sends at most once per key, also across a crash:

1. **record**: the row is written (`scheduled`) and committed before anything else, with the
   full text, the subject and a Message-ID, so a retry sends the very same message;
2. **refuse**: an opted-out address (or email switched off, an invalid address, a paused
   collection for messages that pursue the debt) gets no email: the row is `blocked` with the
   reason, for good;
3. **claim**: a conditional UPDATE moves the row to `sending` and commits; of two workers with
   the same key exactly one wins (the pattern of `parley.jobs.lease`);
4. **send** through the transport, then record `sent` / `outbox`, or `failed` with the relay's
   answer when it did not accept the message.

A `failed` row is retried by calling `send_email` again with the same key: the message was not
accepted, so sending it again cannot duplicate it. A row left in `sending` by a process that died
mid-send is different: the relay may have accepted the message before the crash, so once its
claim is older than `PARLEY_JOB_LEASE_SECONDS` it is marked `failed` with delivery status
`interrupted` and never sent again (a person looks at it; a duplicate collection email is worse
than a missing one). A repeated call for a row that is `sent`, `outbox` or `blocked` only
returns the row.

Quiet hours, frequency caps and the account's state are the outreach engine's rules
(`parley.outreach`), checked before it calls this; the opt-out and the collection pause are
checked here as well because they must hold on every path that emails.

The session is committed by this function (the record and the claim must be durable before the
SMTP conversation starts): pass a session that is not inside `transaction()` / `session.begin()`
and holds no work the caller may still want to roll back.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parley.core.clock import utcnow
from parley.core.settings import Settings
from parley.email import compose, optout
from parley.email.addresses import InvalidAddress, normalize_address
from parley.email.transport import EmailTransport, SendFailed
from parley.jobs.lease import claimed, stale_before
from parley.outreach.content import collector_statement
from parley.records.audit import Kind, record
from parley.tables import Account, Channel, OutboundKind, OutboundMessage, OutboundStatus

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"
MAX_KEY = 200
# Messages that pursue the debt stop while collection is paused (SPEC §10), as for SMS.
COLLECTION_KINDS = frozenset(
    {OutboundKind.REMINDER, OutboundKind.CONFIRMATION, OutboundKind.COLLECTION}
)
_DONE = frozenset({OutboundStatus.SENT, OutboundStatus.OUTBOX, OutboundStatus.BLOCKED})
_OUTCOME_KIND = {
    OutboundStatus.SENT: Kind.EMAIL_SENT,
    OutboundStatus.OUTBOX: Kind.EMAIL_OUTBOX,
    OutboundStatus.FAILED: Kind.EMAIL_FAILED,
}


def send_email(
    session: Session,
    settings: Settings,
    transport: EmailTransport,
    *,
    account: Account | None,
    to: str,
    subject: str,
    text: str,
    kind: OutboundKind,
    idempotency_key: str,
    conversation_id: str | None = None,
    now: datetime | None = None,
) -> OutboundMessage:
    """Email `text` to `to` once for `idempotency_key` and return the row saying what happened
    (`sent`, `outbox`, `blocked` with the reason in `error`, `failed` with the relay's answer,
    or `sending` while another worker holds it). Commits `session` (see the module docstring).

    Raises ValueError only for a call that cannot be recorded at all: an empty or too long
    idempotency key, an empty subject."""
    key = idempotency_key.strip()
    if not key or len(key) > MAX_KEY:
        raise ValueError(f"an idempotency key of 1 to {MAX_KEY} characters is needed")
    now = now or utcnow()
    row = _by_key(session, key)
    if row is None:
        row = _record(
            session, settings, account, to, subject, text, kind, key, conversation_id, now
        )
    session.commit()
    return _deliver(session, settings, transport, row, now)


def _by_key(session: Session, key: str) -> OutboundMessage | None:
    return session.scalars(
        select(OutboundMessage).where(OutboundMessage.idempotency_key == key)
    ).first()


def _record(
    session: Session,
    settings: Settings,
    account: Account | None,
    to: str,
    subject: str,
    text: str,
    kind: OutboundKind,
    key: str,
    conversation_id: str | None,
    now: datetime,
) -> OutboundMessage:
    """Write the row for a new key (step 1). Of two workers recording one key at once, the
    second finds the first's row and carries on with it."""
    title = compose.clean_subject(subject)
    try:
        address: str | None = normalize_address(to)
    except InvalidAddress:
        address = None
    body = text.strip()
    if address is not None:
        token = optout.ensure_address(session, settings, address).token
        body = compose.full_text(
            text, collector_statement(settings), optout.unsubscribe_url(settings, token)
        )
    row = OutboundMessage(
        conversation_id=conversation_id,
        account_id=account.id if account is not None else None,
        channel=Channel.EMAIL,
        to=address or to.strip()[:320],
        subject=title,
        body=body,
        kind=OutboundKind(kind),
        status=OutboundStatus.SCHEDULED,
        send_after=now,
        provider_id=compose.new_message_id(settings.email_sender),
        idempotency_key=key,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = _by_key(session, key)
        if existing is None:
            raise
        return existing
    return row


def _deliver(
    session: Session,
    settings: Settings,
    transport: EmailTransport,
    row: OutboundMessage,
    now: datetime,
) -> OutboundMessage:
    if row.status in _DONE:
        return row
    if row.status == OutboundStatus.FAILED and _interrupted(row):
        return row
    if row.status == OutboundStatus.SENDING:
        if row.sent_at is not None and row.sent_at >= stale_before(now, settings.job_lease_seconds):
            return row  # another worker is sending it right now
        _give_up_interrupted(session, row)
        return row
    reason = _refusal(session, settings, row)
    if reason is not None:
        row.status, row.error = OutboundStatus.BLOCKED, reason
        _audit(session, Kind.EMAIL_BLOCKED, row, reason=reason)
        session.commit()
        log.info("email blocked", extra={"outbound_id": row.id, "reason": reason})
        return row
    # Step 3: claim. The WHERE names the state this call saw, so a concurrent call loses here.
    won = claimed(
        session,
        update(OutboundMessage)
        .where(
            OutboundMessage.id == row.id,
            OutboundMessage.status == row.status,
        )
        .values(status=OutboundStatus.SENDING, sent_at=now, error=None, delivery_status=None),
    )
    session.commit()
    session.refresh(row)
    if not won:
        return row
    message = compose.build_message(
        sender=settings.email_sender,
        to=row.to,
        subject=row.subject or "",
        text=row.body,
        message_id=row.provider_id or compose.new_message_id(settings.email_sender),
        unsubscribe_url=_unsubscribe_url(session, settings, row.to),
        unsubscribe_mailto=settings.email_unsubscribe_mailto,
        date=now,
    )
    # Step 4: send, then record what the relay said.
    try:
        result = transport.send(message)
    except SendFailed as exc:
        row.status, row.delivery_status = OutboundStatus.FAILED, exc.delivery_status[:32]
        row.error = exc.detail[:500]
    except Exception as exc:  # a transport bug or misconfiguration: recorded, never raised
        row.status, row.delivery_status = OutboundStatus.FAILED, "error"
        row.error = f"{type(exc).__name__}: {exc}"[:500]
    else:
        row.status, row.delivery_status = result.status, result.delivery_status
    _audit(session, _OUTCOME_KIND[row.status], row, delivery_status=row.delivery_status)
    session.commit()
    log.info("email %s", row.status, extra={"outbound_id": row.id, "delivery": row.delivery_status})
    return row


def _interrupted(row: OutboundMessage) -> bool:
    """Given up after a crash mid-send (here, or by a sweep that marks stale claims)."""
    return row.delivery_status == INTERRUPTED or (row.error or "").startswith("interrupted")


def _refusal(session: Session, settings: Settings, row: OutboundMessage) -> str | None:
    """Why this row may not be sent now, or None."""
    if not settings.email_channel_enabled:
        return "email_disabled"
    try:
        normalize_address(row.to)
    except InvalidAddress:
        return "invalid_address"
    if optout.is_opted_out(session, row.to):
        return "opted_out"
    if row.kind in COLLECTION_KINDS and row.account_id is not None:
        account = session.get(Account, row.account_id)
        if account is not None and account.collection_paused:
            return "collection_paused"
    return None


def _unsubscribe_url(session: Session, settings: Settings, address: str) -> str:
    return optout.unsubscribe_url(settings, optout.ensure_address(session, settings, address).token)


def _give_up_interrupted(session: Session, row: OutboundMessage) -> None:
    """A stale `sending` row: the process died mid-send, the relay may have the message."""
    won = claimed(
        session,
        update(OutboundMessage)
        .where(OutboundMessage.id == row.id, OutboundMessage.status == OutboundStatus.SENDING)
        .values(
            status=OutboundStatus.FAILED,
            delivery_status=INTERRUPTED,
            error="interrupted while sending; not retried (the relay may have accepted it)",
        ),
    )
    if won:
        _audit(session, Kind.EMAIL_INTERRUPTED, row)
    session.commit()
    session.refresh(row)


def _audit(session: Session, event: Kind, row: OutboundMessage, **data: Any) -> None:
    record(
        session,
        event,
        conversation_id=row.conversation_id,
        account_id=row.account_id,
        outbound_id=row.id,
        kind=str(row.kind),
        **data,
    )
