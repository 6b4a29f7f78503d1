"""The cadence end to end on the job engine, with the clock moved (SPEC §14)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.core.clock import ManualClock
from parley.core.settings import Settings
from parley.jobs.kinds import make_engine
from parley.outreach.control import preview
from parley.sms.twilio import SendResult
from parley.tables import Account, OutreachEvent, Promise
from tests.support.accounts import make_account

UTC = timezone.utc
SETTINGS = Settings(PARLEY_JOBS_INTERVAL_SECONDS=0, PARLEY_COMPANY_NAME="Acme Recovery")


class Recorder:
    def __init__(self, clock: ManualClock) -> None:
        self.clock, self.sent = clock, []  # type: ignore[var-annotated]

    def send(self, to: str, body: str) -> SendResult:
        self.sent.append((to, body, self.clock.now()))
        return SendResult("sent", f"SM{len(self.sent):032x}", "queued")


def _events(factory: sessionmaker[Session]) -> list[tuple[str, str, str | None]]:
    with factory() as session:
        return [
            (e.step, str(e.outcome), e.reason)
            for e in session.scalars(select(OutreachEvent).order_by(OutreachEvent.id))
        ]


def test_first_contact_waits_for_8am_then_follow_ups_until_the_massachusetts_cap(
    session_factory: sessionmaker[Session],
) -> None:
    start = datetime(2025, 3, 8, 4, 0, tzinfo=UTC)  # 23:00 in Boston, before the DST change
    clock = ManualClock(start)
    transport = Recorder(clock)
    with session_factory.begin() as session:
        account = make_account(
            phone="+16175550100",
            timezone="America/New_York",
            state="MA",
            contact_consent=["sms"],
        )
        account.zip_timezones = ["America/New_York"]
        session.add(account)
    engine = make_engine(
        session_factory, SETTINGS, clock=clock, services={"sms_transport": transport}
    )
    engine.run_until_idle()
    assert transport.sent == []
    assert _events(session_factory) == [("first_contact", "rescheduled", "quiet_hours")]
    clock.set(datetime(2025, 3, 8, 13, 0, tzinfo=UTC))  # 08:00 EST
    engine.run_until_idle()
    ((to, body, at),) = transport.sent
    assert to == "+16175550100" and at == datetime(2025, 3, 8, 13, 0, tzinfo=UTC)
    assert "Maria" in body and "Acme Recovery is a debt collector." in body
    assert body.endswith("Reply STOP to opt out")
    for banned in ("Northwind", "$", "1,219", "4421", "Credit card"):
        assert banned not in body
    # The day 3, 7 and 14 follow-ups go, each one held back whenever it would be a third text
    # in 7 days (Massachusetts: 2) or fall outside 08:00-21:00.
    for _ in range(16):
        clock.advance(days=1)
        engine.run_until_idle()
    steps = [e for e in _events(session_factory) if e[1] == "sent"]
    assert [s[0] for s in steps] == ["first_contact", "no_reply", "no_reply", "no_reply"]
    times = [t for _, _, t in transport.sent]
    for i, moment in enumerate(times):  # never more than 2 texts in any 7 days
        assert sum(1 for t in times if moment - timedelta(days=7) < t <= moment) <= 2, i


def test_a_reply_stops_the_no_reply_follow_ups_and_preview_says_why(
    session_factory: sessionmaker[Session],
) -> None:
    from parley.tables import Conversation, Message

    clock = ManualClock(datetime(2025, 6, 10, 17, 0, tzinfo=UTC))
    transport = Recorder(clock)
    with session_factory.begin() as session:
        account = make_account(contact_consent=["sms"], account_ref="R-1")
        session.add(account)
        session.flush()
        account_id = account.id
    engine = make_engine(
        session_factory, SETTINGS, clock=clock, services={"sms_transport": transport}
    )
    engine.run_until_idle()
    assert len(transport.sent) == 1
    with session_factory.begin() as session:
        conversation = Conversation(channel="sms", phone="+14155550100", account_id=account_id)
        session.add(conversation)
        session.flush()
        session.add(
            Message(
                conversation_id=conversation.id,
                direction="inbound",
                sender="debtor",
                text="who is this",
                created_at=clock.advance(hours=1),
            )
        )
    with session_factory() as session:
        account_row = session.get(Account, account_id)
        assert account_row is not None
        planned = preview(session, SETTINGS, account_row, clock.now())
        assert [p.step for p in planned] == ["no_reply", "no_reply", "no_reply"]
    clock.advance(days=15)
    engine.run_until_idle()
    assert len(transport.sent) == 1
    assert [e for e in _events(session_factory) if e[0] == "no_reply"] == [
        ("no_reply", "blocked", "debtor_replied")
    ] * 3


def _promised(
    session: Session, ref: str, phone: str, cents: int, due: date, made: datetime
) -> Account:
    """An account with one open promise of `cents` by `due`, made at `made`."""
    account = make_account(account_ref=ref, phone=phone)
    session.add(account)
    session.flush()
    session.add(
        Promise(
            account_id=account.id,
            amount_cents=cents,
            due_date=due,
            created_at=made,
            updated_at=made,
        )
    )
    return account


def test_a_broken_promise_is_followed_up_and_a_kept_one_is_not(
    session_factory: sessionmaker[Session],
) -> None:
    from parley.payments import ledger
    from parley.tables import LedgerEntry

    start = datetime(2025, 6, 10, 17, 0, tzinfo=UTC)
    clock = ManualClock(start)
    transport = Recorder(clock)
    with session_factory.begin() as session:
        kept = _promised(session, "P-KEPT", "+14155550111", 20000, date(2025, 6, 13), start)
        _promised(session, "P-BROKEN", "+14155550112", 20000, date(2025, 6, 13), start)
        ledger.post(session, kept.id, 20000, "promise-pay")
        entry = session.scalars(select(LedgerEntry)).one()
        entry.created_at = start + timedelta(days=4)  # within the 2 grace days
    engine = make_engine(
        session_factory, SETTINGS, clock=clock, services={"sms_transport": transport}
    )
    engine.run_until_idle()
    # Two days before the date, each debtor is reminded of their promise (in the morning).
    clock.set(datetime(2025, 6, 11, 16, 0, tzinfo=UTC))  # 09:00 Pacific
    engine.run_until_idle()
    reminded = sorted((to, body) for to, body, _ in transport.sent)
    assert [to for to, _ in reminded] == ["+14155550111", "+14155550112"]
    assert all("$200.00" in body and "Jun 13" in body for _, body in reminded)
    transport.sent.clear()
    clock.set(datetime(2025, 6, 16, 18, 0, tzinfo=UTC))  # after Jun 13 + 2 days, Pacific
    engine.run_until_idle()
    with session_factory() as session:
        statuses = {p.account_id: str(p.status) for p in session.scalars(select(Promise))}
    assert sorted(statuses.values()) == ["broken", "kept"]
    assert [e[:2] for e in _events(session_factory)] == [
        ("promise_reminder", "sending"),
        ("promise_reminder", "sent"),
        ("promise_reminder", "sending"),
        ("promise_reminder", "sent"),
        ("broken_promise", "sending"),
        ("broken_promise", "sent"),
    ]
    ((to, body, _),) = transport.sent
    assert to == "+14155550112" and "$200.00" in body and "Jun 13" in body


def test_a_promise_reminder_never_goes_after_the_promised_day(
    session_factory: sessionmaker[Session],
) -> None:
    """A worker that was down over the reminder's day does not send it late."""
    start = datetime(2025, 6, 10, 17, 0, tzinfo=UTC)
    clock = ManualClock(start)
    transport = Recorder(clock)
    with session_factory.begin() as session:
        _promised(session, "P-LATE", "+14155550113", 5000, date(2025, 6, 13), start)
    engine = make_engine(
        session_factory, SETTINGS, clock=clock, services={"sms_transport": transport}
    )
    engine.run_until_idle()  # plans the reminder for Jun 11
    clock.set(datetime(2025, 6, 14, 17, 0, tzinfo=UTC))  # the worker is back on Jun 14
    engine.run_until_idle()
    assert ("promise_reminder", "blocked", "promise_date_passed") in _events(session_factory)
    assert not any("reminder of the payment" in body for _, body, _ in transport.sent)


