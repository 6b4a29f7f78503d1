"""Email as an outreach channel (SPEC §14): a cadence's first contact reaches a real SMTP server
on loopback with the collector statement, the unsubscribe line and headers, names nothing of the
debt, and once the address is unsubscribed the follow-ups are blocked with the reason."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.core.clock import ManualClock
from parley.email.optout import opt_out_address
from parley.email.transport import make_transport
from parley.jobs.kinds import make_engine
from parley.tables import Channel, OutboundMessage, OutreachEvent, PaymentPlan
from tests.email.conftest import SmtpServer, email_settings
from tests.support.accounts import make_account

UTC = timezone.utc


def test_first_contact_by_email_then_unsubscribe_blocks_the_follow_ups(
    session_factory: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings = email_settings(smtp_server.url)
    clock = ManualClock(datetime(2025, 6, 10, 17, 0, tzinfo=UTC))  # 10:00 in San Francisco
    with session_factory.begin() as session:
        account = make_account(
            phone=None,
            email="Maria.Garcia@Example.com",
            timezone="America/Los_Angeles",
            contact_consent=["email"],
        )
        session.add(account)
    engine = make_engine(
        session_factory,
        settings,
        clock=clock,
        services={"email_transport": make_transport(settings)},
    )
    engine.run_until_idle()

    [received] = smtp_server.relay.received
    assert received.rcpt_tos == ["maria.garcia@example.com"]
    message = received.message
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/" in message["List-Unsubscribe"]
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    for part in (text, html):
        assert "Parley Recovery Services is a debt collector." in part
        assert "unsubscribe" in part.lower()
        for named in ("Northwind", "$", "1,219", "4421", "Credit card"):
            assert named not in part  # a first contact names nothing of the debt
    with session_factory() as session:
        [row] = session.scalars(select(OutboundMessage)).all()
        assert (row.channel, str(row.status)) == (Channel.EMAIL, "sent")

    with session_factory.begin() as session:
        opt_out_address(session, settings, "maria.garcia@example.com")
    clock.advance(days=15)
    engine.run_until_idle()
    assert len(smtp_server.relay.received) == 1
    with session_factory() as session:
        follow_ups = [
            (e.step, str(e.outcome), e.reason)
            for e in session.scalars(select(OutreachEvent).order_by(OutreachEvent.id))
            if e.step == "no_reply"
        ]
    assert follow_ups == [("no_reply", "blocked", "opted_out")] * 3


def test_an_agreed_plan_emails_the_written_agreement_once_to_a_consenting_debtor(
    session_factory: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    """SPEC §14: the agreement is linked in the chat's confirmation and emailed where the
    debtor consented; not to an account without email consent, not while collection is paused,
    and once however often the worker runs."""
    settings = email_settings(smtp_server.url)
    now = datetime(2025, 6, 10, 17, 0, tzinfo=UTC)  # 10:00 in San Francisco
    clock = ManualClock(now)
    plans: dict[str, int] = {}
    with session_factory.begin() as session:
        for ref, consent, paused in (
            ("AGR-1", ["email"], False),
            ("AGR-2", ["sms"], False),
            ("AGR-3", ["email"], True),
        ):
            account = make_account(
                account_ref=ref,
                phone=None,
                email=f"{ref.lower()}@example.com",
                timezone="America/Los_Angeles",
                contact_consent=consent,
                collection_paused=paused,
            )
            session.add(account)
            session.flush()
            plan = PaymentPlan(
                account_id=account.id,
                kind="installments",
                status="agreed",
                total_cents=40000,
                balance_at_agreement_cents=40000,
                policy_name="default",
                timezone="America/Los_Angeles",
                agreed_at=now - timedelta(minutes=5),
            )
            session.add(plan)
            session.flush()
            plans[ref] = plan.id
    engine = make_engine(
        session_factory,
        settings,
        clock=clock,
        services={"email_transport": make_transport(settings)},
    )
    engine.run_until_idle()
    clock.advance(hours=1)
    engine.run_until_idle()

    agreements = [
        r for r in smtp_server.relay.received if "agreement" in str(r.message["Subject"]).lower()
    ]
    assert [r.rcpt_tos for r in agreements] == [["agr-1@example.com"]]
    message = agreements[0].message
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert f"plan #{plans['AGR-1']}" in text and "$400.00" in text
    assert "/documents/agreement/" in text
    assert "is a debt collector." in text and "unsubscribe" in text.lower()
    with session_factory() as session:
        outcomes = {
            (e.step, str(e.outcome), e.reason)
            for e in session.scalars(select(OutreachEvent))
            if e.step == "agreement" and e.outcome != "sending"
        }
    assert outcomes == {("agreement", "sent", None), ("agreement", "blocked", "collection_paused")}
