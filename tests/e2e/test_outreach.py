"""SPEC §14 end to end on a running stack (Rasa, action server, API) with the worker's engine
driven by a moved clock against the stack's database: an imported account with consent gets a
first contact by SMS (the Twilio stand-in) and by email (a real SMTP server on loopback) that
names nothing of the debt; the debtor replies by SMS, verifies and agrees a plan; a reminder
comes before the first due date; a dispute mid-cadence stops everything that followed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from devstack.stack import Stack, running_stack
from parley.core.clock import ManualClock
from parley.core.db import make_engine, make_session_factory
from parley.core.settings import Settings
from parley.email.transport import make_transport as make_email_transport
from parley.jobs.kinds import make_engine as make_job_engine
from parley.sms.twilio import make_transport as make_sms_transport
from parley.tables import Account, Installment, OutreachEvent, PaymentPlan
from tests.e2e.test_sms import Texter
from tests.email.conftest import SmtpServer, smtp_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.stack

PHONE = "+14155550177"
HEADER = (
    "account_id,first_name,last_name,date_of_birth,ssn_last4,zip,phone,email,timezone,creditor,"
    "original_creditor,account_last4,description,principal,interest,fees,payments_credits,"
    "itemization_date,policy,address_line1,city,state,contact_consent"
)
ROW = (
    "OUT-1,Olive,Outram,1980-05-06,5555,94107,+14155550177,olive@example.com,America/Los_Angeles,"
    "Bluebird Finance,Bluebird Card,6789,Credit card balance,1000.00,0.00,0.00,0.00,2025-01-01,"
    'default,1 Market St,San Francisco,CA,"sms,email"'
)
DEBT_WORDS = ("Bluebird", "$", "1,000", "6789", "Credit card")


@pytest.fixture(scope="module")
def outreach_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    accounts = tmp_path_factory.mktemp("outreach") / "accounts.csv"
    accounts.write_text(f"{HEADER}\n{ROW}\n")
    # Timed work only in this test's engine (the worker's code), with its clock moved.
    extra = {"PARLEY_JOBS_INTERVAL_SECONDS": "0"}
    with running_stack(240, extra_env=extra, extra_accounts=accounts, rasa_shards=1) as stack:
        yield stack


def _worker_settings(stack: Stack, smtp_url: str) -> Settings:
    env: dict[str, Any] = {
        key: value
        for key, value in stack.env.items()
        if key.startswith(("PARLEY_", "TWILIO_")) or key == "DATABASE_URL"
    }
    env.update(
        PARLEY_JOBS_INTERVAL_SECONDS=0,
        PARLEY_SMTP_URL=smtp_url,
        PARLEY_EMAIL_FROM="Parley Recovery Services <collections@parley.example>",
    )
    return Settings(**env)


def _yesterday_morning(now: datetime) -> datetime:
    """17:00 UTC (09:00 or 10:00 in San Francisco) yesterday: the first contact goes out before
    the debtor's real-time replies, as it would."""
    return datetime(now.year, now.month, now.day, 17, tzinfo=timezone.utc) - timedelta(days=1)


def _events(factory: sessionmaker[Session]) -> list[tuple[str, str, str | None]]:
    with factory() as session:
        rows = session.scalars(select(OutreachEvent).order_by(OutreachEvent.id))
        return [(e.step, str(e.outcome), e.reason) for e in rows]


def _sms_to(stack: Stack, phone: str) -> list[str]:
    assert stack.twilio is not None
    return [r.params.get("Body", "") for r in stack.twilio.sent if r.params.get("To") == phone]


def test_first_contact_reply_plan_reminder_and_a_dispute_stops_the_cadence(
    outreach_stack: Stack,
    smtp_server: SmtpServer,  # noqa: F811 - the fixture imported above
) -> None:
    stack = outreach_stack
    settings = _worker_settings(stack, smtp_server.url)
    db = make_engine(stack.database_url)
    factory = make_session_factory(db)
    clock = ManualClock(_yesterday_morning(datetime.now(timezone.utc)))
    services = {
        "sms_transport": make_sms_transport(settings),
        "email_transport": make_email_transport(settings),
    }
    worker = make_job_engine(factory, settings, clock=clock, services=services)
    try:
        worker.run_until_idle()
        # First contact on both consented channels, discreet, with the collector statement.
        [first_sms] = _sms_to(stack, PHONE)
        [email] = smtp_server.relay.received
        text = email.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        for body in (first_sms, text):
            assert "Olive" in body and "debt collector" in body
            for word in DEBT_WORDS:
                assert word not in body, (word, body)
        assert first_sms.rstrip().endswith("Reply STOP to opt out")
        assert email.rcpt_tos == ["olive@example.com"]

        # The debtor replies by SMS, verifies and agrees a plan on the running stack.
        with httpx.Client(base_url=stack.api_url, timeout=60.0) as api:
            phone = Texter(api, stack, PHONE)
            phone.say("got ur text, who is this")
            phone.say("Outram")
            phone.say("05/06/1980")
            verified = phone.say("94107")
            assert any("verified" in r for r in verified), verified
            offer = phone.say("i can do 200 a month")
            assert any("$200.00" in r for r in offer), offer
            agreed = phone.say("yes")
            assert any(r.startswith("Confirmed (plan #") for r in agreed), agreed
            with factory() as session:
                account = session.scalars(
                    select(Account).where(Account.account_ref == "OUT-1")
                ).one()
                plan = session.scalars(
                    select(PaymentPlan).where(PaymentPlan.account_id == account.id)
                ).one()
                dues = sorted(
                    i.due_date
                    for i in session.scalars(
                        select(Installment).where(Installment.plan_id == plan.id)
                    )
                )
            # The first payment is due at once (its link was just sent); the next one is the
            # first with a pre-due reminder.
            agreed_on = datetime.now(timezone.utc).date()
            next_due = next(
                d for d in dues if d - timedelta(days=3) > agreed_on + timedelta(days=1)
            )

            # The pre-due reminder goes three days before the next installment, in the morning.
            before = len(_sms_to(stack, PHONE))
            day = next_due - timedelta(days=3)
            clock.set(datetime(day.year, day.month, day.day, 17, tzinfo=timezone.utc))
            worker.run_until_idle()
            events = _events(factory)
            reminders = _sms_to(stack, PHONE)[before:]
            assert ("pre_due", "sent", None) in events, (events, reminders)
            assert any("$200.00" in r and "debt collector" in r for r in reminders), reminders

            # A dispute mid-cadence: collection pauses and the due-day reminder never goes.
            said = phone.say("wait this isnt even my debt, i never had a bluebird card")
            if any("?" in r and "disput" in r.lower() for r in said):
                said = phone.say("yes")
            with factory() as session:
                assert session.get(Account, account.id).collection_paused  # type: ignore[union-attr]
        before = len(_sms_to(stack, PHONE))
        clock.set(datetime(next_due.year, next_due.month, next_due.day, 17, tzinfo=timezone.utc))
        worker.run_until_idle()
        assert _sms_to(stack, PHONE)[before:] == [], _events(factory)
        assert ("due_day", "blocked", "collection_paused") in _events(factory)
        assert len(smtp_server.relay.received) == 1  # no email sent after the first contact
    finally:
        db.dispose()
