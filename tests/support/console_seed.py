"""A small, fully known portfolio for the dashboard, priority and export tests (unit tests on
SQLite and PostgreSQL, and the real-browser tests): five accounts on two policies with
conversations, plans, ledger entries, promises, escalations, outreach and an opt-out, all at
fixed times in March 2026. `EXPECTED` holds the dashboard figures worked out by hand from the
rows below (the reasoning is in the comments), so a test compares the code with arithmetic done
independently of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Final

from sqlalchemy.orm import Session

from parley.records.audit import Kind, record
from parley.tables import (
    Account,
    Conversation,
    Escalation,
    Installment,
    LedgerEntry,
    Message,
    NegotiationEvent,
    OutboundMessage,
    PaymentPlan,
    PhoneOptOut,
    Promise,
)
from tests.support.accounts import make_account

NOW: Final = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc)
FIRST, LAST = date(2026, 3, 1), date(2026, 3, 31)
FORMULA_NAME: Final = '=HYPERLINK("http://evil.example","x")'


def at(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)


@dataclass
class Seeded:
    accounts: dict[str, Account]
    conversations: dict[str, Conversation]


def _account(session: Session, ref: str, created: datetime, **values: Any) -> Account:
    account = make_account(account_ref=ref, **values)
    account.created_at = account.updated_at = created
    session.add(account)
    session.flush()
    return account


def _conversation(
    session: Session,
    account: Account,
    channel: str,
    created: datetime,
    *,
    debtor_at: datetime | None,
    verified: bool,
) -> Conversation:
    conversation = Conversation(
        channel=channel,
        phone=account.phone if channel == "sms" else None,
        account_id=account.id,
        status="bot",
        created_at=created,
        updated_at=created,
        last_debtor_at=debtor_at,
        verified_at=debtor_at if verified else None,
    )
    session.add(conversation)
    session.flush()
    if debtor_at is not None:
        _message(session, conversation, "debtor", "hello", debtor_at)
    if verified and debtor_at is not None:
        record(
            session,
            Kind.VERIFICATION_SUCCEEDED,
            conversation_id=conversation.id,
            account_id=account.id,
            at=debtor_at,
        )
    return conversation


def _message(
    session: Session, conversation: Conversation, sender: str, text: str, when: datetime
) -> None:
    session.add(
        Message(
            conversation_id=conversation.id,
            direction="inbound" if sender == "debtor" else "outbound",
            sender=sender,
            text=text,
            created_at=when,
        )
    )


def _escalation(
    session: Session,
    conversation: Conversation,
    reason: str,
    opened: datetime,
    *,
    replied: datetime | None = None,
    resolved: datetime | None = None,
    summary: str = "",
) -> Escalation:
    escalation = Escalation(
        conversation_id=conversation.id,
        account_id=conversation.account_id,
        reason=reason,
        status="resolved" if resolved else "open",
        priority=50,
        summary=summary or f"{reason} escalation",
        created_at=opened,
        updated_at=opened,
        resolved_at=resolved,
        outcome="resolved" if resolved else None,
    )
    session.add(escalation)
    if replied is not None:
        _message(session, conversation, "agent", "A person here.", replied)
    session.flush()
    return escalation


def _offer(session: Session, account: Account, conversation: Conversation, when: datetime) -> None:
    session.add(
        NegotiationEvent(
            account_id=account.id,
            conversation_id=conversation.id,
            kind="offer",
            actor="bot",
            terms={"kind": "full"},
            policy_name=account.policy,
            created_at=when,
        )
    )


def _plan(
    session: Session,
    account: Account,
    conversation: Conversation | None,
    kind: str,
    amounts: list[int],
    agreed: datetime,
    status: str,
    **times: datetime,
) -> PaymentPlan:
    plan = PaymentPlan(
        account_id=account.id,
        conversation_id=conversation.id if conversation else None,
        kind=kind,
        status=status,
        total_cents=sum(amounts),
        balance_at_agreement_cents=account.balance_cents,
        frequency="monthly" if len(amounts) > 1 else None,
        policy_name=account.policy,
        agreed_at=agreed,
        created_at=agreed,
        updated_at=agreed,
        **times,
    )
    session.add(plan)
    session.flush()
    for sequence, cents in enumerate(amounts, start=1):
        session.add(
            Installment(
                plan_id=plan.id,
                sequence=sequence,
                due_date=date(2026, 3 + sequence, 1),
                amount_cents=cents,
            )
        )
    session.flush()
    session.refresh(plan)
    return plan


def _pay(session: Session, account: Account, plan: PaymentPlan, cents: int, when: datetime) -> None:
    installment = next(i for i in plan.installments if i.remaining_cents > 0)
    installment.paid_cents = (installment.paid_cents or 0) + cents
    if installment.remaining_cents == 0:
        installment.status, installment.paid_at = "paid", when
    session.add(
        LedgerEntry(
            account_id=account.id,
            plan_id=plan.id,
            installment_id=installment.id,
            kind="payment",
            amount_cents=cents,
            reference=f"pi_{account.account_ref}_{when:%m%d}",
            created_at=when,
        )
    )
    account.posted_payments_cents = (account.posted_payments_cents or 0) + cents
    session.flush()


def _outbound(
    session: Session, account: Account, status: str, when: datetime, error: str | None = None
) -> None:
    session.add(
        OutboundMessage(
            account_id=account.id,
            channel="sms",
            to=account.phone or "",
            body="A reminder from Parley. Reply STOP to opt out",
            kind="reminder",
            status=status,
            error=error,
            send_after=when,
            sent_at=when if status in ("sent", "outbox") else None,
            created_at=when,
        )
    )


def seed(session: Session) -> Seeded:
    """Create the portfolio; returns the rows by short name (a1 … a5, c1 … c5)."""
    # A1, default: placed 2 March; $1,000; verified in a web chat on 3 March, offered and agreed
    # a 4 x $250 plan that day without a person; paid $250 on 4 March; kept a $50 promise.
    a1 = _account(
        session,
        "SEED-1",
        at(3, 2),
        first_name="Ada",
        last_name="Lovelace",
        phone="+14045550101",
        email="ada@example.com",
        principal_cents=100000,
        interest_cents=0,
        fees_cents=0,
        payments_credits_cents=0,
    )
    c1 = _conversation(session, a1, "web", at(3, 3, 9), debtor_at=at(3, 3, 9), verified=True)
    _offer(session, a1, c1, at(3, 3, 9, 5))
    p1 = _plan(session, a1, c1, "installments", [25000] * 4, at(3, 3, 9, 10), "active")
    _pay(session, a1, p1, 25000, at(3, 4))
    session.add(
        Promise(
            account_id=a1.id,
            amount_cents=5000,
            due_date=date(2026, 3, 5),
            status="kept",
            created_at=at(3, 3, 9, 1),
            updated_at=at(3, 5),
        )
    )

    # A2, default: placed 5 March; $500; verified by SMS on 6 March, asked for a person
    # (escalation at 10:00, agent reply 10:30, resolved 11:00), then agreed to pay in full and
    # paid $500 on 7 March: balance 0, plan completed.
    a2 = _account(
        session,
        "SEED-2",
        at(3, 5),
        first_name="Grace",
        last_name="Hopper",
        phone="+14045550102",
        email=None,
        principal_cents=50000,
        interest_cents=0,
        fees_cents=0,
        payments_credits_cents=0,
    )
    c2 = _conversation(session, a2, "sms", at(3, 6, 9), debtor_at=at(3, 6, 9), verified=True)
    _escalation(
        session,
        c2,
        "human_requested",
        at(3, 6, 10),
        replied=at(3, 6, 10, 30),
        resolved=at(3, 6, 11),
    )
    _offer(session, a2, c2, at(3, 6, 11, 5))
    p2 = _plan(session, a2, c2, "full", [50000], at(3, 6, 11, 10), "completed")
    _pay(session, a2, p2, 50000, at(3, 7))
    p2.completed_at = at(3, 7)

    # A3, medical: placed 10 February; $2,000; verified in a web chat on 10 March and disputed
    # (escalation 09:00, reply 09:10, resolved 10:30); collection paused; a $200 promise open;
    # a reminder blocked by the pause on 11 March. The debtor's name is a formula.
    a3 = _account(
        session,
        "SEED-3",
        at(2, 10),
        first_name=FORMULA_NAME,
        last_name="Turing",
        phone="+14045550103",
        email=None,
        policy="medical",
        principal_cents=200000,
        interest_cents=0,
        fees_cents=0,
        payments_credits_cents=0,
        collection_paused=True,
    )
    c3 = _conversation(session, a3, "web", at(3, 10, 8), debtor_at=at(3, 10, 8), verified=True)
    _escalation(
        session,
        c3,
        "dispute",
        at(3, 10, 9),
        replied=at(3, 10, 9, 10),
        resolved=at(3, 10, 10, 30),
        summary="+SUM(A1:A9) says it is not theirs",
    )
    session.add(
        Promise(
            account_id=a3.id,
            amount_cents=20000,
            due_date=date(2026, 3, 20),
            status="open",
            created_at=at(3, 10, 8, 30),
            updated_at=at(3, 10, 8, 30),
        )
    )
    _outbound(session, a3, "blocked", at(3, 11), "collection_paused")

    # A4, medical: placed 12 March, $300 with $100 paid in February on a plan agreed 20 February
    # (before the period), broken 14 March; a $100 promise made 2 March and broken; one
    # reminder went to the local outbox on 12 March (contacted, not engaged).
    a4 = _account(
        session,
        "SEED-4",
        at(3, 12),
        first_name="Edsger",
        last_name="Dijkstra",
        phone="+14045550104",
        email=None,
        policy="medical",
        principal_cents=30000,
        interest_cents=0,
        fees_cents=0,
        payments_credits_cents=0,
    )
    p4 = _plan(session, a4, None, "installments", [10000] * 3, at(2, 20), "broken")
    _pay(session, a4, p4, 10000, at(2, 25))
    p4.broken_at = at(3, 14)
    session.add(
        Promise(
            account_id=a4.id,
            amount_cents=10000,
            due_date=date(2026, 3, 9),
            status="broken",
            created_at=at(3, 2, 15),
            updated_at=at(3, 9),
        )
    )
    _outbound(session, a4, "outbox", at(3, 12, 15))

    # A5, default: placed 1 January 2025; $5,000; its SMS number opted out on 8 March and a
    # reminder was blocked for it on 9 March; a web chat begun 20 February in which the debtor
    # wrote on 13 March (not verified): a hardship escalation on 13 March still open, a dispute
    # on 14 March (reply 08:30, resolved 09:00), and a bankruptcy on 15 February (outside).
    a5 = _account(
        session,
        "SEED-5",
        at(1, 1, year=2025),
        first_name="Barbara",
        last_name="Liskov",
        phone="+14045550105",
        email="barbara@example.com",
        principal_cents=500000,
        interest_cents=0,
        fees_cents=0,
        payments_credits_cents=0,
    )
    c5 = _conversation(session, a5, "web", at(2, 20), debtor_at=None, verified=False)
    c5.last_debtor_at = at(3, 13, 7)
    _message(session, c5, "debtor", "I lost my job", at(3, 13, 7))
    _escalation(session, c5, "bankruptcy", at(2, 15), replied=at(2, 15, 13), resolved=at(2, 16))
    _escalation(session, c5, "hardship", at(3, 13, 7, 1))
    _escalation(
        session, c5, "dispute", at(3, 14, 8), replied=at(3, 14, 8, 30), resolved=at(3, 14, 9)
    )
    session.add(PhoneOptOut(phone=a5.phone, opted_out=True, source="keyword", updated_at=at(3, 8)))
    session.add(
        PhoneOptOut(phone="+14045550199", opted_out=True, source="keyword", updated_at=at(1, 8))
    )
    _outbound(session, a5, "blocked", at(3, 9), "opted_out")
    session.flush()
    return Seeded(
        accounts={"a1": a1, "a2": a2, "a3": a3, "a4": a4, "a5": a5},
        conversations={"c1": c1, "c2": c2, "c3": c3, "c5": c5},
    )


# The dashboard for 1-31 March 2026, worked out from the rows above.
EXPECTED: Final[dict[str | None, dict[str, Any]]] = {
    None: {
        # created in March: A1, A2, A4
        "placed": 3,
        # outreach sent/outbox in March: A4; conversations begun in March: A1, A2, A3
        # (A5's chat began in February and its reminder was blocked)
        "contacted": 4,
        # debtor messages in March: A1, A2, A3, A5
        "engaged": 4,
        # verification.succeeded events in March: A1, A2, A3
        "verified": 3,
        "offered": 2,  # A1, A2
        "agreed": 2,  # plans agreed in March: A1, A2 (A4's was in February)
        "paying": 2,  # payments posted in March: A1 (4th), A2 (7th); A4's was in February
        "paid_in_full": 1,  # A2: balance 0, last payment 7 March
        "plans_agreed": 2,
        "plans_self_served": 1,  # A1's chat had no escalation; A2's had one
        "agreed_cents": 150000,  # $1,000 + $500
        "promises_made": 3,  # A1 $50 kept, A3 $200 open, A4 $100 broken
        "promised_cents": 35000,
        "promises_kept": 1,
        "promises_broken": 1,
        "collected_cents": 75000,  # $250 + $500
        "forgiven_cents": 0,
        "plans_live": 1,  # A1 (active); A2 completed, A4 broken
        "plans_completed": 1,  # A2 on 7 March
        "plans_broken": 1,  # A4 on 14 March
        # reason: (opened, resolved, median minutes to first reply, median minutes to resolve)
        "escalations": {
            "dispute": (2, 2, 20.0, 75.0),  # replies 10 and 30 min; resolved 90 and 60 min
            "human_requested": (1, 1, 30.0, 60.0),
            # opened 13 March 07:01; a person first wrote in that chat 14 March 08:30
            "hardship": (1, 0, 1529.0, None),
        },
        "opt_outs": 1,  # A5's number on 8 March (the other opt-out was in January)
        "outreach": {"outbox": 1, "blocked": 2},
        "blocked_by": {"collection_paused": 1, "opted_out": 1},
    },
    "medical": {
        "placed": 1,  # A4
        "contacted": 2,  # A3 (chat), A4 (outbox)
        "engaged": 1,  # A3
        "verified": 1,
        "offered": 0,
        "agreed": 0,
        "paying": 0,
        "paid_in_full": 0,
        "plans_agreed": 0,
        "plans_self_served": 0,
        "agreed_cents": 0,
        "promises_made": 2,
        "promised_cents": 30000,
        "promises_kept": 0,
        "promises_broken": 1,
        "collected_cents": 0,
        "forgiven_cents": 0,
        "plans_live": 0,
        "plans_completed": 0,
        "plans_broken": 1,
        "escalations": {"dispute": (1, 1, 10.0, 90.0)},
        "opt_outs": 0,
        "outreach": {"outbox": 1, "blocked": 1},
        "blocked_by": {"collection_paused": 1},
    },
}

# Priority scores at NOW (see parley.console.priority for the points):
# A1: $750 -> 7; placed 13 days -> 20; wrote 12 days ago + verified -> 8+7+5; 1 kept -> 5;
#     SMS + email -> 10: 62
# A2: nothing left to pay: 0
# A3: $2,000 -> 20; placed 33 days -> 12; wrote 5 days ago + verified -> 20; SMS -> 5: 57
# A4: $200 -> 2; placed 3 days -> 20; never wrote -> 0; promise + plan broken -> -20; SMS -> 5: 7
# A5: $5,000 -> 30 (cap); placed > 365 days -> 0; wrote 2 days ago, not verified -> 13;
#     SMS opted out, email -> 5: 48
EXPECTED_SCORES: Final = {"SEED-1": 62, "SEED-2": 0, "SEED-3": 57, "SEED-4": 7, "SEED-5": 48}
