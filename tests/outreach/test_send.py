"""The outbound SMS path (SPEC §7) against a local stand-in of the Twilio REST API: the real
twilio library makes real HTTP requests, and the stand-in checks them the way Twilio would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from devstack.twilio_standin import (
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    TEST_FROM_NUMBER,
    TwilioStandIn,
    twilio_standin,
)
from parley.core.settings import Settings
from parley.core.zones import phone_timezones
from parley.outreach import quiet_hours
from parley.outreach import send as outbound
from parley.tables import AuditEvent, OutboundMessage, PhoneOptOut
from tests.support.accounts import make_account

UTC = timezone.utc
PHONE = "+14155550101"  # Los Angeles
DAY = datetime(2025, 6, 10, 19, 0, tzinfo=UTC)  # 12:00 in Los Angeles
NIGHT = datetime(2025, 6, 11, 6, 0, tzinfo=UTC)  # 23:00 in Los Angeles
STATEMENT = "Reply STOP to opt out"


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    with twilio_standin() as running:
        yield running


def twilio_settings(standin: TwilioStandIn, **extra: str) -> Settings:
    values = {
        "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": TEST_FROM_NUMBER,
        "PARLEY_TWILIO_API_URL": standin.url,
        "PARLEY_PUBLIC_URL": "https://parley.example",
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


def test_agent_reply_goes_through_the_twilio_rest_api(
    standin: TwilioStandIn, session_factory: sessionmaker[Session]
) -> None:
    settings = twilio_settings(standin)
    with session_factory.begin() as session:
        row = outbound.send_sms(session, settings, PHONE, "Hi, this is Dana.", "agent", now=DAY)
        assert row.status == "sent", row.error
        assert row.provider_id is not None and row.provider_id.startswith("SM")
        assert row.delivery_status == "queued"
    assert standin.rejected == []
    [request] = standin.sent
    assert request.path == f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages.json"
    assert request.params["To"] == PHONE
    assert request.params["From"] == TEST_FROM_NUMBER
    assert request.params["Body"] == f"Hi, this is Dana.\n{STATEMENT}"
    assert request.params["StatusCallback"] == "https://parley.example/sms/twilio/status"
    assert request.sid == row.provider_id


def test_messaging_service_is_used_when_configured(
    standin: TwilioStandIn, session_factory: sessionmaker[Session]
) -> None:
    settings = twilio_settings(
        standin, TWILIO_MESSAGING_SERVICE_SID="MG" + "1" * 32, TWILIO_FROM_NUMBER=""
    )
    with session_factory.begin() as session:
        assert outbound.send_sms(session, settings, PHONE, "Hi", "notice", now=DAY).status == "sent"
    [request] = standin.sent
    assert request.params["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in request.params


def test_wrong_credentials_are_refused_by_the_standin_and_recorded_as_failed(
    standin: TwilioStandIn, session_factory: sessionmaker[Session]
) -> None:
    settings = twilio_settings(standin, TWILIO_AUTH_TOKEN="not-the-token")
    with session_factory.begin() as session:
        row = outbound.send_sms(session, settings, PHONE, "Hi", "agent", now=DAY)
        assert row.status == "failed" and "20003" in (row.error or "")
    assert standin.sent == [] and len(standin.rejected) == 1


def test_twilio_unsubscribed_error_blocks_and_opts_out(
    standin: TwilioStandIn, session_factory: sessionmaker[Session]
) -> None:
    settings = twilio_settings(standin)
    magic = "+15005550009"  # non-geographic: every NANP zone is a candidate
    when = quiet_hours.next_allowed(DAY, phone_timezones(magic))
    with session_factory.begin() as session:
        row = outbound.send_sms(session, settings, magic, "Hi", "agent", now=when)
        assert row.status == "blocked"
    with session_factory() as session:
        opt_out = session.get(PhoneOptOut, magic)
        assert opt_out is not None and opt_out.opted_out


def test_local_mode_uses_the_outbox(session_factory: sessionmaker[Session]) -> None:
    settings = Settings(TWILIO_AUTH_TOKEN="only-a-token")  # no SID, no sender: local outbox
    with session_factory.begin() as session:
        row = outbound.send_sms(session, settings, PHONE, "Hi", "agent", now=DAY)
        assert (row.status, row.provider_id) == ("outbox", None)


def test_night_send_is_deferred_then_sent_by_the_job_through_twilio(
    standin: TwilioStandIn, session_factory: sessionmaker[Session]
) -> None:
    settings = twilio_settings(standin)
    with session_factory.begin() as session:
        row = outbound.send_sms(session, settings, PHONE, "Reminder", "reminder", now=NIGHT)
        assert row.status == "scheduled"
        first = row.send_after
    assert first == datetime(2025, 6, 11, 15, 0, tzinfo=UTC)  # 08:00 PDT
    assert standin.received == []
    assert outbound.send_due(session_factory, settings, now=first - timedelta(minutes=1)) == 0
    assert standin.received == []
    assert outbound.send_due(session_factory, settings, now=first) == 1
    assert [r.params["Body"] for r in standin.sent] == [f"Reminder\n{STATEMENT}"]
    with session_factory() as session:
        stored = session.scalars(select(OutboundMessage)).one()
        kinds = session.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)).all()
    assert stored.status == "sent"
    assert kinds == ["sms.deferred", "sms.sent"]


def test_collection_messages_stop_while_collection_is_paused(
    session_factory: sessionmaker[Session],
) -> None:
    """A dispute pauses collection: reminders and confirmations are refused, even ones already
    scheduled; an agent's reply still reaches the debtor (SPEC §10)."""
    local = Settings(TWILIO_AUTH_TOKEN="only-a-token")  # type: ignore[call-arg]
    with session_factory.begin() as session:
        account = make_account(account_ref="PAUSE-1", phone=PHONE, timezone="America/Los_Angeles")
        session.add(account)
        session.flush()
        account_id = account.id
        deferred = outbound.send_sms(
            session,
            local,
            PHONE,
            "Your payment is due.",
            "reminder",
            account_id=account_id,
            now=NIGHT,
        )
        assert deferred.status == "scheduled"
        deferred_id = deferred.id
        account.collection_paused = True
        reminder = outbound.send_sms(
            session,
            local,
            PHONE,
            "Your payment is due.",
            "reminder",
            account_id=account_id,
            now=DAY,
        )
        assert (reminder.status, reminder.error) == ("blocked", "collection_paused")
        agent = outbound.send_sms(
            session,
            local,
            PHONE,
            "A specialist is reviewing your dispute.",
            "agent",
            account_id=account_id,
            now=DAY,
        )
        assert agent.status == "outbox"
    outbound.send_due(session_factory, local, now=DAY + timedelta(days=1))
    with session_factory() as session:
        row = session.get(OutboundMessage, deferred_id)
        assert row is not None and (row.status, row.error) == ("blocked", "collection_paused")
