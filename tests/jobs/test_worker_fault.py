"""A real `parley worker` killed mid-batch (SIGKILL) and restarted: nothing sent twice, nothing
lost (SPEC §14 "surviving restarts"). Local mode, so each first contact goes to the outbox."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from parley.outreach import quiet_hours
from parley.tables import Job, OutboundMessage, OutreachEvent
from tests.support.accounts import make_account

ROOT = Path(__file__).resolve().parents[2]
PARLEY = ROOT / ".venv" / "bin" / "parley"
ACCOUNTS = 60
# (phone, zone): one of them is inside 08:00-21:00 at any hour of the UTC day.
PLACES = [
    ("+1212555", "America/New_York"),
    ("+1415555", "America/Los_Angeles"),
    ("+1808555", "Pacific/Honolulu"),
    ("+1671555", "Pacific/Guam"),
    ("+4420718", "Europe/London"),
]


def _place() -> tuple[str, str]:
    now = datetime.now(timezone.utc)
    for phone, zone in PLACES:
        if quiet_hours.is_allowed(now, [zone]) and quiet_hours.is_allowed(
            now + timedelta(minutes=10), [zone]
        ):
            return phone, zone
    raise AssertionError("no zone is inside its window now")


def _start(db_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "PARLEY_ENV": "development",
        "PARLEY_JOBS_INTERVAL_SECONDS": "0.2",
        "PARLEY_JOB_LEASE_SECONDS": "5",
        "PARLEY_JOB_BATCH_SIZE": "3",
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_AUTH_TOKEN": "",
    }
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [str(PARLEY), "worker"],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _done(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(
            session.scalar(
                select(func.count(Job.id)).where(
                    Job.kind == "outreach.first_contact", Job.state == "done"
                )
            )
            or 0
        )


def _sent(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(
            session.scalar(
                select(func.count(OutreachEvent.id)).where(OutreachEvent.outcome == "sent")
            )
            or 0
        )


def test_worker_killed_mid_batch_sends_each_first_contact_once(
    db_url: str, committed_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    phone, zone = _place()
    with committed_factory.begin() as session:
        for n in range(ACCOUNTS):
            account = make_account(
                account_ref=f"F-{n}",
                phone=f"{phone}{n:04d}",
                timezone=zone,
                contact_consent=["sms"],
            )
            account.zip_timezones = [zone]
            session.add(account)
    log = tmp_path / "worker.log"
    worker = _start(db_url, log)
    try:
        deadline = time.monotonic() + 60
        while _sent(committed_factory) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
        at_kill = _sent(committed_factory)
        assert 0 < at_kill < ACCOUNTS, f"killed mid-batch ({at_kill} of {ACCOUNTS} sent)"
        worker = _start(db_url, log)
        # Until every message is out *and* every job done: the job the kill interrupted after
        # its send is finished only once its lease (5 s) runs out and the new worker takes it
        # (it finds the send already claimed and sends nothing).
        deadline = time.monotonic() + 120
        while (
            _sent(committed_factory) < ACCOUNTS or _done(committed_factory) < ACCOUNTS
        ) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(10)
    with committed_factory() as session:
        per_phone = session.execute(
            select(OutboundMessage.to, func.count(OutboundMessage.id)).group_by(OutboundMessage.to)
        ).all()
        states = dict(
            session.execute(
                select(Job.state, func.count(Job.id))
                .where(Job.kind == "outreach.first_contact")
                .group_by(Job.state)
            ).all()
        )
    assert len(per_phone) == ACCOUNTS, "every first contact went out (nothing lost)"
    assert {count for _, count in per_phone} == {1}, "no debtor got it twice"
    assert states == {"done": ACCOUNTS}, (states, log.read_text()[-2000:])
    # The no-reply follow-ups were planned once each, for later.
    with committed_factory() as session:
        follow_ups = session.scalar(
            select(func.count(Job.id)).where(Job.kind == "outreach.no_reply")
        )
    assert follow_ups == 3 * ACCOUNTS
