"""SPEC §4, §5, §9 end to end: the REST API on the running stack with the trained model."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from devstack.stack import Stack
from parley.tables import Conversation, Escalation, Message
from tests.support.assertions import assert_no_debt_wording
from tests.support.chat import DEMO_BALANCE, DEMO_DOB, DEMO_LAST_NAME, DEMO_SSN4, DEMO_ZIP

pytestmark = pytest.mark.stack

# Demo debtor DEMO-1001 from config/demo-accounts.csv.
LAST_NAME, DOB, ZIP, SSN4 = DEMO_LAST_NAME, DEMO_DOB, DEMO_ZIP, DEMO_SSN4
BALANCE = DEMO_BALANCE


def verify(chat) -> list[str]:  # type: ignore[no-untyped-def]
    replies = chat.say(LAST_NAME)
    replies += chat.say(DOB)
    replies += chat.say(ZIP)
    return replies


def test_greeting_names_company_and_asks_to_verify(new_chat) -> None:  # type: ignore[no-untyped-def]
    chat = new_chat()
    texts = [m["text"] for m in chat.greeting]
    assert texts, "the session starts with a greeting"
    assert any("Parley Recovery Services" in t for t in texts)
    assert any("verif" in t.lower() for t in texts)
    assert_no_debt_wording(texts, "<greeting>")


def test_verified_debtor_hears_exact_balance_and_itemization(new_chat) -> None:  # type: ignore[no-untyped-def]
    chat = new_chat()
    replies = verify(chat)
    joined = " ".join(replies)
    assert "a debt collector" in joined, "the first debt message carries the disclosure"
    assert "This is an attempt to collect a debt" in joined

    replies = chat.say("how much do i owe")
    assert any(BALANCE in r for r in replies), replies
    # The disclosure is given once per conversation, not on every message.
    assert not any("a debt collector" in r for r in replies)

    replies = chat.say("can you give me a breakdown of the charges")
    joined = " ".join(replies)
    for figure in ("$1,200.00", "$84.50", "$35.00", "$100.00", BALANCE):
        assert figure in joined, (figure, replies)
    assert "Northwind Bank" in joined
    assert "4421" in joined
    assert "dispute" in joined.lower()


def test_all_facts_in_one_message_and_balance_request_first(new_chat) -> None:  # type: ignore[no-untyped-def]
    chat = new_chat()
    first = chat.say("whats my balance")
    assert_no_debt_wording(first, "whats my balance")
    replies = chat.say(f"{LAST_NAME} {DOB} {ZIP}")
    joined = " ".join(replies)
    assert "a debt collector" in joined
    assert BALANCE in joined, "the pending balance question is answered after verification"


def test_ssn_last4_can_replace_zip(new_chat) -> None:  # type: ignore[no-untyped-def]
    chat = new_chat()
    chat.say(LAST_NAME)
    chat.say(DOB)
    replies = chat.say(SSN4)
    replies += chat.say("balance?")
    assert any(BALANCE in r for r in replies), replies


PROBES = [
    "how much do i owe",
    "what is this about",
    "who is the creditor",
    "is this about a debt?",
    "i want to pay this off",
    "can i get a payment plan",
    "who r u",
    "what company is this",
    "why are you contacting me",
    "this isnt my debt",
    "i already paid this",
    "i can do 50 a month",
    "breakdown pls",
    "whats the total",
    "hello?",
    "are you a robot",
    "asdfghjkl",
]


def test_nothing_about_the_debt_before_verification(new_chat) -> None:  # type: ignore[no-untyped-def]
    chat = new_chat()
    for probe in PROBES:
        assert_no_debt_wording(chat.say(probe), probe)
    # Wrong facts, still nothing revealed.
    for text in ("Smith", "01/01/1990", "10001"):
        assert_no_debt_wording(chat.say(text), text)


FACT_WORDS = ("zip", "date of birth", "birth", "last name", "surname", "ssn", "social")


def test_three_failures_lock_and_never_say_which_fact(new_chat, stack_db) -> None:  # type: ignore[no-untyped-def]
    # Test account LOCK-1 (tests/e2e/accounts.csv): Lockwood, 1970-01-01, ZIP 30301.
    chat = new_chat()
    wrong_attempts = [
        ("Lockwood", "01/01/1970", "10001"),  # wrong ZIP
        ("Lockwood", "02/02/1980", "30301"),  # wrong date of birth
        ("Lockhart", "01/01/1970", "30301"),  # wrong last name
    ]
    for n, attempt in enumerate(wrong_attempts, 1):
        replies: list[str] = []
        for fact in attempt:
            replies = chat.say(fact)
        assert_no_debt_wording(replies, str(attempt))
        if n < len(wrong_attempts):
            assert "couldn't verify" in replies[0], replies
        else:
            assert "can't continue verification" in replies[0], replies
        for reply in replies:
            if "verify" in reply.lower():
                assert not any(word in reply.lower() for word in FACT_WORDS), reply
    assert any("team member" in r for r in replies), "the third failure says a person follows up"
    # Locked: even the right facts do not verify now.
    replies = []
    for text in ("Lockwood", "01/01/1970", "30301", "what's my balance"):
        replies += chat.say(text)
    assert not any("$500.00" in r for r in replies), replies
    assert_no_debt_wording(replies, "after lockout")
    with stack_db() as session:
        reasons = session.scalars(
            select(Escalation.reason).where(Escalation.conversation_id == chat.session_id)
        ).all()
    assert reasons == ["verification_locked"]
    # The account is locked too: a fresh conversation with the right facts is refused.
    other = new_chat()
    replies = []
    for text in ("Lockwood", "01/01/1970", "30301", "balance"):
        replies += other.say(text)
    assert not any("$500.00" in r for r in replies), replies


def test_failure_message_is_identical_whichever_fact_is_wrong(new_chat) -> None:  # type: ignore[no-untyped-def]
    # One failure each against three different test accounts, so no lockout interferes.
    outcomes = []
    for attempt in (
        ("Ashby", "02/02/1971", "99999"),  # LOCK-2, wrong ZIP
        ("Brandt", "12/12/1999", "30303"),  # LOCK-3, wrong date of birth
        ("Castilla", "04/04/1973", "30305"),  # LOCK-4, wrong last name
    ):
        chat = new_chat()
        replies: list[str] = []
        for fact in attempt:
            replies = chat.say(fact)
        outcomes.append(tuple(replies))
    assert outcomes[0] == outcomes[1] == outcomes[2], outcomes
    assert "couldn't verify" in outcomes[0][0]


CARD = "4111 1111 1111 1111"


def test_card_number_never_stored_or_sent_to_nlu(new_chat, stack: Stack, stack_db) -> None:  # type: ignore[no-untyped-def]
    chat = new_chat()
    verify(chat)
    replies = chat.say(f"just charge my card {CARD} exp 12/29")
    joined = " ".join(replies).lower()
    assert "card" in joined and "link" in joined, replies
    with stack_db() as session:
        texts = session.scalars(
            select(Message.text).where(Message.conversation_id == chat.session_id)
        ).all()
    assert any("[card number removed]" in t for t in texts)
    digits = CARD.replace(" ", "")
    for path in Path(stack.workdir).iterdir():
        if path.is_file():
            content = path.read_bytes()
            assert digits.encode() not in content, f"card number found in {path.name}"
            assert CARD.encode() not in content, f"card number found in {path.name}"


def test_bad_input_gets_a_clear_error(api, new_chat) -> None:  # type: ignore[no-untyped-def]
    chat = new_chat()
    for body in ({}, {"text": ""}, {"text": "   "}, {"text": "x" * 2001}, {"txt": "hi"}):
        response = api.post(f"/api/chat/sessions/{chat.session_id}/messages", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
    response = api.post("/api/chat/sessions/doesnotexist/messages", json={"text": "hi"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "conversation_not_found"
    # The transcript holds the greeting and nothing from the rejected requests.
    transcript = api.get(f"/api/chat/sessions/{chat.session_id}/messages").json()
    assert [m["text"] for m in transcript["messages"]] == [m["text"] for m in chat.greeting]


def test_transcript_lists_the_conversation_in_order(api, new_chat) -> None:  # type: ignore[no-untyped-def]
    chat = new_chat()
    replies = chat.say(LAST_NAME)
    transcript = api.get(f"/api/chat/sessions/{chat.session_id}/messages").json()
    texts = [m["text"] for m in transcript["messages"]]
    assert texts == [m["text"] for m in chat.greeting] + [LAST_NAME] + replies
    assert transcript["status"] == "bot"


def test_origin_not_on_allowlist_is_refused(api) -> None:  # type: ignore[no-untyped-def]
    response = api.post("/api/chat/sessions", json={}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    response = api.post("/api/chat/sessions", json={}, headers={"Origin": "http://127.0.0.1:8000"})
    assert response.status_code == 201


def test_healthz_reports_every_component(api) -> None:  # type: ignore[no-untyped-def]
    body = api.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["components"] == {"api": "ok", "database": "ok", "rasa": "ok", "actions": "ok"}


def test_identity_facts_are_stored_nowhere_in_plain_text(new_chat, stack: Stack, stack_db) -> None:  # type: ignore[no-untyped-def]
    """Finding 15: the date of birth and ZIP a debtor types reach neither Rasa's tracker store
    (text, entities, slot values), nor the dialogue's state between turns (sealed there), nor
    the transcript; the bot still verified with them."""
    chat = new_chat()
    replies = chat.say(LAST_NAME)
    replies += chat.say(f"my date of birth is {DOB}")
    month, day, year = DOB.split("/")
    with stack_db() as session:
        held = session.get(Conversation, chat.session_id)
        assert held is not None and held.dialogue is not None
        facts = held.dialogue.get("facts") or {}
        assert facts.get("date_of_birth"), held.dialogue  # held between turns...
        state_json = json.dumps(held.dialogue)
        assert not [p for p in (DOB, f"{year}-{month}-{day}", year) if p in state_json]  # ...sealed
    replies += chat.say(f"zip {ZIP}")
    replies += chat.say("what do I owe?")
    assert any(DEMO_BALANCE in text for text in replies), replies
    trackers = sorted(stack.workdir.glob("tracker-*.db"))
    assert trackers
    written: list[str] = []  # every text, entity value and slot value Rasa wrote
    for path in trackers:
        with sqlite3.connect(path) as db:
            rows = db.execute(
                "SELECT data FROM events WHERE sender_id = ?", (chat.session_id,)
            ).fetchall()
        for (data,) in rows:
            event = json.loads(data)
            written += [str(event.get("text")), str(event.get("value"))]
            parse = event.get("parse_data") or {}
            written += [str(parse.get("text"))]
            written += [str(e.get("value")) for e in parse.get("entities") or []]
    assert any("my date of birth is" in w for w in written), "the events were written"
    for plain in (DOB, f"{year}-{month}-{day}", year, ZIP):
        assert not [w for w in written if plain in w], f"{plain} is in the tracker store"
    with stack_db() as session:
        done = session.get(Conversation, chat.session_id)
        assert done is not None and done.verified_at is not None
        assert ZIP not in json.dumps(done.dialogue) and year not in json.dumps(done.dialogue)
    with stack_db() as session:
        transcript = " ".join(
            session.scalars(select(Message.text).where(Message.conversation_id == chat.session_id))
        )
    assert "my date of birth is [date removed]" in transcript
    assert DOB not in transcript and ZIP not in transcript
