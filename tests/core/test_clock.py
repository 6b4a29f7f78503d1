"""The debtor's calendar (parley.core.clock): due dates are dates where the debtor is."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from parley.core.clock import FALLBACK_ZONE, ManualClock, debtor_zone, local_date
from parley.tables import Account


def test_today_is_the_debtors_date() -> None:
    account = Account(timezone="America/Los_Angeles", zip_timezones=[])
    late_evening_utc = datetime(2025, 3, 4, 5, 0, tzinfo=timezone.utc)  # 21:00 on Mar 3 in LA
    zone = debtor_zone(account.zone_names, late_evening_utc)
    assert local_date(late_evening_utc, zone) == date(2025, 3, 3)
    no_zone = Account(timezone=None, zip_timezones=["America/Chicago", "America/Denver"])
    assert debtor_zone(no_zone.zone_names) == "America/Denver"
    assert debtor_zone(Account(timezone=None, zip_timezones=[]).zone_names) == FALLBACK_ZONE
    assert debtor_zone(["Not/AZone"]) == FALLBACK_ZONE


def test_manual_clock_moves_only_when_told() -> None:
    start = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)
    clock = ManualClock(start)
    assert clock.now() == start
    assert clock.advance(hours=3) == start + timedelta(hours=3)
    assert clock.now() == start + timedelta(hours=3)
