"""Time: "now" in UTC, and "today" where the debtor is (SPEC: UTC in storage, debtor-local in
messages).

Due dates, promise dates and quiet hours are calendar facts in the debtor's zone, so one function
turns an instant into the debtor's date; every module that needs "the debtor's today" calls it.
`Clock` lets timed work (jobs, cadences) be driven by tests that move time instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# US debtors; used only when neither the account nor its ZIP gives a zone.
FALLBACK_ZONE = "America/New_York"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return utcnow()


class ManualClock:
    """A clock tests set and move: `advance(hours=3)` instead of sleeping."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        self._now = start.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(timezone.utc)

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


@lru_cache(maxsize=512)
def zone_info(name: str) -> ZoneInfo | None:
    """The IANA zone, or None for a name that is not one (bad data is ignored, never fatal)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def debtor_zone(names: Iterable[str], now: datetime | None = None) -> str:
    """The zone the debtor's calendar is read in, from candidate zone names (the account's zone
    first, else its ZIP's): the westernmost when several, so "today" is never a date the debtor
    has not reached yet; `FALLBACK_ZONE` when none is valid."""
    moment = now or utcnow()
    valid: list[tuple[float, str]] = []
    for name in names:
        zone = zone_info(str(name))
        if zone is None:
            continue
        offset = moment.astimezone(zone).utcoffset()
        valid.append((offset.total_seconds() if offset else 0.0, str(name)))
    return min(valid)[1] if valid else FALLBACK_ZONE


def local_date(moment: datetime, zone_name: str | None) -> date:
    """The calendar date of `moment` in `zone_name` (the fallback zone when unknown)."""
    zone = zone_info(zone_name or FALLBACK_ZONE) or zone_info(FALLBACK_ZONE)
    return moment.astimezone(zone).date()
