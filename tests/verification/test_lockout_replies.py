"""Finding 7: a locked account must not be told apart from an unknown identity (SPEC §4).

Account A is locked by guesses from other conversations. A fresh conversation that then gives
A's correct facts must get exactly what a fresh conversation giving an unknown identity gets:
the same `check_identity` result (status "failed", not "locked"; the same attempts left), the
same sequence of results up to its own lock, and the same reply and slots from the Rasa action
that turns the result into words. Otherwise the reply tells a guesser "these facts are right,
the account is only locked".
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions import texts
from actions.common import reset_runtime
from actions.verification import ValidateVerificationForm
from parley.core.settings import get_settings
from parley.models import Account, Conversation, VerificationLock
from parley.verification.check import VerificationResult, check_identity
from tests.support.accounts import SECRET, make_account
from tests.support.trackers import COMPANY, DOMAIN, load_tracker, slot_events, texts_of

T0 = datetime(2025, 5, 1, 15, 0, tzinfo=timezone.utc)
MAX_ATTEMPTS = 3
RIGHT = ("Garcia", "1985-03-14", "94107")  # account A: DEMO-1001 of tests/support/accounts.py
WRONG_DOB = ("Garcia", "1990-01-01", "94107")
UNKNOWN = ("Nobody", "1979-07-07", "10001")  # matches no account at all


def check(
    factory: sessionmaker[Session],
    conversation_id: str,
    facts: tuple[str, str, str],
    now: datetime,
) -> VerificationResult:
    with factory.begin() as session:
        if session.get(Conversation, conversation_id) is None:
            session.add(Conversation(id=conversation_id, channel="web"))
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


# --- the reply the debtor sees: the validation action of the verification form --------------


@pytest.fixture
def action_db(
    db_url: str, committed_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[sessionmaker[Session]]:
    """Account A in the test's own database, and the actions' settings pointing at it (as
    tests/actions/conftest.py does)."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PARLEY_SECRET_KEY", SECRET)
    monkeypatch.setenv("PARLEY_COMPANY_NAME", COMPANY)
    monkeypatch.delenv("PARLEY_VERIFICATION_FACTORS", raising=False)
    monkeypatch.delenv("PARLEY_VERIFICATION_MAX_ATTEMPTS", raising=False)
    get_settings.cache_clear()
    reset_runtime()
    with committed_factory.begin() as session:
        session.add(make_account())
    yield committed_factory
    reset_runtime()
    get_settings.cache_clear()


def answer_form(conversation_id: str, text: str) -> tuple[dict[str, Any], list[str]]:
    """One debtor message with every fact to the verification form: its slots and replies."""
    slots = {
        "verified": False,
        "verification_locked": False,
        "last_name": None,
        "date_of_birth": None,
        "zip_or_ssn4": None,
        "requested_slot": "last_name",
    }
    tracker = load_tracker(
        "form_answer",
        sender_id=conversation_id,
        slots=slots,
        latest_message={"text": text, "intent": {"name": "inform", "confidence": 0.9}},
    )
    dispatcher = CollectingDispatcher()
    # The action is async; it runs on a loop of its own in a thread, so a loop already running
    # in the test's thread (Playwright's, after the browser tests) does not get in the way.
    with ThreadPoolExecutor(max_workers=1) as pool:
        run = ValidateVerificationForm().run(dispatcher, tracker, DOMAIN)
        events = pool.submit(asyncio.run, run).result()
    return slot_events(list(events)), texts_of(dispatcher.messages)


def test_finding7_the_bot_reply_for_a_locked_account_is_the_reply_for_an_unknown_identity(
    action_db: sessionmaker[Session],
) -> None:
    guesses = [answer_form(f"guesser-{n}", "Garcia 01/01/1990 94107") for n in range(3)]
    assert [said for _slots, said in guesses] == [
        [texts.VERIFY_FAILED],
        [texts.VERIFY_FAILED],
        [texts.VERIFY_FAILED_FINAL],
    ]
    with action_db() as session:
        assert session.scalars(select(VerificationLock)).first() is not None

    locked_slots, locked_said = answer_form("owner", "Garcia 03/14/1985 94107")
    unknown_slots, unknown_said = answer_form("stranger", "Nobody 07/07/1979 10001")
    assert locked_said == unknown_said == [texts.VERIFY_FAILED]
    assert locked_slots == unknown_slots
    assert "verified" not in locked_slots and "verification_locked" not in locked_slots
    assert locked_slots["requested_slot"] == "last_name"
    with action_db() as session:
        owner = session.get(Conversation, "owner")
        assert owner is not None and owner.verified_at is None and owner.locked_until is None
