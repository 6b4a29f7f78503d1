"""In-process background job: sends the SMS that quiet hours deferred (SPEC §2, §7).

All state lives in `outbound_messages`, so a restart loses nothing: the next run picks up every
row whose `send_after` has passed. A row is claimed with a conditional update
(`scheduled` -> `sending`) in its own transaction before anything is sent, so two workers (API
replicas, or a run overlapping a slow one) can never send the same row twice. Opt-out and quiet
hours are checked again at send time: the debtor may have texted STOP since.

A row left in `sending` by a crash mid-send is not retried (Twilio may have sent it): after
`STALE_AFTER` it is marked `failed` with a note, for a person to look at.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from parley.db import transaction
from parley.models import OutboundMessage, utcnow
from parley.outbound import SmsTransport, dispatch, make_transport
from parley.settings import Settings

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=10)
BATCH = 100


def claim(factory: sessionmaker[Session], outbound_id: int, now: datetime) -> bool:
    """Move one due row from `scheduled` to `sending`; False if another worker got it first."""
    with transaction(factory) as session:
        result = session.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.id == outbound_id,
                OutboundMessage.status == "scheduled",
                OutboundMessage.send_after <= now,
            )
            .values(status="sending", sent_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


def fail_stale(factory: sessionmaker[Session], now: datetime) -> int:
    """Rows stuck in `sending` (a worker died mid-send) become `failed`, never re-sent."""
    with transaction(factory) as session:
        result = session.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.status == "sending",
                OutboundMessage.sent_at < now - STALE_AFTER,
            )
            .values(status="failed", error="interrupted while sending; not retried")
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def run_due(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    transport: SmsTransport | None = None,
    now: datetime | None = None,
    limit: int = BATCH,
) -> int:
    """Send every deferred SMS due at `now`; returns how many rows this run claimed."""
    now = now or utcnow()
    fail_stale(factory, now)
    with factory() as session:
        due = list(
            session.scalars(
                select(OutboundMessage.id)
                .where(OutboundMessage.status == "scheduled", OutboundMessage.send_after <= now)
                .order_by(OutboundMessage.send_after, OutboundMessage.id)
                .limit(limit)
            )
        )
    if not due:
        return 0
    transport = transport or make_transport(settings)
    claimed = 0
    for outbound_id in due:
        if not claim(factory, outbound_id, now):
            continue
        claimed += 1
        with transaction(factory) as session:
            row = session.get(OutboundMessage, outbound_id)
            if row is not None:
                dispatch(session, row, settings, transport, now)
    return claimed


class JobRunner:
    """A daemon thread that calls `run_due` every `interval` seconds until stopped."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        interval: float,
        transport: SmsTransport | None = None,
    ) -> None:
        self._factory = factory
        self._settings = settings
        self._interval = interval
        self._transport = transport
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="parley-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> int:
        try:
            if self._transport is None:
                self._transport = make_transport(self._settings)
            sent = run_due(self._factory, self._settings, transport=self._transport)
            # Installments due today are charged by the same loop (parley.payment_jobs).
            from parley import payment_jobs  # late: payment_jobs imports this module's peers

            return sent + payment_jobs.run_due(self._factory, self._settings)
        except Exception:  # a bad run must not end the loop; the next one retries
            log.exception("background job run failed")
            return 0

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self._interval)
