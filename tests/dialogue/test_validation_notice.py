"""SPEC §14: a debtor who first reaches Parley by chat gets the validation notice right after the
disclosure (once, recorded, the period running from then), unless one was already sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.balance.disclosures import disclosure_text
from parley.documents.links import read_token
from parley.tables import Account, ValidationNotice
from tests.support.dialogue import Talk, verify


def _notices(db: sessionmaker[Session]) -> list[ValidationNotice]:
    with db() as session:
        return list(session.scalars(select(ValidationNotice)))


def test_the_notice_follows_the_disclosure_once_and_is_recorded(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    chat = talk()
    out = verify(chat)
    out += chat.say("what do I owe", intent="ask_balance")
    disclosure = out.index(disclosure_text("Parley Recovery Services"))
    offer = out[disclosure + 1]
    assert "validation notice" in offer
    url = offer.rsplit(" ", 1)[-1]
    assert "/documents/notice/" in url
    [notice] = _notices(db)
    assert read_token(chat.settings, "notice", url.rsplit("/", 1)[-1]) == notice.account_id
    assert notice.channel == "web"
    # The period end it states is the recorded one.
    assert f"{notice.period_ends:%B} {notice.period_ends.day}, {notice.period_ends.year}" in offer
    # Later turns, and a second conversation of the same account, do not offer it again.
    again = chat.say("what do I owe", intent="ask_balance")
    other = talk("c-other")
    second = verify(other) + other.say("what do I owe", intent="ask_balance")
    assert not any("validation notice" in text for text in again + second)
    assert len(_notices(db)) == 1


def test_no_notice_when_the_file_says_one_was_sent(
    talk: Callable[..., Talk], db: sessionmaker[Session]
) -> None:
    with db.begin() as session:
        account = session.scalars(select(Account)).one()
        account.validation_notice_sent = date(2025, 1, 2)
    chat = talk()
    out = verify(chat) + chat.say("what do I owe", intent="ask_balance")
    assert disclosure_text("Parley Recovery Services") in out
    assert not any("validation notice" in text for text in out)
    assert _notices(db) == []
