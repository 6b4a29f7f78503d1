"""parley.verification.check_identity on a real database: matching and lockouts (SPEC §4)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.tables import Account, AuditEvent, Conversation, VerificationLock
from parley.verification.check import VerificationResult
from tests.support.accounts import make_account
from tests.support.dialogue import conversation
from tests.support.identity import check as check_facts

T0 = datetime(2025, 5, 1, 15, 0, tzinfo=timezone.utc)


def check(
    factory: sessionmaker[Session],
    conversation_id: str,
    facts: tuple[str, str, str],
    now: datetime = T0,
) -> VerificationResult:
    return check_facts(factory, conversation_id, facts, now)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """The demo debtor, in the test's rolled-back transaction."""
    with session_factory.begin() as session:
        session.add(make_account())
    return session_factory


RIGHT = ("Garcia", "1985-03-14", "94107")
WRONG_DOB = ("Garcia", "1990-01-01", "94107")


def test_right_facts_verify_with_zip_or_ssn4_and_full_name(db: sessionmaker[Session]) -> None:
    assert check(db, "a", RIGHT).status == "verified"
    assert check(db, "b", ("Maria Garcia", "1985-03-14", "1234")).status == "verified"
    assert check(db, "c", ("garcía", "1985-03-14", "94107")).status == "verified"


@pytest.mark.parametrize("said", ["Garcia Jr.", "garcia III", "garcia po", "Maria Garcia Sr"])
def test_a_suffix_after_the_surname_still_matches(db: sessionmaker[Session], said: str) -> None:
    assert check(db, "s", (said, "1985-03-14", "94107")).status == "verified"


def test_a_suffix_alone_is_no_surname(db: sessionmaker[Session]) -> None:
    assert check(db, "j", ("Jr", "1985-03-14", "94107")).status == "failed"


def test_lockout_after_three_failures_then_expiry(db: sessionmaker[Session]) -> None:
    first = check(db, "x", WRONG_DOB, T0)
    assert (first.status, first.attempts_left) == ("failed", 2)
    assert (
        check(db, "x", ("Smith", "1985-03-14", "94107"), T0 + timedelta(minutes=1)).status
        == "failed"
    )
    assert check(db, "x", WRONG_DOB, T0 + timedelta(minutes=2)).status == "locked"
    assert check(db, "x", RIGHT, T0 + timedelta(minutes=10)).status == "locked"
    assert check(db, "x", RIGHT, T0 + timedelta(minutes=31)).status == "locked"  # 30 min after lock
    result = check(db, "x", RIGHT, T0 + timedelta(minutes=33))
    assert result.status == "verified"
    with db() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        kinds = [event.kind for event in events]
        assert "verification.locked" in kinds and "verification.failed" in kinds
        for event in events:  # ids only, never a fact
            flat = repr(event.data).lower()
            assert "garcia" not in flat and "1985" not in flat and "94107" not in flat


def test_account_lockout_spans_conversations(db: sessionmaker[Session]) -> None:
    assert check(db, "one", WRONG_DOB, T0).status == "failed"
    assert check(db, "one", WRONG_DOB, T0 + timedelta(minutes=1)).status == "failed"
    # A third guess against the same account from a new conversation reaches the limit.
    assert check(db, "two", WRONG_DOB, T0 + timedelta(minutes=2)).status == "locked"
    # The first conversation is refused too, even with the right facts.
    assert check(db, "one", RIGHT, T0 + timedelta(minutes=3)).status == "locked"
    # And a third, fresh conversation: refused, with the reply of an ordinary wrong fact.
    fresh = check(db, "three", RIGHT, T0 + timedelta(minutes=4))
    assert (fresh.status, fresh.account_id, fresh.attempts_left) == ("failed", None, 2)
    assert check(db, "four", RIGHT, T0 + timedelta(minutes=40)).status == "verified"


def test_unknown_names_lock_only_the_conversation(db: sessionmaker[Session]) -> None:
    for minute in range(3):
        check(db, "s", ("Nobody", "1990-01-01", "10001"), T0 + timedelta(minutes=minute))
    assert check(db, "s", RIGHT, T0 + timedelta(minutes=5)).status == "locked"
    assert check(db, "t", RIGHT, T0 + timedelta(minutes=5)).status == "verified"


