"""Ledger invariants (SPEC §8) over random sequences of payments, replays and failures.

After every step: balance == original balance - posted payments, the running total on the
account equals the sum of the entries, and each payment (PaymentIntent) is posted once however
often and through whichever event it is reported.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.core.db import transaction
from parley.payments import ledger, links
from parley.tables import Account, LedgerEntry, PaymentLink, PaymentPlan
from tests.support.payment_plans import make_plan, process, settings_for

_events = itertools.count(1)

Step = tuple[str, int, int]
steps = st.lists(
    st.tuples(
        st.sampled_from(["checkout", "intent", "fail", "replay", "direct"]),
        st.integers(min_value=0, max_value=4),  # which payment (PaymentIntent) it is about
        st.integers(min_value=1, max_value=50_000),  # cents
    ),
    max_size=25,
)


def _event(kind: str, link: PaymentLink, intent: str, amount: int) -> dict[str, Any]:
    metadata = {
        "plan_id": str(link.plan_id),
        "link_id": str(link.id),
        "installment_id": str(link.installment_id),
    }
    event_id = f"evt_{next(_events)}"
    if kind == "checkout":
        obj: dict[str, Any] = {
            "payment_status": "paid",
            "amount_total": amount,
            "payment_intent": intent,
            "metadata": metadata,
        }
        return {"id": event_id, "type": "checkout.session.completed", "data": {"object": obj}}
    if kind == "intent":
        obj = {"id": intent, "amount_received": amount, "metadata": metadata}
        return {"id": event_id, "type": "payment_intent.succeeded", "data": {"object": obj}}
    obj = {"id": intent, "metadata": metadata, "last_payment_error": {"code": "card_declined"}}
    return {"id": event_id, "type": "payment_intent.payment_failed", "data": {"object": obj}}


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_balance_is_original_minus_posted_payments_under_any_replay(
    db_url: str, committed_factory: sessionmaker[Session], steps: list[Step]
) -> None:
    config = settings_for(db_url)
    plan_id = make_plan(committed_factory, (10000, 10000), balance_cents=100_000)
    with transaction(committed_factory) as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        link = links.create_link(session, config, plan)
        account_id = plan.account_id
    run = next(_events)
    sent: list[dict[str, Any]] = []
    first_amount: dict[str, int] = {}  # reference -> the amount that counts (the first posted)
    for kind, which, amount in steps:
        intent = f"pi_{run}_{which}"
        if kind == "replay":
            if not sent:
                continue
            event = sent[which % len(sent)]
            assert process(committed_factory, event, config) == "duplicate"
        elif kind == "direct":
            with transaction(committed_factory) as session:
                ledger.post(session, account_id, amount, intent)
            first_amount.setdefault(intent, amount)
        else:
            event = _event(kind, link, intent, amount)
            process(committed_factory, event, config)
            sent.append(event)
            if kind != "fail":
                first_amount.setdefault(intent, amount)
        with committed_factory() as session:
            account = session.get(Account, account_id)
            assert account is not None
            assert ledger.balance_holds(session, account)
            assert account.balance_cents == 100_000 - sum(first_amount.values())
            references = list(
                session.scalars(
                    select(LedgerEntry.reference).where(LedgerEntry.account_id == account_id)
                )
            )
            assert sorted(references) == sorted(first_amount)
