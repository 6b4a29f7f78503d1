"""Fault tests on the production topology (issue 11): one part at a time is killed (or hung)
mid-conversation, for real, while debtors talk through the balancer.

What must hold every time: no acknowledged message is lost, no acknowledged message goes
unanswered (mute), every conversation answers once the part is back, and no payment posts twice
however often and wherever Stripe's event is delivered. The figures of every run are printed at
the end of the session and written to var/results/faults.json.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from devstack.stripe_standin import StripeStandIn, sign
from devstack.topology import Topology
from parley.core.db import transaction
from parley.payments import ledger
from parley.tables import (
    Account,
    Installment,
    InstallmentCharge,
    LedgerEntry,
    Message,
    PaymentPlan,
)
from tests.support.payment_plans import make_plan
from tests.topology.workload import FIGURES, Outcome, debtors, run_workload

pytestmark = pytest.mark.topology

PEOPLE = debtors()
GROUP = 6  # debtors per fault; PEOPLE[30:] are for the tests after the groups


def people(group: int) -> list[Any]:
    return PEOPLE[group * GROUP : (group + 1) * GROUP]


def assert_held(outcome: Outcome, fault: str, faults: int, db: sessionmaker[Session]) -> None:
    row = outcome.figures(fault, faults, db)
    failures = [f for c in outcome.conversations for f in c.failures]
    assert not failures, failures
    assert row["lost"] == 0, row
    assert row["mute"] == 0, outcome.mute()
    assert row["unrecovered"] == 0, outcome.unrecovered(db)


def deliver_payments(topology: Topology, outcome: Outcome, db: sessionmaker[Session]) -> int:
    """Stripe's `checkout.session.completed` for every link a debtor got, delivered three
    times at once (through the balancer and to each API process): each posts once."""
    stripe: StripeStandIn = topology.stripe  # type: ignore[assignment]
    sessions = {body["url"]: body for _params, _status, body in stripe.answers.values()}
    delivered = 0
    for conversation in outcome.conversations:
        for link in conversation.links:
            checkout = sessions[link]
            event = {
                "id": f"evt_{checkout['id']}",
                "object": "event",
                "type": "checkout.session.completed",
                "data": {
                    "object": {
                        **checkout,
                        "status": "complete",
                        "payment_status": "paid",
                        "payment_intent": f"pi_{checkout['id']}",
                        "customer": "cus_faults",
                    }
                },
            }
            payload = json.dumps(event)
            targets = [topology.url, topology.api_url(0), topology.api_url(1)]
            answers: list[int] = []

            def post(base: str, body: str = payload, answers: list[int] = answers) -> None:
                response = httpx.post(
                    f"{base}/payments/stripe/webhook",
                    content=body,
                    headers={"Stripe-Signature": sign(body), "Content-Type": "application/json"},
                    timeout=30.0,
                )
                answers.append(response.status_code)

            threads = [threading.Thread(target=post, args=(t,)) for t in targets]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert answers == [200, 200, 200], answers
            delivered += 1
    with db() as session:
        for conversation in outcome.conversations:
            if not conversation.links:
                continue
            account = session.scalars(
                select(Account).where(Account.account_ref == conversation.debtor.ref)
            ).one()
            entries = session.scalars(
                select(func.count())
                .select_from(LedgerEntry)
                .where(LedgerEntry.account_id == account.id)
            ).one()
            assert entries == len(conversation.links), (conversation.debtor.ref, entries)
            assert ledger.balance_holds(session, account)
            assert account.balance_cents == 0
    return delivered


def test_baseline_without_a_fault(topology: Topology, topology_db: sessionmaker[Session]) -> None:
    outcome = run_workload(topology.url, people(0))
    assert_held(outcome, "none", 0, topology_db)
    # The script reaches a payment link for most debtors: the payment checks below are real.
    assert sum(1 for c in outcome.conversations if c.links) >= GROUP // 2, outcome.conversations
    assert deliver_payments(topology, outcome, topology_db) >= GROUP // 2


def test_one_rasa_server_killed_mid_conversation(
    topology: Topology, topology_db: sessionmaker[Session]
) -> None:
    def fault() -> None:
        topology.kill("rasa-0")
        time.sleep(6)
        topology.start("rasa-0")

    outcome = run_workload(topology.url, people(1), fault=fault, fault_after=3.0)
    assert_held(outcome, "rasa server killed", 1, topology_db)
    deliver_payments(topology, outcome, topology_db)


def test_one_rasa_server_hung_mid_conversation(
    topology: Topology, topology_db: sessionmaker[Session]
) -> None:
    """Finding 4: a SIGSTOPped shard. Its in-flight turns get an apology after the bot timeout;
    its conversations move to the other shard; nobody else waits."""

    def fault() -> None:
        topology.kill("rasa-1", signal.SIGSTOP)
        time.sleep(12)
        topology.resume("rasa-1")

    outcome = run_workload(topology.url, people(2), fault=fault, fault_after=3.0)
    assert_held(outcome, "rasa server hung", 1, topology_db)


def test_one_api_process_killed_mid_conversation(
    topology: Topology, topology_db: sessionmaker[Session]
) -> None:
    def fault() -> None:
        topology.kill("api-1")
        time.sleep(3)
        topology.start("api-1")

    outcome = run_workload(topology.url, people(3), fault=fault, fault_after=3.0)
    assert_held(outcome, "api process killed", 1, topology_db)
    deliver_payments(topology, outcome, topology_db)


def test_the_action_server_killed_mid_conversation(
    topology: Topology, topology_db: sessionmaker[Session]
) -> None:
    """Finding 2: turns during the outage are answered (an apology, then a person); once the
    action server is back no conversation is mute, and the ones still with the bot work."""

    def fault() -> None:
        topology.kill("actions")
        time.sleep(4)
        topology.start("actions")

    outcome = run_workload(topology.url, people(4), fault=fault, fault_after=3.0)
    assert_held(outcome, "action server killed", 1, topology_db)


def test_a_conversation_started_while_the_action_server_is_down_is_never_mute(
    topology: Topology, topology_db: sessionmaker[Session]
) -> None:
    """Finding 2 exactly: session create while the action server is down is refused (503,
    nothing left behind); once it is back, a new conversation works end to end."""
    topology.kill("actions")
    try:
        response = httpx.post(f"{topology.url}/api/chat/sessions", json={}, timeout=30.0)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["message"]
    finally:
        topology.start("actions")
    outcome = run_workload(topology.url, PEOPLE[30:32])
    assert_held(outcome, "session started during action outage", 1, topology_db)


def test_the_worker_killed_mid_run_charges_each_installment_once(
    topology: Topology, topology_db: sessionmaker[Session]
) -> None:
    """No job runs twice: the worker is killed while Stripe is answering its charges (charged
    at Stripe, not yet recorded), restarted, and every installment is charged exactly once."""
    stripe: StripeStandIn = topology.stripe  # type: ignore[assignment]
    today = datetime.now(ZoneInfo("America/New_York")).date()  # the plans' zone
    plans = [
        make_plan(
            topology_db, (2500,), status="active", payment_method="pm_card_visa", first_due=today
        )
        for _ in range(12)
    ]
    with transaction(topology_db) as session:
        installments = list(
            session.scalars(select(Installment.id).where(Installment.plan_id.in_(plans)))
        )
    stripe.charge_delay_seconds = 0.5
    try:
        deadline = time.monotonic() + 30
        while not _charging(topology_db, installments) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _charging(topology_db, installments), "the worker started charging"
        topology.kill("worker")
        topology.start("worker")
        deadline = time.monotonic() + 90  # includes the job lease (10 s) of the interrupted one
        while time.monotonic() < deadline and _unpaid(topology_db, installments):
            time.sleep(0.5)
    finally:
        stripe.charge_delay_seconds = 0.0
    assert not _unpaid(topology_db, installments)
    ours = {str(i) for i in installments}
    new_charges = [c for c in stripe.charges if c.params.get("metadata[installment_id]") in ours]
    charged = sorted(c.params["metadata[installment_id]"] for c in new_charges)
    assert charged == sorted(ours), "each installment charged once at Stripe"
    with topology_db() as session:
        for plan_id in plans:
            plan = session.get(PaymentPlan, plan_id)
            assert plan is not None
            account = session.get(Account, plan.account_id)
            assert account is not None and ledger.balance_holds(session, account)
            posted = session.scalars(
                select(func.count())
                .select_from(LedgerEntry)
                .where(LedgerEntry.account_id == account.id)
            ).one()
            assert posted == 1
    FIGURES["worker killed"] = {
        "fault": "worker killed",
        "faults_injected": 1,
        "conversations": 0,
        "messages": 0,
        "acknowledged": 0,
        "retried": 0,
        "apologies": 0,
        "said_again": 0,
        "mute": 0,
        "lost": 0,
        "unrecovered": 0,
        "installments": len(installments),
        "charged_at_stripe": len(new_charges),
        "replayed_by_key": sum(
            1
            for c in stripe.received
            if c.replayed and c.params.get("metadata[installment_id]") in ours
        ),
    }


def _charging(db: sessionmaker[Session], ids: list[int]) -> bool:
    with db() as session:
        return bool(
            session.scalars(
                select(func.count())
                .select_from(InstallmentCharge)
                .where(InstallmentCharge.installment_id.in_(ids))
            ).one()
        )


def _unpaid(db: sessionmaker[Session], ids: list[int]) -> int:
    with db() as session:
        return int(
            session.scalars(
                select(func.count())
                .select_from(Installment)
                .where(Installment.id.in_(ids), Installment.status != "paid")
            ).one()
        )


def test_messages_of_one_conversation_are_handled_in_order_across_two_api_processes(
    topology: Topology, topology_db: sessionmaker[Session]
) -> None:
    """Ordering: messages to one conversation sent at once to both API processes are handled
    one at a time: in the transcript every message is followed by its own replies."""
    debtor = PEOPLE[32]
    client = httpx.Client(timeout=60.0)
    start = client.post(f"{topology.api_url(0)}/api/chat/sessions", json={})
    session_id = start.json()["session_id"]
    for text in debtor.script[:3]:
        client.post(
            f"{topology.api_url(0)}/api/chat/sessions/{session_id}/messages", json={"text": text}
        )
    answers: dict[str, list[str]] = {}

    def send(n: int) -> None:
        base = topology.api_url(n % 2)
        text = f"what do I owe? ({n})"
        response = httpx.post(
            f"{base}/api/chat/sessions/{session_id}/messages", json={"text": text}, timeout=60.0
        )
        assert response.status_code == 200, response.text
        answers[text] = [m["text"] for m in response.json()["messages"]]

    threads = [threading.Thread(target=send, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    with topology_db() as session:
        rows = session.scalars(
            select(Message).where(Message.conversation_id == session_id).order_by(Message.id)
        ).all()
    turns: list[tuple[str, list[str]]] = []
    for row in rows:
        if row.direction == "inbound":
            turns.append((row.text, []))
        elif turns:
            turns[-1][1].append(row.text)
    concurrent = [t for t in turns if t[0] in answers]
    assert len(concurrent) == 10
    for text, replies in concurrent:
        assert replies == answers[text], (text, replies, answers[text])
        assert replies, text
