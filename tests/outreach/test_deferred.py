"""The deferred-message job (SPEC §7): quiet hours at send time, claims, restarts."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from parley.core.db import transaction
from parley.core.settings import Settings
from parley.core.zones import phone_timezones
from parley.jobs import lease
from parley.jobs import runner as jobs
from parley.outreach import quiet_hours
from parley.outreach import send as outbound
from parley.sms import optout
from parley.sms.twilio import SendResult
from parley.tables import OutboundMessage

UTC = timezone.utc
PHONE = "+12125550142"  # a New York number (area code 212)
SETTINGS = Settings(PARLEY_JOBS_INTERVAL_SECONDS=0)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, to: str, body: str) -> SendResult:
        self.sent.append((to, body))
        return SendResult("sent", f"SM{len(self.sent):032x}", "queued")


def test_deferred_message_is_sent_at_the_first_allowed_time_and_not_before(
    session_factory: sessionmaker[Session],
) -> None:
    transport = Recorder()
    late = datetime(2025, 3, 8, 3, 30, tzinfo=UTC)  # 22:30 in New York, Saturday before DST
    with session_factory.begin() as session:
        row = outbound.send_sms(
            session,
            SETTINGS,
            PHONE,
            "Your plan is confirmed.",
            "confirmation",
            now=late,
            transport=transport,
        )
        assert row.status == "scheduled"
        outbound_id = row.id
    first = datetime(2025, 3, 8, 13, 0, tzinfo=UTC)  # 08:00 EST
    with session_factory() as session:
        stored = session.get(OutboundMessage, outbound_id)
        assert stored is not None and stored.send_after == first
    # Every run before the first allowed minute sends nothing.
    for now in (
        late,
        late + timedelta(hours=4),
        first - timedelta(minutes=1),
        first - timedelta(seconds=1),
    ):
        assert outbound.send_due(session_factory, SETTINGS, transport=transport, now=now) == 0
    assert transport.sent == []
    assert outbound.send_due(session_factory, SETTINGS, transport=transport, now=first) == 1
    assert transport.sent == [(PHONE, "Your plan is confirmed.\nReply STOP to opt out")]
    # Once sent, never again.
    assert (
        outbound.send_due(
            session_factory, SETTINGS, transport=transport, now=first + timedelta(hours=1)
        )
        == 0
    )
    with session_factory() as session:
        stored = session.get(OutboundMessage, outbound_id)
        assert stored is not None
        assert (stored.status, stored.sent_at, stored.provider_id) == (
            "sent",
            first,
            "SM" + "0" * 31 + "1",
        )


def test_a_row_due_at_a_forbidden_time_is_rescheduled_not_sent(
    session_factory: sessionmaker[Session],
) -> None:
    # Scheduled by something else for 07:00 New York time: the job re-checks quiet hours.
    transport = Recorder()
    early = datetime(2025, 7, 1, 11, 0, tzinfo=UTC)  # 07:00 EDT
    with session_factory.begin() as session:
        session.add(OutboundMessage(to=PHONE, body="x", kind="reminder", send_after=early))
    assert outbound.send_due(session_factory, SETTINGS, transport=transport, now=early) == 1
    assert transport.sent == []
    with session_factory() as session:
        row = session.scalars(select(OutboundMessage)).one()
    assert (row.status, row.send_after) == ("scheduled", datetime(2025, 7, 1, 12, 0, tzinfo=UTC))


def test_a_claimed_row_is_not_sent_by_a_second_worker(
    session_factory: sessionmaker[Session],
) -> None:
    now = datetime(2025, 7, 1, 16, 0, tzinfo=UTC)
    with session_factory.begin() as session:
        session.add(OutboundMessage(to=PHONE, body="x", kind="reminder", send_after=now))
        session.flush()
    with session_factory() as session:
        outbound_id = session.scalars(select(OutboundMessage.id)).one()
    assert claim(session_factory, outbound_id, now)
    assert not claim(session_factory, outbound_id, now)
    transport = Recorder()
    assert outbound.send_due(session_factory, SETTINGS, transport=transport, now=now) == 0
    assert transport.sent == []
    # A worker that died mid-send leaves "sending": after a while it is failed, never re-sent.
    outbound.send_due(session_factory, SETTINGS, transport=transport, now=now + timedelta(hours=1))
    with session_factory() as session:
        row = session.get(OutboundMessage, outbound_id)
    assert row is not None and row.status == "failed" and transport.sent == []


def claim(factory: sessionmaker[Session], outbound_id: int, now: datetime) -> bool:
    """Take a row the way the sender does (`scheduled` -> `sending`), as a first worker would."""
    with transaction(factory) as session:
        return lease.claimed(
            session,
            update(OutboundMessage)
            .where(OutboundMessage.id == outbound_id, OutboundMessage.status == "scheduled")
            .values(status="sending", sent_at=now),
        )


def test_opt_out_after_scheduling_blocks_the_send(session_factory: sessionmaker[Session]) -> None:
    transport = Recorder()
    late = datetime(2025, 7, 2, 2, 0, tzinfo=UTC)  # 22:00 EDT
    with session_factory.begin() as session:
        row = outbound.send_sms(
            session, SETTINGS, PHONE, "Reminder", "reminder", now=late, transport=transport
        )
        assert row.status == "scheduled"
    with session_factory.begin() as session:
        optout.opt_out(session, PHONE, "keyword", "STOP")
    outbound.send_due(session_factory, SETTINGS, transport=transport, now=late + timedelta(days=1))
    assert transport.sent == []
    with session_factory() as session:
        assert session.scalars(select(OutboundMessage.status)).one() == "blocked"


def test_job_runner_thread_sends_due_rows(committed_factory: sessionmaker[Session]) -> None:
    # A number whose zone is inside its window for the next while, so the real-clock thread may
    # send it: New York, Los Angeles, Honolulu, Guam and London between them cover every hour
    # of the UTC day (the four US ones alone leave 11:00-13:00 UTC uncovered).
    now = datetime.now(UTC)
    phone = next(
        number
        for number in (
            "+12125550142",
            "+14155550101",
            "+18085550100",
            "+16715550100",
            "+442071838750",
        )
        if quiet_hours.is_allowed(now, phone_timezones(number))
        and quiet_hours.is_allowed(now + timedelta(minutes=5), phone_timezones(number))
    )
    transport = Recorder()
    with committed_factory.begin() as session:
        session.add(OutboundMessage(to=phone, body="x", kind="reminder", send_after=now))
    runner = jobs.JobRunner(committed_factory, SETTINGS, interval=0.05, transport=transport)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while not transport.sent and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()
    assert transport.sent == [(phone, "x")]
    with committed_factory() as session:
        assert session.scalars(select(OutboundMessage.status)).one() == "sent"
