"""Readable labels (parley.console.labels): no codes, payloads or dicts in front of a person."""

from __future__ import annotations

from types import SimpleNamespace

from parley.console import labels
from parley.console.work import OUTCOMES
from parley.tables import EscalationReason


def test_every_reason_and_outcome_has_words() -> None:
    for reason in EscalationReason:
        assert reason in labels.REASONS and "_" not in labels.reason(reason)
    for outcome in (*OUTCOMES, "handed_back"):
        assert outcome in labels.OUTCOMES and "_" not in labels.outcome(outcome)
    assert labels.reason("cease_communication") == "Stop contact"
    assert labels.reason("brand_new_reason") == "Brand new reason"
    assert labels.sub_reason("not_mine") == "not mine"
    assert labels.audit_kind("console.claim") == "Claimed"
    assert labels.audit_kind("something.new_here") == "Something new here"


def test_negotiation_terms_read_as_a_sentence() -> None:
    proposal = {
        "state": {"stage": "offered", "settlement_round": 0, "pending": None},
        "awaiting": "confirmation",
        "proposal": {
            "kind": "installments",
            "frequency": "monthly",
            "total_cents": 30000,
            "payments": [
                {"due": "2026-12-15", "amount_cents": 5000},
                {"due": "2027-01-15", "amount_cents": 5000},
                {"due": "2027-02-15", "amount_cents": 5000},
                {"due": "2027-03-15", "amount_cents": 5000},
                {"due": "2027-04-15", "amount_cents": 5000},
                {"due": "2027-05-15", "amount_cents": 5000},
            ],
        },
    }
    line = labels.negotiation_line("bot", "offer", proposal)
    assert line == (
        "Bot offered: installment plan, $300.00 in total, 6 payments of $50.00 monthly, "
        "first payment 2026-12-15"
    )
    assert "{" not in line and "stage" not in line
    debtor = labels.negotiation_line(
        "debtor", "counter", {"offer": {"amount_cents": 2500, "frequency": "weekly"}}
    )
    assert debtor == "Debtor proposed: $25.00, weekly"
    promise = labels.negotiation_line(
        "debtor", "promise", {"promise_id": 3, "amount_cents": 10000, "due": "2026-12-20"}
    )
    assert promise == "Debtor promised: $100.00, due 2026-12-20"
    assert labels.negotiation_line("bot", "escalate", {}) == "Bot asked for a review"


def test_button_payloads_show_the_buttons_title() -> None:
    messages = [
        SimpleNamespace(
            id=1,
            sender="bot",
            text="Anything else?",
            buttons=[
                {"title": "Talk to a person", "payload": "/request_human"},
                {"title": "My balance", "payload": "/ask_balance"},
            ],
        ),
        SimpleNamespace(id=2, sender="debtor", text="/request_human", buttons=None),
        SimpleNamespace(id=3, sender="debtor", text="/ask_settlement", buttons=None),
        SimpleNamespace(id=4, sender="debtor", text="I paid 50/50 last week", buttons=None),
    ]
    shown = labels.transcript_texts(messages)
    assert shown[2] == "Talk to a person"
    assert shown[3] == "Ask settlement", "a payload nobody offered still reads as words"
    assert shown[4] == "I paid 50/50 last week"