def test_two_workers_send_each_step_once(committed_factory: sessionmaker[Session]) -> None:
    """Two engines in two threads over the same due first contacts (PostgreSQL: SKIP LOCKED
    claims; SQLite: conditional claims): every debtor gets exactly one text."""
    import threading

    clock = ManualClock(datetime(2025, 6, 10, 17, 0, tzinfo=UTC))  # 10:00 in San Francisco
    transport = Recorder(clock)
    with committed_factory.begin() as session:
        for n in range(30):
            session.add(
                make_account(
                    account_ref=f"TW-{n}", phone=f"+1415555{n:04d}", contact_consent=["sms"]
                )
            )
    small = SETTINGS.model_copy(update={"job_batch_size": 4})
    engines = [
        make_engine(
            committed_factory,
            small,
            clock=clock,
            services={"sms_transport": transport},
            worker_id=f"w{i}",
        )
        for i in range(2)
    ]
    threads = [threading.Thread(target=engine.run_until_idle) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    phones = [to for to, _, _ in transport.sent]
    assert sorted(phones) == sorted(f"+1415555{n:04d}" for n in range(30))
    with committed_factory() as session:
        sent = session.scalars(
            select(OutreachEvent.step_key).where(OutreachEvent.outcome == "sent")
        ).all()
    assert len(sent) == len(set(sent)) == 30


def test_a_declined_charge_is_followed_up_with_one_fresh_link(
    session_factory: sessionmaker[Session],
) -> None:
    from parley.tables import Installment, InstallmentCharge, PaymentLink, PaymentPlan

    start = datetime(2025, 6, 10, 5, 0, tzinfo=UTC)  # 22:00 in San Francisco
    clock = ManualClock(start)
    transport = Recorder(clock)
    with session_factory.begin() as session:
        account = make_account(account_ref="MISS-1", phone="+14155550177")
        session.add(account)
        session.flush()
        plan = PaymentPlan(
            account_id=account.id,
            kind="installments",
            status="active",
            total_cents=40000,
            balance_at_agreement_cents=40000,
            policy_name="default",
            timezone="America/Los_Angeles",
            agreed_at=start - timedelta(days=30),
        )
        session.add(plan)
        session.flush()
        installment = Installment(
            plan_id=plan.id, sequence=1, due_date=date(2025, 6, 9), amount_cents=20000
        )
        session.add_all(
            [
                installment,
                Installment(
                    plan_id=plan.id, sequence=2, due_date=date(2025, 7, 9), amount_cents=20000
                ),
            ]
        )
        session.flush()
        session.add(
            InstallmentCharge(
                installment_id=installment.id, attempt=1, idempotency_key="k-1", status="failed"
            )
        )
    engine = make_engine(
        session_factory, SETTINGS, clock=clock, services={"sms_transport": transport}
    )
    engine.run_until_idle()
    clock.advance(days=1)  # 22:00 again: quiet hours hold it until 08:00
    engine.run_until_idle()
    assert transport.sent == []
    clock.advance(hours=10)  # 08:00 Pacific
    engine.run_until_idle()
    ((_, body, _),) = [s for s in transport.sent if "did not go through" in s[1]]
    with session_factory() as session:
        links = session.scalars(select(PaymentLink)).all()
    assert len(links) == 1 and links[0].url in body and "$200.00" in body
