"""What an import derives from a ZIP code (its time zones and state), for many rows at once.

`parley.core.zones.zip_timezones` / `zip_state` ask the `zipcodes` package one ZIP at a time, and
each question scans its whole table (milliseconds apiece): fine for one account, hours for a
portfolio. Here the table is read once per leading digit (a tenth of it, on first need) into a
small dict, with the same answers; `tests/accounts/test_zip_facts.py` holds the two to agreement.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, cast

import zipcodes

_ZIP5 = re.compile(r"\d{5}")
# `zipcodes` ships no type hints; this is the shape of its prefix lookup.
_similar_to = cast("Callable[[str], list[dict[str, Any]]]", zipcodes.similar_to)
_NOTHING: tuple[tuple[str, ...], str | None] = ((), None)


class ZipFacts:
    """ZIP -> (sorted candidate time zones, USPS state or None), loaded by leading digit."""

    def __init__(self) -> None:
        self._facts: dict[str, tuple[tuple[str, ...], str | None]] = {}
        self._loaded: set[str] = set()
        self._lock = threading.Lock()

    def lookup(self, zip5: str) -> tuple[tuple[str, ...], str | None]:
        """The ZIP's zones and state; no zones and None when it is malformed or unknown."""
        if not _ZIP5.fullmatch(zip5):
            return _NOTHING
        if zip5[0] not in self._loaded:
            self._load(zip5[0])
        return self._facts.get(zip5, _NOTHING)

    def _load(self, digit: str) -> None:
        with self._lock:
            if digit in self._loaded:
                return
            zones: dict[str, set[str]] = {}
            states: dict[str, str] = {}
            for entry in _similar_to(digit):
                code = str(entry["zip_code"])
                found = zones.setdefault(code, set())
                if entry.get("timezone"):
                    found.add(str(entry["timezone"]))
                if entry.get("state") and code not in states:
                    states[code] = str(entry["state"])
            for code, names in zones.items():
                self._facts[code] = (tuple(sorted(names)), states.get(code))
            self._loaded.add(digit)


ZIP_FACTS = ZipFacts()
