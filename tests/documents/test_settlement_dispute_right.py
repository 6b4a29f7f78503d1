"""A settlement due before the validation period ends is shown with "This does not affect your
right to dispute the debt by {date}." (SPEC §14), in the chat's summary and confirmation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.core.dates import long_date
from parley.core.settings import Settings
from parley.documents import notices
from parley.documents.overshadowing import dispute_right_sentence
from parley.documents.validation import validation_period_end
from parley.tables import Account, NoticeChannel
from tests.dialogue.test_negotiation import negotiating
from tests.support.accounts import make_account
from tests.support.dialogue import Talk, dialogue_settings

# Noon in San Francisco, the demo debtor's zone.
NOON = datetime(2026, 3, 2, 20, 0, tzinfo=timezone.utc)


def _provide(db: sessionmaker[Session], settings: Settings, when: datetime) -> date:
    with db.begin() as session:
        account = session.scalars(select(Account)).one()
        notice = notices.provide_notice(session, settings, account, NoticeChannel.WEB, when)
        return notice.period_ends


def test_the_settlement_offer_carries_the_dispute_date(
    talk: Callable[..., Talk], db: sessionmaker[Session], settings: Settings
) -> None:
    ends = _provide(db, settings, datetime.now(timezone.utc))
    t = negotiating(talk)
    said = t.say("no way. would u take less?", "ask_settlement", 0.83)
    offer = next(s for s in said if "One-time settlement" in s)
    expected = f"This does not affect your right to dispute the debt by {long_date(ends)}."
    assert expected in offer, offer
    # The sentence comes with the settlement itself, before the question.
    assert offer.index(expected) < offer.index("Shall I set this up?")
    confirmed = t.say("yes", "affirm")
    confirmation = next(s for s in confirmed if "Confirmed" in s)
    assert expected in confirmation, confirmed


def test_no_sentence_once_the_period_is_over(
    talk: Callable[..., Talk], db: sessionmaker[Session], settings: Settings
) -> None:
    _provide(db, settings, datetime.now(timezone.utc) - timedelta(days=90))
    t = negotiating(talk)
    said = t.say("no way. would u take less?", "ask_settlement", 0.83)
    assert any("One-time settlement" in s for s in said), said
    assert not any("right to dispute the debt by" in s for s in said), said


def test_plans_are_not_settlements(talk: Callable[..., Talk]) -> None:
    t = negotiating(talk)
    said = t.say("6 payments", "offer_payment", 0.9)
    assert any("Total:" in s and "6 payments" in s for s in said), said
    assert not any("right to dispute the debt by" in s for s in said), said


def test_the_sentence_rule(session: Session) -> None:
    account = make_account()
    session.add(account)
    session.flush()
    # No notice yet: the earliest the period could end (a notice sent today).
    earliest = validation_period_end(date(2026, 3, 2))
    assert dispute_right_sentence(session, account, date(2026, 3, 16), NOON) == (
        f"This does not affect your right to dispute the debt by {long_date(earliest)}."
    )
    notices.provide_notice(
        session, dialogue_settings("sqlite://"), account, NoticeChannel.EMAIL, NOON
    )
    ends = validation_period_end(date(2026, 3, 2))
    assert dispute_right_sentence(session, account, ends - timedelta(days=1), NOON)
    assert dispute_right_sentence(session, account, ends, NOON) is None
    assert dispute_right_sentence(session, account, ends + timedelta(days=3), NOON) is None
