"""Handing a conversation to the human queue (SPEC §10).

Reasons and priorities live here so the console, the bot and the API agree on them. Higher
priority is more urgent; the console orders the queue by priority, then age.
"""

from __future__ import annotations

import re
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from parley import optout
from parley.conversations import queue
from parley.models import (
    Account,
    AuditEvent,
    Conversation,
    Escalation,
    NegotiationEvent,
)
from parley.money import format_cents

REASONS: Final = (
    "dispute",
    "bankruptcy",
    "attorney",
    "cease_communication",
    "hardship",
    "human_requested",
    "verification_locked",
    "bot_failure",
    "wrong_number",
)

# Legal-risk reasons first: they pause collection and have response deadlines.
PRIORITY: Final[dict[str, int]] = {
    "bankruptcy": 90,
    "attorney": 90,
    "cease_communication": 80,
    "dispute": 70,
    "hardship": 50,
    "verification_locked": 40,
    "human_requested": 40,
    "bot_failure": 30,
    "wrong_number": 20,
}

# These stop collection on the account at once until a supervisor resolves them.
PAUSING_REASONS: Final = frozenset({"dispute", "bankruptcy", "attorney", "cease_communication"})

# Checked in order: a fraud claim outranks the rest, proof of payment outranks the amount.
_DISPUTE_KINDS: Final = (
    (
        "fraud",
        re.compile(
            r"fraud|identity theft|\bstole|stolen|scam|someone (?:else )?(?:opened|used|took)|"
            r"unauthori[sz]ed|not authori[sz]ed|never authori[sz]ed|did(?:n'?t| not) authori[sz]e|"
            r"wasn'?t me|was not me",
            re.I,
        ),
    ),
    (
        "already_paid",
        re.compile(
            r"already paid|paid (?:it|this|that|off|in full)|paid .{0,20}\b(?:off|in full)|"
            r"settled|(?:was|been|is) paid|proof (?:that )?i paid|receipt",
            re.I,
        ),
    ),
    (
        "wrong_amount",
        re.compile(
            r"wrong amount|amount is (?:wrong|incorrect|not right)|balance is (?:wrong|not right)|"
            r"too (?:much|high)|incorrect|overcharg|more than i owe|less than (?:that|this)|"
            r"\btwice\b|two times|duplicate|\bonly \$?\d",
            re.I,
        ),
    ),
    (
        "not_mine",
        re.compile(
            r"not (?:my|mine)|isn'?t (?:my|mine)|never (?:had|opened|signed)|"
            r"don'?t (?:recogni[sz]e|know)|do not (?:recogni[sz]e|owe)|don'?t owe|owe nothing|"
            r"not me\b|wrong person",
            re.I,
        ),
    ),
)


def dispute_kind(text: str) -> str:
    """The dispute sub-reason from the debtor's words: not_mine, already_paid, wrong_amount, fraud
    or other. A hint for the agent, not a decision."""
    for kind, pattern in _DISPUTE_KINDS:
        if pattern.search(text):
            return kind
    return "other"


def open_escalation(
    session: Session,
    conversation: Conversation,
    reason: str,
    sub_reason: str | None = None,
    summary: str = "",
    priority: int | None = None,
) -> tuple[Escalation, bool]:
    """Open an escalation and queue the conversation; returns (escalation, created).

    A second request for the same reason while one is open or claimed returns the existing one,
    so repeating "agent" never floods the queue.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown escalation reason {reason!r}")
    existing = session.scalars(
        select(Escalation)
        .where(
            Escalation.conversation_id == conversation.id,
            Escalation.reason == reason,
            Escalation.status.in_(("open", "claimed")),
        )
        .order_by(Escalation.id)
    ).first()
    queue(conversation)
    if existing is not None:
        return existing, False
    escalation = Escalation(
        conversation_id=conversation.id,
        account_id=conversation.account_id,
        reason=reason,
        sub_reason=sub_reason,
        summary=summary,
        priority=PRIORITY[reason] if priority is None else priority,
    )
    session.add(escalation)
    session.flush()
    session.add(
        AuditEvent(
            kind="escalation.opened",
            conversation_id=conversation.id,
            account_id=conversation.account_id,
            data={"escalation_id": escalation.id, "reason": reason, "sub_reason": sub_reason},
        )
    )
    return escalation, True


def has_open_escalation(session: Session, conversation: Conversation) -> bool:
    """Whether a human is already due to pick this conversation up."""
    found = session.scalars(
        select(Escalation.id).where(
            Escalation.conversation_id == conversation.id,
            Escalation.status.in_(("open", "claimed")),
        )
    ).first()
    return found is not None


def pause_collection(account: Account, reason: str | None = None) -> bool:
    """Stop collection messages and offers on the account; False if it was already paused.

    The audit row goes into the account's own session, so callers need not pass one.
    """
    if account.collection_paused:
        return False
    account.collection_paused = True
    session = object_session(account)
    if session is not None:
        session.add(
            AuditEvent(kind="collection.paused", account_id=account.id, data={"reason": reason})
        )
    return True


def flag_wrong_number(session: Session, conversation: Conversation) -> list[str]:
    """A wrong-number report (SPEC §10): opt the number out of SMS and flag the phone of every
    account that lists it for review. Returns the flagged account refs. A web chat has no
    number to opt out; the escalation itself is then the review flag."""
    phone = conversation.phone
    if not phone:
        return []
    optout.opt_out(session, phone, "wrong_number", conversation_id=conversation.id)
    accounts = list(session.scalars(select(Account).where(Account.phone == phone)))
    for account in accounts:
        session.add(
            AuditEvent(
                kind="account.phone_flagged",
                conversation_id=conversation.id,
                account_id=account.id,
                data={"reason": "wrong_number"},
            )
        )
    return [account.account_ref for account in accounts]


def negotiation_so_far(session: Session, conversation_id: str, limit: int = 4) -> str:
    """The last few offers and decisions in plain words, for the escalation summary."""
    events = list(
        session.scalars(
            select(NegotiationEvent)
            .where(NegotiationEvent.conversation_id == conversation_id)
            .order_by(NegotiationEvent.id.desc())
            .limit(limit)
        )
    )
    parts = []
    for event in reversed(events):
        terms = ", ".join(
            f"{key.removesuffix('_cents')} {_term(key, value)}"
            for key, value in sorted(event.terms.items())
            if isinstance(value, (int, str)) and not isinstance(value, bool)
        )
        parts.append(f"{event.actor} {event.kind}" + (f" ({terms})" if terms else ""))
    return "; ".join(parts)


def _term(key: str, value: int | str) -> str:
    return format_cents(value) if key.endswith("_cents") and isinstance(value, int) else str(value)
