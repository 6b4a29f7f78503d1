"""SPEC §10 end to end: every escalation reason, triggered by a debtor's words in the web chat on
the running stack, reaches the queue with the right reason; pausing reasons stop collection until
a supervisor resolves them. Each test uses its own account from tests/e2e/accounts.csv."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.console.queue import QueueFilters, QueueRow, queue_page
from parley.dialogue import texts as dialogue_texts
from parley.tables import Account, Conversation, Escalation, Message, NegotiationEvent
from tests.support.assertions import assert_waiting

pytestmark = pytest.mark.stack

# account ref -> (last name, date of birth, ZIP)
ACCOUNTS = {
    "ESC-D1": ("Dalton", "05/01/1961", "30306"),
    "ESC-D2": ("Prescott", "05/02/1962", "30307"),
    "ESC-D3": ("Amberly", "05/03/1963", "30308"),
    "ESC-D4": ("Fairweather", "05/04/1964", "30309"),
    "ESC-D5": ("Otterburn", "05/05/1965", "30310"),
    "ESC-B1": ("Bankhurst", "05/06/1966", "30311"),
    "ESC-A1": ("Lawford", "05/07/1967", "30312"),
    "ESC-C1": ("Quinlan", "05/08/1968", "30313"),
    "ESC-H1": ("Hardwick", "05/09/1969", "30314"),
    "ESC-R1": ("Humbert", "05/10/1960", "30315"),
    "ESC-F1": ("Fenwick", "05/14/1956", "30319"),
}


def verify(chat: Any, ref: str) -> list[str]:
    last_name, dob, zip_code = ACCOUNTS[ref]
    replies: list[str] = chat.say(f"{last_name} {dob} {zip_code}")
    assert any("verified" in r for r in replies), replies
    return replies


def escalations(factory: sessionmaker[Session], conversation_id: str) -> list[tuple[str, Any]]:
    with factory() as session:
        rows = session.execute(
            select(Escalation.reason, Escalation.sub_reason)
            .where(Escalation.conversation_id == conversation_id)
            .order_by(Escalation.id)
        ).all()
    return [(row[0], row[1]) for row in rows]


def account(factory: sessionmaker[Session], ref: str) -> Account:
    with factory() as session:
        found = session.scalars(select(Account).where(Account.account_ref == ref)).one()
        session.expunge(found)
        return found


def in_queue(factory: sessionmaker[Session], conversation_id: str) -> QueueRow:
    """The conversation's row in the console's queue, looked for on every page."""
    items: list[QueueRow] = []
    with factory() as session:
        page = queue_page(session, QueueFilters())
        for number in range(1, page.pages + 1):
            if number > 1:
                page = queue_page(session, QueueFilters(page=number))
            items += [r for r in page.rows if r.conversation_id == conversation_id]
    assert len(items) == 1, "the conversation is in the queue once"
    return items[0]


@pytest.mark.parametrize(
    ("ref", "words", "sub_reason"),
    [
        ("ESC-D1", "this is not my debt", "not_mine"),
        ("ESC-D2", "i already paid this off in full", "already_paid"),
        ("ESC-D3", "the amount is wrong", "wrong_amount"),
        ("ESC-D4", "someone stole my identity and opened this", "fraud"),
        # No kind said: the kind is asked once, and the dispute recorded with the answer.
        ("ESC-D5", "i dispute this", "wrong_amount"),
    ],
)
def test_dispute_with_sub_reason_pauses_collection(
    new_chat: Any, stack_db: sessionmaker[Session], ref: str, words: str, sub_reason: str
) -> None:
    chat = new_chat()
    verify(chat, ref)
    replies = chat.say(words)
    if ref == "ESC-D5":
        assert replies == [dialogue_texts.DISPUTE_WHICH], replies
        assert escalations(stack_db, chat.session_id) == []
        replies = chat.say("the amount is wrong")
    joined = " ".join(replies).lower()
    assert "paused collection" in joined and "follow up" in joined, replies
    assert chat.status == "queued"
    assert escalations(stack_db, chat.session_id) == [("dispute", sub_reason)]
    assert account(stack_db, ref).collection_paused
    item = in_queue(stack_db, chat.session_id)
    assert (item.reason, item.sub_reason, item.account_ref) == ("dispute", sub_reason, ref)
    assert words in item.summary and "verified" in item.summary and "$" in item.summary
    # The bot's understanding of the turn is on the debtor's message for the console.
    with stack_db() as session:
        intent = session.scalars(
            select(Message.intent).where(
                Message.conversation_id == chat.session_id, Message.text == words
            )
        ).one()
    assert intent == "dispute"
    # While queued, the debtor's words go to the console, not to the bot.
    assert_waiting(chat.say("what are my payment options"))
    assert chat.status == "queued"


def test_collection_stays_paused_in_a_new_conversation_until_resolved(
    new_chat: Any, stack_db: sessionmaker[Session]
) -> None:
    ref = "ESC-D1"
    first = new_chat()
    verify(first, ref)
    first.say("this isn't mine")
    assert account(stack_db, ref).collection_paused
    # Same account, new conversation: asking to pay gets no offer of any kind.
    second = new_chat()
    verify(second, ref)
    replies = second.say("what are my payment options")
    joined = " ".join(replies)
    assert replies and "$" not in joined, replies
    assert "specialist" in joined.lower() or "can't" in joined.lower(), replies
    with stack_db() as session:
        offers = session.scalars(
            select(NegotiationEvent.id).where(
                NegotiationEvent.conversation_id == second.session_id,
                NegotiationEvent.actor == "bot",
            )
        ).all()
    assert offers == []


@pytest.mark.parametrize(
    ("ref", "words", "reason", "pauses"),
    [
        ("ESC-B1", "i filed for bankruptcy last month", "bankruptcy", True),
        ("ESC-A1", "talk to my lawyer", "attorney", True),
        ("ESC-C1", "stop contacting me", "cease_communication", True),
        ("ESC-H1", "i lost my job and can't pay anything", "hardship", False),
        ("ESC-R1", "can i talk to a real person", "human_requested", False),
    ],
)
def test_each_reason_reaches_the_queue(
    new_chat: Any, stack_db: sessionmaker[Session], ref: str, words: str, reason: str, pauses: bool
) -> None:
    chat = new_chat()
    verify(chat, ref)
    replies = chat.say(words)
    if reason == "hardship":
        # SPEC §6: the most lenient plan is offered and asked about first; a no to it offers a
        # hardship review, and a yes to that escalates.
        assert not escalations(stack_db, chat.session_id), replies
        assert any("12 payments" in r or "monthly" in r for r in replies), replies
        replies += chat.say("no i cant afford that either")
        assert any("hardship review" in r for r in replies), replies
        replies += chat.say("yes")
    assert replies, "the debtor always gets an acknowledgement"
    assert reason in [r for r, _sub in escalations(stack_db, chat.session_id)]
    assert in_queue(stack_db, chat.session_id).reasons.count(reason) == 1
    assert account(stack_db, ref).collection_paused is pauses
    assert chat.status == "queued"


def test_asking_for_a_human_never_loops(new_chat: Any, stack_db: sessionmaker[Session]) -> None:
    chat = new_chat()
    first = chat.say("agent")
    assert any("team member" in r for r in first), first
    assert chat.status == "queued"
    assert_waiting(chat.say("agent"))
    assert_waiting(chat.say("human please"))
    assert escalations(stack_db, chat.session_id) == [("human_requested", None)]


def test_wrong_number(new_chat: Any, stack_db: sessionmaker[Session]) -> None:
    chat = new_chat()
    replies = chat.say("you have the wrong number")
    assert any("won't contact this number" in r for r in replies), replies
    assert escalations(stack_db, chat.session_id) == [("wrong_number", None)]
    assert in_queue(stack_db, chat.session_id).reason == "wrong_number"


def test_bot_failure_after_two_misunderstood_turns(
    new_chat: Any, stack_db: sessionmaker[Session]
) -> None:
    chat = new_chat()
    verify(chat, "ESC-F1")  # before verification the form reads free text as identity facts
    gibberish = ["qwxz vbnm plkj", "zzkq wpfh xvbt"]
    replies: list[str] = []
    for text in gibberish:
        replies = chat.say(text)
    assert escalations(stack_db, chat.session_id) == [("bot_failure", None)], replies
    assert any("team member" in r for r in replies), replies
    assert in_queue(stack_db, chat.session_id).reason == "bot_failure"


def test_verification_lockout_escalates(new_chat: Any, stack_db: sessionmaker[Session]) -> None:
    chat = new_chat()
    for dob in ("01/01/1950", "02/02/1951", "03/03/1952"):
        chat.say(f"Lockridge {dob} 30316")  # ESC-L1 with the wrong date of birth
    assert escalations(stack_db, chat.session_id) == [("verification_locked", None)]
    item = in_queue(stack_db, chat.session_id)
    assert item.reason == "verification_locked" and item.account_ref is None
    with stack_db() as session:
        conversation = session.get(Conversation, chat.session_id)
        assert conversation is not None and conversation.status == "queued"
