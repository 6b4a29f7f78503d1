"""Property tests of the contact rules over whole cadences (SPEC §14), with the clock moved.

Random accounts (zones, ZIP zones, phone area codes, states, consent, balances, plans with
installments and declined charges) go through the real job engine and the real SMS path (a
recording transport stands in for Twilio) while the clock jumps ahead in random steps across
DST changes, and opt-outs, cease requests, collection pauses, supervisor pauses and payments
happen at random moments. Whatever happens, of the messages Parley initiated:
none at a forbidden local time in any candidate zone, none above the state's cap in any rolling
7 days, none after an opt-out / cease / pause, none pursuing a paid account, none twice for one
step; each carries the collector statement and the opt-out line; no first contact names the
debt, amount or creditor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from parley.core.clock import ManualClock
from parley.core.settings import Settings
from parley.escalations.queue import pause_collection
from parley.jobs.kinds import make_engine
from parley.outreach import quiet_hours
from parley.outreach.config import COLLECTION_STEPS, DISCREET_STEPS, load_contact_rules
from parley.outreach.control import pause_outreach
from parley.outreach.send import debtor_zones
from parley.payments import ledger
from parley.sms import optout
from parley.sms.twilio import SendResult
from parley.tables import (
    Account,
    ChargeStatus,
    Conversation,
    Escalation,
    EscalationReason,
    Installment,
    InstallmentCharge,
    OutboundMessage,
    OutreachEvent,
    OutreachOutcome,
    PaymentPlan,
)
from tests.support.accounts import make_account

UTC = timezone.utc
SETTINGS = Settings(PARLEY_JOBS_INTERVAL_SECONDS=0, PARLEY_COMPANY_NAME="Acme Recovery")
PHONES = ["+1212555", "+1415555", "+1808555", "+1907555", "+1602555", "+1312555", "+1617555"]
ZONES = [
    None,
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "Not/AZone",
]
# Around both 2025 DST changes in the US, and an ordinary month.
STARTS = [date(2025, 3, 6), date(2025, 10, 30), date(2025, 6, 10)]
EVENTS = ["opt_out", "cease", "collection_pause", "outreach_pause", "payment"]


class Recorder:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sent: list[tuple[str, str, datetime]] = []

    def send(self, to: str, body: str) -> SendResult:
        self.sent.append((to, body, self.clock.now()))
        return SendResult("sent", f"SM{len(self.sent):032x}", "queued")


@dataclass
class Debtor:
    ref: str
    zone: str | None
    zip_zones: list[str]
    phone: str
    state: str | None
    consent: list[str]
    paid: bool
    plan_offsets: list[int]
    declined: bool
    events: list[tuple[str, int]]  # (what, hour offset from the start)
    happened: dict[str, datetime] = field(default_factory=dict)


debtors = st.builds(
    Debtor,
    ref=st.just(""),
    zone=st.sampled_from(ZONES),
    zip_zones=st.lists(st.sampled_from([z for z in ZONES if z]), max_size=2, unique=True),
    phone=st.sampled_from(PHONES),
    state=st.sampled_from([None, "MA", "NY", "CA", "TX"]),
    consent=st.sampled_from([["sms"], ["sms", "email"], ["email"], []]),
    paid=st.booleans(),
    plan_offsets=st.lists(st.integers(1, 20), max_size=3, unique=True),
    declined=st.booleans(),
    events=st.lists(st.tuples(st.sampled_from(EVENTS), st.integers(0, 24 * 20)), max_size=2),
)


def _create(session: Session, debtor: Debtor, n: int, start: datetime) -> int:
    total = 50_000
    account = make_account(
        account_ref=debtor.ref,
        phone=f"{debtor.phone}{n:04d}",
        timezone=debtor.zone,
        state=debtor.state,
        contact_consent=debtor.consent,
        principal_cents=total,
        interest_cents=0,
        fees_cents=0,
        payments_credits_cents=total if debtor.paid else 0,
        creditor="Northwind Bank",
        original_creditor="Contoso Card Services",
        description="Store card",
    )
    account.zip_timezones = debtor.zip_zones
    account.created_at = start
    session.add(account)
    session.flush()
    if debtor.plan_offsets and not debtor.paid:
        plan = PaymentPlan(
            account_id=account.id,
            kind="installments",
            status="active",
            total_cents=total,
            balance_at_agreement_cents=total,
            policy_name="default",
            timezone=debtor.zone,
            agreed_at=start,
        )
        session.add(plan)
        session.flush()
        for seq, offset in enumerate(sorted(debtor.plan_offsets), start=1):
            installment = Installment(
                plan_id=plan.id,
                sequence=seq,
                due_date=start.date() + timedelta(days=offset),
                amount_cents=total // len(debtor.plan_offsets),
            )
            session.add(installment)
            session.flush()
            if debtor.declined and seq == 1:
                session.add(
                    InstallmentCharge(
                        installment_id=installment.id,
                        attempt=1,
                        idempotency_key=f"installment-{installment.id}-attempt-1",
                        status=ChargeStatus.FAILED,
                    )
                )
    return account.id


def _apply(session: Session, debtor: Debtor, account_id: int, what: str, now: datetime) -> None:
    account = session.get(Account, account_id)
    assert account is not None
    if what == "opt_out":
        optout.opt_out(session, account.phone or "", "keyword", "STOP")
    elif what == "cease":
        conversation = Conversation(channel="web", account_id=account_id)
        session.add(conversation)
        session.flush()
        session.add(
            Escalation(
                conversation_id=conversation.id,
                account_id=account_id,
                reason=EscalationReason.CEASE_COMMUNICATION,
            )
        )
        pause_collection(session, account, EscalationReason.CEASE_COMMUNICATION)
    elif what == "collection_pause":
        pause_collection(session, account, EscalationReason.DISPUTE)
    elif what == "outreach_pause":
        pause_outreach(session, account, "user:sup")
    elif what == "payment" and account.balance_cents > 0:
        ledger.post(session, account_id, account.balance_cents, f"pay-{account_id}-{now}")
    debtor.happened.setdefault(what, now)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    people=st.lists(debtors, min_size=1, max_size=3),
    start_day=st.sampled_from(STARTS),
    start_hour=st.integers(0, 23),
    steps=st.lists(st.integers(1, 14), min_size=20, max_size=45),
)
def test_initiated_messages_never_break_a_contact_rule(
    connection: Connection,
    session_factory: sessionmaker[Session],
    people: list[Debtor],
    start_day: date,
    start_hour: int,
    steps: list[int],
) -> None:
    savepoint = connection.begin_nested()
    try:
        _run(session_factory, people, start_day, start_hour, steps)
    finally:
        savepoint.rollback()


def _run(
    factory: sessionmaker[Session],
    people: list[Debtor],
    start_day: date,
    start_hour: int,
    steps: list[int],
) -> None:
    start = datetime(start_day.year, start_day.month, start_day.day, start_hour, tzinfo=UTC)
    clock = ManualClock(start)
    transport = Recorder(clock)
    ids: dict[int, Debtor] = {}
    with factory.begin() as session:
        for n, debtor in enumerate(people):
            debtor.ref = f"PROP-{n}"
            debtor.happened = {}
            ids[_create(session, debtor, n, start)] = debtor
    engine = make_engine(factory, SETTINGS, clock=clock, services={"sms_transport": transport})
    for hours in steps:
        with factory.begin() as session:
            for account_id, debtor in ids.items():
                for what, at in debtor.events:
                    if start + timedelta(hours=at) <= clock.now() and what not in debtor.happened:
                        _apply(session, debtor, account_id, what, clock.now())
        engine.tick()
        clock.advance(hours=hours)
    _check(factory, ids, transport)


def _check(factory: sessionmaker[Session], ids: dict[int, Debtor], transport: Recorder) -> None:
    rules = load_contact_rules(SETTINGS.contact_rules_path)
    window = timedelta(days=rules.frequency.window_days)
    with factory() as session:
        events = list(
            session.scalars(
                select(OutreachEvent).where(
                    OutreachEvent.account_id.in_(ids), OutreachEvent.outcome == "sent"
                )
            )
        )
        keys = [event.step_key for event in events]
        assert len(keys) == len(set(keys)), "a step was sent twice"
        for event in events:
            debtor = ids[event.account_id]
            account = session.get(Account, event.account_id)
            message = session.get(OutboundMessage, event.outbound_id)
            assert account is not None and message is not None
            at = event.created_at
            assert message.sent_at == at and message.status == "sent"
            zones = debtor_zones(session, account.phone or "", account.id)
            assert quiet_hours.is_allowed(at, zones), (event.step, at, zones)
            assert "Acme Recovery is a debt collector." in message.body
            assert message.body.endswith("Reply STOP to opt out")
            for what in ("opt_out", "cease", "outreach_pause"):
                if what in debtor.happened:
                    assert at < debtor.happened[what], f"sent after {what}"
            if event.step in COLLECTION_STEPS:
                assert not debtor.paid, "collection message to a paid account"
                for what in ("collection_pause", "payment", "cease"):
                    if what in debtor.happened:
                        assert at < debtor.happened[what], f"collection sent after {what}"
            if event.step in DISCREET_STEPS:
                lowered = message.body.lower()
                for word in ("northwind", "contoso", "store card", "$", "500", "4421"):
                    assert word not in lowered, f"first contact names {word!r}"
            if event.step == "first_contact":
                assert event.channel in debtor.consent
            caps = rules.frequency.caps_for(account.state)
            mine = sorted(e.created_at for e in events if e.account_id == event.account_id)
            in_window = [t for t in mine if at - window < t <= at]
            assert len(in_window) <= caps["total"], "over the total cap"
            if "sms" in caps:
                assert len(in_window) <= caps["sms"], "over the state's SMS cap"
        # Every SMS the transport saw is one of these (nothing initiated outside the engine's
        # record), and nothing blocked or rescheduled went unexplained.
        assert len(transport.sent) == len(events)
        unexplained = session.scalars(
            select(OutreachEvent).where(
                OutreachEvent.account_id.in_(ids),
                OutreachEvent.outcome.in_((OutreachOutcome.BLOCKED, OutreachOutcome.RESCHEDULED)),
                OutreachEvent.reason.is_(None),
            )
        ).all()
        assert unexplained == []
