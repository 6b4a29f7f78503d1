"""Candidate IANA time zones for a debtor, from their ZIP code or phone number (SPEC §7).

Both lookups use maintained data (the `zipcodes` and `phonenumbers` packages) rather than a table
of our own, and return every candidate so callers can apply the most restrictive contact window.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

import phonenumbers
import zipcodes
from phonenumbers import timezone as phone_timezone

# Every zone a US debtor can live in (states and territories), one per distinct set of rules.
# Used when nothing at all places a debtor: a time is then convenient only if it is convenient in
# all of them (the Reg F safe harbour, SPEC §7).
US_ZONES: tuple[str, ...] = (
    "America/New_York",
    "America/Detroit",
    "America/Indiana/Indianapolis",
    "America/Kentucky/Louisville",
    "America/Chicago",
    "America/Indiana/Knox",
    "America/North_Dakota/Center",
    "America/Denver",
    "America/Boise",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "America/Juneau",
    "America/Adak",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "America/St_Thomas",
    "Pacific/Guam",
    "Pacific/Saipan",
    "Pacific/Pago_Pago",
)
_ZIP5 = re.compile(r"\d{5}")
_UNKNOWN = "Etc/Unknown"
# USPS codes: the 50 states, DC, the territories and freely associated states, military mail.
_STATE_CODES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "AS",
        "GU",
        "MP",
        "PR",
        "VI",
        "FM",
        "MH",
        "PW",
        "AA",
        "AE",
        "AP",
    ]
)
# `zipcodes` ships no type hints; this is the shape of its lookup.
_zip_matching = cast("Callable[[str], list[dict[str, Any]]]", zipcodes.matching)


def zip_timezones(zip5: str) -> list[str]:
    """Sorted, unique zones of a 5-digit US ZIP; [] when it is malformed or unknown."""
    if not _ZIP5.fullmatch(zip5):
        return []
    zones = {str(entry["timezone"]) for entry in _zip_matching(zip5) if entry.get("timezone")}
    return sorted(zones)


def zip_state(zip5: str) -> str | None:
    """The USPS state code of a 5-digit US ZIP; None when it is malformed or unknown."""
    if not _ZIP5.fullmatch(zip5):
        return None
    states = [str(entry["state"]) for entry in _zip_matching(zip5) if entry.get("state")]
    return states[0] if states else None


def usps_state_codes() -> frozenset[str]:
    """Every state, district, territory and military code the ZIP data knows."""
    return _STATE_CODES


def phone_timezones(e164: str) -> list[str]:
    """Sorted, unique zones of an E.164 number; [] when it cannot be placed."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return []
    zones = set(phone_timezone.time_zones_for_number(number)) - {_UNKNOWN}
    return sorted(zones)
