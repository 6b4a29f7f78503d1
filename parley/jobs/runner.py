"""The loop that drives the job engine (SPEC §14): `parley worker` runs it in its own process.

Every job is a row (parley.jobs.engine) and every row is claimed before it is worked, so a
restart loses nothing and two runners never do one thing twice. The API can also run this loop
in a thread for local development (`PARLEY_JOBS_INTERVAL_SECONDS` > 0, never with
`PARLEY_ENV=production`: there the API replicas run no timed work and the worker service does).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from parley.core.clock import Clock
from parley.core.settings import Settings
from parley.jobs.engine import Engine
from parley.jobs.kinds import make_engine
from parley.sms.twilio import SmsTransport, make_transport

log = logging.getLogger(__name__)


class JobRunner:
    """Runs the engine every `interval` seconds until stopped (a daemon thread, or `loop`)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        interval: float,
        transport: SmsTransport | None = None,
        *,
        clock: Clock | None = None,
        services: dict[str, object] | None = None,
    ) -> None:
        self._settings = settings
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        merged: dict[str, object] = dict(services or {})
        if transport is not None:
            merged["sms_transport"] = transport
        self.engine: Engine = make_engine(factory, settings, clock=clock, services=merged)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self.loop, name="parley-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> int:
        """Plan and run what is due now; returns how many jobs ran."""
        try:
            if "sms_transport" not in self.engine.services:
                self.engine.services["sms_transport"] = make_transport(self._settings)
            return self.engine.tick()
        except Exception:  # a bad run must not end the loop; the next one retries
            log.exception("background job run failed")
            return 0

    def loop(self) -> None:
        while not self._stop.is_set():
            ran = self.run_once()
            # A full batch means more is due: go again at once instead of waiting.
            if ran < self._settings.job_batch_size:
                self._stop.wait(self._interval)

    def request_stop(self) -> None:
        self._stop.set()
