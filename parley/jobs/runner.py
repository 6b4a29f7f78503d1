"""The loop that runs the timed jobs (SPEC §14): deferred SMS and installment charges.

All their state is in the database and every row is claimed before it is worked
(`parley.jobs.lease`), so a restart loses nothing and two runners never do one thing twice.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from parley.core.settings import Settings
from parley.outreach.send import send_due
from parley.payments.charges import charge_due
from parley.sms.twilio import SmsTransport, make_transport

log = logging.getLogger(__name__)


class JobRunner:
    """A daemon thread that runs every job every `interval` seconds until stopped."""

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
            sent = send_due(self._factory, self._settings, transport=self._transport)
            return sent + charge_due(self._factory, self._settings)
        except Exception:  # a bad run must not end the loop; the next one retries
            log.exception("background job run failed")
            return 0

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self._interval)
