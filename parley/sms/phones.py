"""Phone numbers as Parley stores them: E.164."""

from __future__ import annotations

import phonenumbers


def normalize_phone(raw: str) -> str | None:
    """E.164 for a sender number; None when it is not a phone number (short codes, junk)."""
    try:
        number = phonenumbers.parse(raw.strip(), "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
