"""One identity check in a committed unit of work, as the dialogue runs it (parley.verification)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from parley.tables import Channel, Conversation
from parley.verification.check import VerificationResult, check_identity
from tests.support.accounts import SECRET

MAX_ATTEMPTS = 3


def check(
    factory: sessionmaker[Session],
    conversation_id: str,
    facts: tuple[str, str, str],
    now: datetime,
) -> VerificationResult:
    """Check (last name, date of birth, ZIP or SSN last 4) for `conversation_id` (created as a
    web chat when it does not exist yet)."""
    with factory.begin() as session:
        if session.get(Conversation, conversation_id) is None:
            session.add(Conversation(id=conversation_id, channel=Channel.WEB))
            session.flush()
        return check_identity(
            session,
            conversation_id=conversation_id,
            last_name=facts[0],
            dob=facts[1],
            zip_or_ssn4=facts[2],
            secret=SECRET,
            max_attempts=MAX_ATTEMPTS,
            lockout_minutes=30,
            now=now,
        )
