"""SPEC §4, §5, §7 over SMS on the running stack: Twilio webhooks with real signatures, the
trained model, the action server, and the Twilio REST stand-in for outbound messages."""

from __future__ import annotations

import itertools
import re
from html import unescape

import httpx
import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from devstack.stack import Stack
from devstack.twilio_standin import TEST_AUTH_TOKEN
from parley.core.settings import Settings
from parley.outreach import send as outbound
from parley.sms.encoding import segment_count
from parley.tables import Conversation, Escalation, Message, PhoneOptOut
from tests.support.assertions import assert_no_debt_wording
from tests.support.chat import DEMO_BALANCE as BALANCE

pytestmark = pytest.mark.stack

STATEMENT = "Reply STOP to opt out"
GARCIA_PHONE = "+14155550101"  # DEMO-1001: Garcia, 03/14/1985, 94107
_sids = itertools.count(1)


class Texter:
    """A debtor's phone texting the Twilio number; Twilio's side is simulated by signing each
    webhook exactly as Twilio does, for the stack's public URL."""

    def __init__(self, api: httpx.Client, stack: Stack, phone: str) -> None:
        self.api, self.phone = api, phone
        self.url = stack.env["PARLEY_PUBLIC_URL"] + "/sms/twilio"
        self.received: list[str] = []

    def say(self, body: str) -> list[str]:
        params = {
            "MessageSid": f"SMe2e{next(_sids):029x}",
            "AccountSid": "AC" + "0" * 32,
            "From": self.phone,
            "To": "+15005550006",
            "Body": body,
            "NumMedia": "0",
        }
        signature = RequestValidator(TEST_AUTH_TOKEN).compute_signature(self.url, params)
        response = self.api.post(
            "/sms/twilio", data=params, headers={"X-Twilio-Signature": signature}
        )
        assert response.status_code == 200, response.text
        replies = [
            unescape(m) for m in re.findall(r"<Message[^>]*>(.*?)</Message>", response.text, re.S)
        ]
        self.received += replies
        return replies


def test_verification_balance_and_a_numbered_choice_by_sms(api, stack, stack_db) -> None:  # type: ignore[no-untyped-def]
    phone = Texter(api, stack, GARCIA_PHONE)
    greeting = phone.say("hi")
    assert greeting, "a first text is answered"
    assert_no_debt_wording(greeting, "hi")
    assert "verify" in " ".join(greeting).lower()

    replies = phone.say("Garcia")
    replies += phone.say("03/14/1985")
    replies += phone.say("94107")
    joined = " ".join(replies)
    assert "a debt collector" in joined, replies

    replies = phone.say("whats my balance")
    joined = " ".join(replies)
    assert BALANCE in joined, replies
    assert "Reply 1 for Payment options, 2 for Why this amount?" in joined, replies

    # "2" is the second numbered choice: why this amount.
    replies = phone.say("2")
    joined = " ".join(replies)
    for figure in ("$1,200.00", "$84.50", "$35.00", "$100.00", "Northwind Bank"):
        assert figure in joined, (figure, replies)

    # Every SMS carries the opt-out statement exactly once and stays within 3 segments.
    assert phone.received
    for sms in phone.received:
        assert sms.count(STATEMENT) == 1, sms
        assert segment_count(sms) <= 3, sms

    with stack_db() as session:
        conversation = session.scalars(
            select(Conversation).where(Conversation.phone == GARCIA_PHONE)
        ).one()
        assert conversation.channel == "sms"
        assert conversation.verified_at is not None
        assert conversation.account is not None
        assert conversation.account.account_ref == "DEMO-1001"
        inbound = session.scalars(
            select(Message.text)
            .where(Message.conversation_id == conversation.id, Message.direction == "inbound")
            .order_by(Message.id)
        ).all()
    # Identity facts are masked in the transcript before verification (SPEC §4).
    assert inbound == [
        "hi",
        "Garcia",
        "[date removed]",
        "[number removed]",
        "whats my balance",
        "2",
    ]


def test_plain_language_stop_opts_out_and_then_nothing_is_sent(api, stack, stack_db) -> None:  # type: ignore[no-untyped-def]
    twilio = stack.twilio
    assert twilio is not None
    number = "+16175550123"  # no account: nothing shared with other tests is paused or locked
    phone = Texter(api, stack, number)
    first = phone.say("hello")
    assert first and all(sms.count(STATEMENT) == 1 for sms in first)

    replies = phone.say("stop texting me")
    assert len(replies) == 1, replies
    assert "opted out" in replies[0] and "START" in replies[0]
    assert STATEMENT not in replies[0]

    for later in ("hello?", "HELP", "whats my balance", "agent"):
        assert phone.say(later) == [], later

    with stack_db() as session:
        opt_out = session.get(PhoneOptOut, number)
        assert opt_out is not None and opt_out.opted_out and opt_out.source == "request"
        conversation = session.scalars(
            select(Conversation).where(Conversation.phone == number)
        ).one()
        reasons = session.scalars(
            select(Escalation.reason).where(Escalation.conversation_id == conversation.id)
        ).all()
    assert "cease_communication" in reasons

    # An agent reply or a reminder through the outbound path, configured like the stack, is
    # refused before it reaches Twilio.
    settings = Settings(**{k: v for k, v in stack.env.items() if k.isupper()})  # type: ignore[arg-type]
    assert settings.twilio_rest_configured
    before = len(twilio.received)
    with stack_db.begin() as session:
        for kind in ("agent", "reminder"):
            row = outbound.send_sms(
                session, settings, number, "Hi", kind, conversation_id=conversation.id
            )
            assert row.status == "blocked"
    assert len(twilio.received) == before
