"""Candidate time zones from ZIP codes and phone numbers (SPEC §3, §7)."""

from __future__ import annotations

import pytest

from parley.core.zones import phone_timezones, zip_timezones


@pytest.mark.parametrize(
    ("zip5", "zones"),
    [
        ("94107", ["America/Los_Angeles"]),
        ("10027", ["America/New_York"]),
        ("60614", ["America/Chicago"]),
        ("85004", ["America/Phoenix"]),
        ("96813", ["Pacific/Honolulu"]),
        ("00000", []),
        ("9410", []),
        ("94107-1234", []),
        ("", []),
    ],
)
def test_zip_timezones(zip5: str, zones: list[str]) -> None:
    assert zip_timezones(zip5) == zones


@pytest.mark.parametrize(
    ("number", "zones"),
    [
        ("+14155550101", ["America/Los_Angeles"]),
        ("+12125550142", ["America/New_York"]),
        ("+15551230001", []),  # no geography: "Etc/Unknown" is dropped
        ("not a number", []),
        ("", []),
    ],
)
def test_phone_timezones(number: str, zones: list[str]) -> None:
    assert phone_timezones(number) == zones


def test_phone_timezones_are_sorted_and_unique() -> None:
    zones = phone_timezones("+18005550100")  # toll free: every US zone
    assert zones == sorted(set(zones))
    assert "Etc/Unknown" not in zones
