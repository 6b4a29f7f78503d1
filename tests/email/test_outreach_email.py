"""Email as an outreach channel (SPEC §14): a cadence's first contact reaches a real SMTP server
on loopback with the collector statement, the unsubscribe line and headers, names nothing of the
debt, and once the address is unsubscribed the follow-ups are blocked with the reason."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.core.clock import ManualClock
from parley.email.optout import opt_out_address
from parley.email.transport import make_transport
from parley.jobs.kinds import make_engine
from parley.tables import Channel, OutboundMessage, OutreachEvent
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