def test_sms_phone_narrows_candidates_but_never_verifies_alone(db: sessionmaker[Session]) -> None:
    with db.begin() as session:
        session.add(make_account(account_ref="DEMO-2", dob="1985-03-14", phone="+14155550199"))
    conversation(db, "sms-1", channel="sms", phone="+14155550199")
    result = check(db, "sms-1", RIGHT)
    assert result.status == "verified"
    with db() as session:
        conv = session.get(Conversation, "sms-1")
        assert conv is not None and conv.account is not None
        assert conv.account.account_ref == "DEMO-2"
    conversation(db, "sms-2", channel="sms", phone="+14155550199")
    assert check(db, "sms-2", ("Garcia", "1985-03-14", "00000")).status == "failed"


def test_lockouts_on_each_backend(db: sessionmaker[Session]) -> None:
    """The same rules on the migrated schema, on SQLite and on PostgreSQL (shared fixture)."""
    factory = db
    assert check(factory, "p1", WRONG_DOB, T0).status == "failed"
    assert check(factory, "p1", WRONG_DOB, T0 + timedelta(minutes=1)).status == "failed"
    assert check(factory, "p2", WRONG_DOB, T0 + timedelta(minutes=2)).status == "locked"
    assert check(factory, "p1", RIGHT, T0 + timedelta(minutes=3)).status == "locked"
    assert check(factory, "p1", RIGHT, T0 + timedelta(minutes=33)).status == "verified"
    assert check(factory, "p3", ("Nobody", "1990-01-01", "10001"), T0).status == "failed"


def test_guessing_at_accounts_that_share_a_surname_locks_them_across_conversations(
    session_factory: sessionmaker[Session],
) -> None:
    """Two accounts share the surname and the ZIP: wrong dates of birth from many conversations
    count against both, so the next conversation with the right date is refused too."""
    with session_factory.begin() as session:
        session.add(make_account(account_ref="TWIN-1", last_name="Smith", dob="1980-01-01"))
        session.add(make_account(account_ref="TWIN-2", last_name="Smith", dob="1990-02-02"))
    minute = timedelta(minutes=1)
    statuses = [  # one wrong guess each from three conversations: the third locks them
        check(session_factory, f"guess-{n}", ("Smith", f"1970-0{n + 1}-01", "94107")).status
        for n in range(3)
    ]
    assert statuses == ["failed", "failed", "locked"]
    refused = check(session_factory, "right", ("Smith", "1980-01-01", "94107"), T0 + minute)
    assert (refused.status, refused.account_id) == ("failed", None)
    with session_factory() as session:
        locked = {lock.account_id for lock in session.scalars(select(VerificationLock))}
        refs = {session.get(Account, account_id).account_ref for account_id in locked}  # type: ignore[union-attr]
    assert refs == {"TWIN-1", "TWIN-2"}
    # After the lockout the right facts verify again.
    later = check(session_factory, "later", ("Smith", "1980-01-01", "94107"), T0 + 31 * minute)
    assert later.status == "verified"


def test_a_locked_account_answers_exactly_like_a_wrong_fact(db: sessionmaker[Session]) -> None:
    for minute in range(3):
        check(db, "lock", WRONG_DOB, T0 + timedelta(minutes=minute))
    right_but_locked = check(db, "new-1", RIGHT, T0 + timedelta(minutes=5))
    unknown_person = check(
        db, "new-2", ("Nobody", "1985-03-14", "94107"), T0 + timedelta(minutes=5)
    )
    assert (right_but_locked.status, right_but_locked.attempts_left) == ("failed", 2)
    assert (unknown_person.status, unknown_person.attempts_left) == ("failed", 2)


def test_a_surname_alone_aims_at_no_account(db: sessionmaker[Session]) -> None:
    """Wrong date of birth and wrong ZIP: no account is targeted, only the conversation counts,
    so nobody can lock every Garcia by guessing nothing but the name."""
    for minute in range(3):
        check(db, "name-only", ("Garcia", "1970-01-01", "11111"), T0 + timedelta(minutes=minute))
    assert check(db, "owner", RIGHT, T0 + timedelta(minutes=4)).status == "verified"
