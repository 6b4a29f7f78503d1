"""The one claim mechanism every timed job uses (SPEC §14 "timed work is one engine").

A due row is *claimed* by a conditional UPDATE in its own transaction before any external call
(Twilio, Stripe): the UPDATE names the state the row must still be in, so of two workers (two
processes, or a run overlapping a slow one) exactly one sees `rowcount == 1` and goes on. A claim
records when it was taken; a claim older than the lease (`PARLEY_JOB_LEASE_SECONDS`, longer than
any one job's external call may take) belongs to a worker that died, and each job decides what a
stale claim means (re-send with the same idempotency key, or give up).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update
from sqlalchemy.orm import Session, sessionmaker

from parley.core.db import transaction

# Rows one run looks at; the next run takes the rest.
BATCH = 100


def stale_before(now: datetime, lease_seconds: float) -> datetime:
    """Claims taken before this were taken by a worker that is gone."""
    return now - timedelta(seconds=lease_seconds)


def claimed(session: Session, statement: Update) -> bool:
    """Run one conditional UPDATE; True when it moved exactly one row (this worker won)."""
    result: Any = session.execute(statement.execution_options(synchronize_session=False))
    return bool(result.rowcount == 1)


def run_claimed(
    factory: sessionmaker[Session],
    due: Iterable[int],
    claim: Callable[[Session, int], bool],
    work: Callable[[int], object],
) -> int:
    """For each due id: claim it in its own committed transaction, then do the work (which
    opens its own transactions around the external call). Returns how many this run claimed.

    This function owns its units of work because the claim must commit before the external
    call: that commit is what keeps a second worker away."""
    taken = 0
    for row_id in due:
        with transaction(factory) as session:
            won = claim(session, row_id)
        if not won:
            continue
        taken += 1
        work(row_id)
    return taken
