"""Handing a conversation to the human queue (SPEC §10).

Reasons and priorities live here so the console, the bot and the API agree on them. Higher
priority is more urgent; the console orders the queue by priority, then age.
"""

from __future__ import annotations

import re
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from parley.conversations import queue
from parley.models import Account, AuditEvent, Conversation, Escalation

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

_DISPUTE_KINDS: Final = (
    ("fraud", re.compile(r"fraud|identity theft|stolen|scam|someone (?:else )?opened", re.I)),
    (
        "not_mine",
        re.compile(
            r"not (?:my|mine)|isn'?t (?:my|mine)|never (?:had|opened)|"
            r"don'?t (?:recogni[sz]e|know)",
            re.I,
        ),
    ),
    ("already_paid", re.compile(r"already paid|paid (?:it|this|that)|paid off|settled", re.I)),
    (
        "wrong_amount",
        re.compile(
            r"wrong amount|amount is wrong|too (?:much|high)|"
            r"incorrect|overcharg",
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
