"""The debt-collector disclosure (SPEC §5): its words, and the record that it was given.

Given once per conversation, in the first message about the debt after verification; the audit
row keeps the exact wording shown, since the company name is configurable.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from parley.core.clock import utcnow
from parley.records.audit import Kind, record
from parley.tables import Conversation


def disclosure_text(company: str) -> str:
    """The debt-collector disclosure required in the first message about the debt."""
    return (
        f"This is {company}, a debt collector. This is an attempt to collect a debt and any "
        "information obtained will be used for that purpose."
    )


def record_disclosure(session: Session, conversation: Conversation, company: str) -> bool:
    """Record that the disclosure was given; False (and nothing written) if it already was."""
    if conversation.disclosed_at is not None:
        return False
    now = utcnow()
    conversation.disclosed_at = now
    record(
        session,
        Kind.DISCLOSURE,
        conversation_id=conversation.id,
        account_id=conversation.account_id,
        at=now,
        text=disclosure_text(company),
    )
    return True
