"""Quiet hours (Reg F 1006.6(b)(1)(i), SPEC §7): when a message the debtor did not just ask for
may go out.

A time is convenient only if it is inside 08:00-21:00 local time in *every* candidate zone of the
debtor: the account's time zone, the zones of its ZIP and the zones of the phone's area code. The
regulation's safe harbour for unknown or conflicting signals is taken as the rule, so a debtor
whose signals disagree gets the narrower window; with no signal at all every US zone counts.

The window is half-open, [08:00, 21:00): a message at 21:00:00 is already "after 9 p.m." for a
debtor whose phone shows 21:00, and the few seconds of delivery must not push it past the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parley.core.zones import US_ZONES, phone_timezones

WINDOW_START = time(8, 0)
WINDOW_END = time(21, 0)
# A window start is searched this many local days ahead; the intersection of any real set of
# zones recurs daily, so a week is far more than needed and bounds the work.
_SEARCH_DAYS = 8


class NoAllowedTime(ValueError):
    """The candidate zones share no convenient minute at all (never true for US zones)."""


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def known_zones(names: Iterable[str]) -> list[str]:
    """The names that are real IANA zones, sorted and unique (bad data is ignored, not fatal)."""
    return sorted({name for name in names if name and _zone(name) is not None})


def candidate_zones(
    account_timezone: str | None = None,
    zip_zones: Iterable[str] = (),
    phone: str | None = None,
) -> tuple[str, ...]:
    """Every zone the debtor may be in; all US zones when nothing places them."""
    names = list(zip_zones)
    if account_timezone:
        names.append(account_timezone)
    if phone:
        names.extend(phone_timezones(phone))
    zones = known_zones(names)
    return tuple(zones) if zones else US_ZONES


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; use timezone-aware UTC")
    return moment.astimezone(timezone.utc)


def _zones(names: Sequence[str]) -> list[ZoneInfo]:
    zones = [zone for zone in (_zone(name) for name in names) if zone is not None]
    return zones or [zone for zone in (_zone(name) for name in US_ZONES) if zone is not None]


def _inside(moment: datetime, zone: ZoneInfo) -> bool:
    local = moment.astimezone(zone).time()
    return WINDOW_START <= local < WINDOW_END


def is_allowed(now: datetime, zones: Sequence[str]) -> bool:
    """Whether `now` is inside 08:00-21:00 in every zone (unknown names are ignored; none known
    means all US zones)."""
    moment = _utc(now)
    return all(_inside(moment, zone) for zone in _zones(zones))


def _first_instant_at(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first UTC instant whose local wall time in `zone` on `day` is at or after `wall`.

    An ambiguous wall time (clocks going back) gives its earlier instant; a skipped one (clocks
    going forward) gives the moment of the jump, found by bisection between the two readings.
    """
    naive = datetime.combine(day, wall)
    readings = [naive.replace(tzinfo=zone, fold=fold).astimezone(timezone.utc) for fold in (0, 1)]
    low, high = min(readings), max(readings)
    if low.astimezone(zone).replace(tzinfo=None) == naive:
        return low
    # In a gap: local time jumps over `wall` somewhere in (low, high].
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def next_allowed(now: datetime, zones: Sequence[str]) -> datetime:
    """The first instant at or after `now` (UTC) that is convenient in every zone.

    The allowed set is an intersection of daily windows, so its earliest point after `now` is
    either `now` itself or the start (08:00) of one zone's window: only those are checked.
    """
    moment = _utc(now)
    resolved = _zones(zones)
    if all(_inside(moment, zone) for zone in resolved):
        return moment
    starts: set[datetime] = set()
    for zone in resolved:
        today = moment.astimezone(zone).date()
        for offset in range(-1, _SEARCH_DAYS):
            start = _first_instant_at(today + timedelta(days=offset), WINDOW_START, zone)
            if start > moment:
                starts.add(start)
    for start in sorted(starts):
        if all(_inside(start, zone) for zone in resolved):
            return start
    raise NoAllowedTime(f"no convenient time in {len(resolved)} zones within {_SEARCH_DAYS} days")
