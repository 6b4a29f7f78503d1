"""Balance, itemization, payment options, escalations, fallback and session start."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from actions import texts
from actions.balance import ActionTellBalance, ActionTellDebtDetails
from actions.escalation import ActionEscalate
from actions.fallback import ActionClarify
from actions.negotiation import ActionPaymentOptions
from actions.session import ActionSessionStart
from parley.models import Account, AuditEvent, Conversation, Escalation, utcnow
from tests.support.assertions import assert_no_debt_wording
from tests.support.trackers import COMPANY, load_tracker, run_action, slot_events, texts_of

DISCLOSURE = (
    f"This is {COMPANY}, a debt collector. This is an attempt to collect a debt and any "
    "information obtained will be used for that purpose."
)


def verified_conversation(factory: sessionmaker[Session], conversation_id: str) -> None:
    with factory.begin() as session:
        account = session.scalars(select(Account)).first()
        assert account is not None
        session.add(
            Conversation(
                id=conversation_id, channel="web", account_id=account.id, verified_at=utcnow()
            )
        )


def intent_tracker(conversation_id: str, intent: str, text: str = "text"):  # type: ignore[no-untyped-def]
    return load_tracker(
        "intent",
        sender_id=conversation_id,
        latest_message={"text": text, "intent": {"name": intent, "confidence": 0.95}},
    )


def test_balance_exact_cents_and_disclosure_once(db: sessionmaker[Session]) -> None:
    verified_conversation(db, "v1")
    _events, messages = run_action(ActionTellBalance(), intent_tracker("v1", "ask_balance"))
    assert texts_of(messages) == [
        DISCLOSURE,
        "Your balance is $1,219.50 for your Northwind Bank account ending 4421.",
    ]
    payloads = [b["payload"] for b in messages[-1]["buttons"]]
    assert payloads == ["/ask_debt_details", "/ask_payment_options", "/request_human"]
    _events, messages = run_action(ActionTellBalance(), intent_tracker("v1", "ask_balance"))
    assert texts_of(messages) == [
        "Your balance is $1,219.50 for your Northwind Bank account ending 4421."
    ]
    with db() as session:
        count = session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.kind == "disclosure.debt_collector")
        )
    assert count == 1


def test_itemization_and_right_to_dispute(db: sessionmaker[Session]) -> None:
    verified_conversation(db, "v2")
    _events, messages = run_action(
        ActionTellDebtDetails(), intent_tracker("v2", "ask_debt_details")
    )
    said = texts_of(messages)
    assert said[0] == DISCLOSURE
    joined = "\n".join(said)
    for piece in (
        "Creditor: Northwind Bank",
        "ending 4421",
        "Credit card balance.",
        "Since January 15, 2024:",
        "Principal: $1,200.00",
        "Interest: $84.50",
        "Fees: $35.00",
        "Payments and credits: -$100.00",
        "Total: $1,219.50",
        "If you think this is wrong you can dispute it — just tell me, e.g. 'I dispute this'.",
    ):
        assert piece in joined, piece


def test_debt_actions_before_verification_start_verification_silently(
    db: sessionmaker[Session],
) -> None:
    for action in (ActionTellBalance(), ActionTellDebtDetails(), ActionPaymentOptions()):
        events, messages = run_action(action, intent_tracker("unverified", "ask_balance"))
        assert texts_of(messages) == [texts.NEED_VERIFICATION]
        assert {"event": "followup", "name": "verification_form", "timestamp": None} in events
        assert_no_debt_wording(texts_of(messages))


ESCALATIONS = [
    ("request_human", "human_requested", False),
    ("dispute", "dispute", True),
    ("bankruptcy", "bankruptcy", True),
    ("attorney", "attorney", True),
    ("stop_contact", "cease_communication", True),
    ("hardship", "hardship", False),
    ("wrong_number", "wrong_number", False),
]


@pytest.mark.parametrize(("intent", "reason", "pauses"), ESCALATIONS)
def test_escalate_after_verification(
    db: sessionmaker[Session], intent: str, reason: str, pauses: bool
) -> None:
    verified_conversation(db, "v4")
    _events, messages = run_action(ActionEscalate(), intent_tracker("v4", intent, "i need help"))
    assert texts_of(messages) == [texts.ESCALATION_ACK[reason][1]]
    with db() as session:
        conversation = session.get(Conversation, "v4")
        assert conversation is not None and conversation.status == "queued"
        escalation = session.scalars(select(Escalation)).one()
        assert escalation.reason == reason
        assert escalation.account_id == conversation.account_id
        assert "Identity verified" in escalation.summary and "$1,219.50" in escalation.summary
        assert '"i need help"' in escalation.summary
        account = session.scalars(select(Account)).one()
        assert account.collection_paused is pauses


@pytest.mark.parametrize(("intent", "reason", "pauses"), ESCALATIONS)
def test_escalate_before_verification_reveals_nothing(
    db: sessionmaker[Session], intent: str, reason: str, pauses: bool
) -> None:
    _events, messages = run_action(ActionEscalate(), intent_tracker("u1", intent))
    said = texts_of(messages)
    assert said == [texts.ESCALATION_ACK[reason][0]]
    assert_no_debt_wording(said)
    with db() as session:
        conversation = session.get(Conversation, "u1")
        assert conversation is not None and conversation.status == "queued"
        escalation = session.scalars(select(Escalation)).one()
        assert escalation.reason == reason and escalation.account_id is None
        assert "Identity not verified" in escalation.summary
        assert session.scalars(select(Account)).one().collection_paused is False


def test_wrong_number_acknowledgement(db: sessionmaker[Session]) -> None:
    _events, messages = run_action(ActionEscalate(), intent_tracker("u2", "wrong_number"))
    assert texts_of(messages) == [
        "Thanks for letting us know. We'll update our records and won't contact this number "
        "again about this."
    ]


def test_repeated_request_for_a_human_does_not_loop(db: sessionmaker[Session]) -> None:
    run_action(ActionEscalate(), intent_tracker("u3", "request_human", "agent"))
    for _ in range(2):
        _events, messages = run_action(ActionEscalate(), intent_tracker("u3", "request_human"))
        assert texts_of(messages) == ["You're in the queue; a team member will reply here."]
    with db() as session:
        assert session.scalar(select(func.count(Escalation.id))) == 1


def test_dispute_sub_reason(db: sessionmaker[Session]) -> None:
    verified_conversation(db, "v5")
    run_action(ActionEscalate(), intent_tracker("v5", "dispute", "I already paid this last year"))
    with db() as session:
        assert session.scalars(select(Escalation.sub_reason)).one() == "already_paid"


def test_first_fallback_asks_to_rephrase(db: sessionmaker[Session]) -> None:
    _events, messages = run_action(ActionClarify(), load_tracker("clarify_after_success"))
    assert texts_of(messages) == ["Sorry, I didn't quite get that. Could you rephrase?"]
    with db() as session:
        assert session.scalar(select(func.count(Escalation.id))) == 0


def test_second_consecutive_fallback_escalates_bot_failure(db: sessionmaker[Session]) -> None:
    _events, messages = run_action(ActionClarify(), load_tracker("clarify_twice"))
    said = texts_of(messages)
    assert said == [texts.ESCALATION_ACK["bot_failure"][0]]
    assert_no_debt_wording(said)
    with db() as session:
        assert session.scalars(select(Escalation.reason)).one() == "bot_failure"
        conversation = session.get(Conversation, "conv-clarify")
        assert conversation is not None and conversation.status == "queued"


def test_session_start_seeds_slots_from_the_conversation(db: sessionmaker[Session]) -> None:
    events, messages = run_action(ActionSessionStart(), load_tracker("session_start"))
    assert messages == []
    assert events[0]["event"] == "session_started"
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")
    assert slot_events(events) == {
        "company_name": COMPANY,
        "verified": False,
        "account_id": None,
        "verification_locked": False,
    }
    with db() as session:
        assert session.get(Conversation, "conv-session") is not None  # created as web chat

    verified_conversation(db, "portal")
    events, _ = run_action(ActionSessionStart(), load_tracker("session_start", sender_id="portal"))
    assert slot_events(events)["verified"] is True
    assert slot_events(events)["account_id"]


def test_every_pre_verification_text_is_free_of_debt_wording() -> None:
    assert_no_debt_wording(list(texts.PRE_VERIFICATION))
