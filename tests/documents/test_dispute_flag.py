"""A dispute recorded by the end of the validation period is marked `within_validation_period`
(SPEC §14); other reasons carry no mark."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from parley.core.clock import utcnow
from parley.documents import notices
from parley.escalations.queue import open_escalation
from parley.tables import Account, Conversation, EscalationReason, NoticeChannel
from tests.documents.test_notices import SETTINGS
from tests.support.accounts import make_account


def _conversation(session: Session, ref: str, notice_days_ago: int | None) -> Conversation:
    account: Account = make_account(account_ref=ref)
    session.add(account)
    session.flush()
    if notice_days_ago is not None:
        notices.provide_notice(
            session,
            SETTINGS,
            account,
            NoticeChannel.EMAIL,
            utcnow() - timedelta(days=notice_days_ago),
        )
    conversation = Conversation(channel="web", account_id=account.id)
    session.add(conversation)
    session.flush()
    return conversation


def test_a_dispute_inside_the_period(session: Session) -> None:
    conversation = _conversation(session, "FLAG-1", notice_days_ago=2)
    escalation, _ = open_escalation(session, conversation, EscalationReason.DISPUTE, "not_mine")
    assert escalation.within_validation_period is True


def test_a_dispute_after_the_period(session: Session) -> None:
    conversation = _conversation(session, "FLAG-2", notice_days_ago=60)
    escalation, _ = open_escalation(session, conversation, EscalationReason.DISPUTE, "other")
    assert escalation.within_validation_period is False


def test_a_dispute_before_any_notice_is_inside(session: Session) -> None:
    conversation = _conversation(session, "FLAG-3", notice_days_ago=None)
    escalation, _ = open_escalation(session, conversation, EscalationReason.DISPUTE, "fraud")
    assert escalation.within_validation_period is True
    session.expire_all()
    assert escalation.within_validation_period is True  # stored, not just set


def test_other_reasons_are_not_marked(session: Session) -> None:
    conversation = _conversation(session, "FLAG-4", notice_days_ago=2)
    escalation, _ = open_escalation(session, conversation, EscalationReason.HARDSHIP)
    assert escalation.within_validation_period is None


def test_an_unverified_dispute_has_no_account_to_measure(session: Session) -> None:
    conversation = Conversation(channel="web")
    session.add(conversation)
    session.flush()
    escalation, _ = open_escalation(session, conversation, EscalationReason.DISPUTE, "other")
    assert escalation.within_validation_period is None
