"""Twilio delivery-status callbacks (SPEC §7): the stored message learns what happened to it;
a carrier-level STOP we never saw (error 21610) opts the number out everywhere."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.sms import optout
from parley.sms.twilio import UNSUBSCRIBED_RECIPIENT
from parley.tables import Direction, Message, OptOutSource, OutboundMessage

# Twilio's statuses in the order a message moves through them; a late callback never moves a
# message back (callbacks may arrive out of order).
_STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "read": 5,
    "canceled": 4,
}


def _advance(current: str | None, new: str) -> bool:
    return _STATUS_RANK.get(new, 0) >= _STATUS_RANK.get(current or "", -1)


def apply_status(
    session: Session,
    *,
    message_sid: str,
    status: str,
    error_code: str | None = None,
    message_ids: Sequence[int] = (),
) -> int:
    """Record a delivery status on the outbound messages it concerns; returns how many changed."""
    status = status.strip().lower()[:32]
    changed = 0
    rows: list[Message] = list(
        session.scalars(select(Message).where(Message.external_id == message_sid))
    )
    if message_ids:
        rows.extend(
            session.scalars(
                select(Message).where(
                    Message.id.in_(list(message_ids)), Message.direction == Direction.OUTBOUND
                )
            )
        )
    for message in {row.id: row for row in rows}.values():
        if message.external_id is None:
            message.external_id = message_sid[:64]
        if message.external_id == message_sid[:64] and _advance(
            message.delivery_status if message.delivery_status != "replied" else None, status
        ):
            message.delivery_status = status
            changed += 1
    outbound = session.scalars(
        select(OutboundMessage).where(OutboundMessage.provider_id == message_sid)
    ).all()
    for row in outbound:
        if _advance(row.delivery_status, status):
            row.delivery_status = status
            changed += 1
        if error_code == UNSUBSCRIBED_RECIPIENT:
            optout.opt_out(session, row.to, OptOutSource.CARRIER, f"twilio {error_code}")
    return changed
