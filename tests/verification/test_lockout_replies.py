"""Finding 7: a locked account must not be told apart from an unknown identity (SPEC §4).

Account A is locked by guesses from other conversations. A fresh conversation that then gives
A's correct facts must get exactly what a fresh conversation giving an unknown identity gets:
the same `check_identity` result (status "failed", not "locked"; the same attempts left), the
same sequence of results up to its own lock, and the same reply and next question from the
conversation manager that turns the result into words. Otherwise the reply tells a guesser "these facts are right,
the account is only locked".
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.dialogue import texts
from parley.tables import Account, Conversation, VerificationLock
from parley.verification.check import VerificationResult
from tests.support.accounts import make_account
from tests.support.dialogue import Talk, dialogue_settings
from tests.support.identity import MAX_ATTEMPTS, check

T0 = datetime(2025, 5, 1, 15, 0, tzinfo=timezone.utc)
RIGHT = ("Garcia", "1985-03-14", "94107")  # account A: DEMO-1001 of tests/support/accounts.py
WRONG_DOB = ("Garcia", "1990-01-01", "94107")
UNKNOWN = ("Nobody", "1979-07-07", "10001")  # matches no account at all


def lock_account_from_other_conversations(factory: sessionmaker[Session]) -> int:
    """One wrong date of birth for A from each of three conversations: A is locked."""
    results = [
        check(factory, f"guesser-{n}", WRONG_DOB, T0 + timedelta(minutes=n)) for n in range(3)
    ]
    assert [r.status for r in results] == ["failed", "failed", "locked"]
    with factory() as session:
        account = session.scalars(select(Account)).one()
        lock = session.get(VerificationLock, account.id)
        assert lock is not None and lock.locked_until > T0 + timedelta(minutes=10)
        return account.id


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with session_factory.begin() as session:
        session.add(make_account())
    return session_factory


def test_finding7_first_try_at_a_locked_account_reads_exactly_like_an_unknown_identity(
    db: sessionmaker[Session],
) -> None:
    lock_account_from_other_conversations(db)
    later = T0 + timedelta(minutes=5)
    right_but_locked = check(db, "owner", RIGHT, later)
    unknown = check(db, "stranger", UNKNOWN, later)
    assert right_but_locked.status == "failed", "a locked account must not answer 'locked'"
    assert right_but_locked == unknown == VerificationResult("failed", None, MAX_ATTEMPTS - 1)
    with db() as session:
        owner = session.get(Conversation, "owner")
        assert owner is not None
        assert owner.verified_at is None and owner.account_id is None
        assert owner.locked_until is None


def test_finding7_every_try_until_the_conversation_locks_reads_the_same(
    db: sessionmaker[Session],
) -> None:
    lock_account_from_other_conversations(db)
    start = T0 + timedelta(minutes=5)
    locked_account: list[VerificationResult] = []
    unknown: list[VerificationResult] = []
    for n in range(MAX_ATTEMPTS + 1):
        at = start + timedelta(minutes=n)
        locked_account.append(check(db, "owner", RIGHT, at))
        unknown.append(check(db, "stranger", UNKNOWN, at))
    assert locked_account == unknown
    assert [(r.status, r.attempts_left) for r in unknown] == [
        ("failed", 2),
        ("failed", 1),
        ("locked", 0),
        ("locked", 0),
    ]


# --- the reply the debtor sees: the conversation manager ----------------------------------


def test_finding7_the_bot_reply_for_a_locked_account_is_the_reply_for_an_unknown_identity(
    db: sessionmaker[Session], db_url: str
) -> None:
    settings = dialogue_settings(db_url)

    def answer(conversation_id: str, facts: str) -> list[str]:
        talk = Talk(db, settings, conversation_id)
        talk.say("/greet")
        return talk.say(facts)

    guesses = [answer(f"guesser-{n}", "Garcia 01/01/1990 94107") for n in range(3)]
    assert [said[0] for said in guesses] == [
        texts.VERIFY_FAILED,
        texts.VERIFY_FAILED,
        texts.VERIFY_LOCKED,
    ]
    with db() as session:
        assert session.scalars(select(VerificationLock)).first() is not None

    locked_said = answer("owner", "Garcia 03/14/1985 94107")
    unknown_said = answer("stranger", "Nobody 07/07/1979 10001")
    assert locked_said == unknown_said
    assert locked_said[0] == texts.VERIFY_FAILED
    with db() as session:
        owner = session.get(Conversation, "owner")
        stranger = session.get(Conversation, "stranger")
        assert owner is not None and stranger is not None
        assert owner.verified_at is None and owner.locked_until is None
        assert owner.dialogue == stranger.dialogue  # the same question asked next, nothing held
