"""Redaction of card numbers and full SSNs before anything is stored, logged or sent to the NLU.

Card numbers: 13-19 digits, optionally grouped by single spaces, dashes or dots, that pass the
Luhn check (SPEC §9). Full SSNs: 3-2-4 digits with dashes or spaces, or 9 digits standing alone.
Digits that fail Luhn (phone numbers, amounts, dates) are left alone so the conversation still
makes sense.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CARD_PLACEHOLDER = "[card number removed]"
SSN_PLACEHOLDER = "[SSN removed]"

_DIGIT_RUN = re.compile(r"\d+(?:[ .-]\d+)*")
_SSN = re.compile(r"(?<![\d-])(?:\d{3}([- ])\d{2}\1\d{4}|\d{9})(?![\d-])")


@dataclass(frozen=True)
class Redacted:
    text: str
    card_numbers: int
    ssns: int

    @property
    def changed(self) -> bool:
        return bool(self.card_numbers or self.ssns)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _redact_cards(run: str) -> tuple[str, int]:
    """Replace every Luhn-valid 13-19 digit span made of whole digit groups within one run."""
    parts = re.split(r"([ .-])", run)
    groups, seps = parts[0::2], parts[1::2]
    found = 0
    out: list[str] = []
    i = 0
    while i < len(groups):
        match_end = None
        digits = ""
        for j in range(i, len(groups)):
            digits += groups[j]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_valid(digits):
                match_end = j
        if match_end is None:
            out.append(groups[i])
            if i < len(seps):
                out.append(seps[i])
            i += 1
            continue
        found += 1
        out.append(CARD_PLACEHOLDER)
        if match_end < len(seps):
            out.append(seps[match_end])
        i = match_end + 1
    return "".join(out), found


def redact(text: str) -> Redacted:
    cards = 0

    def _card(match: re.Match[str]) -> str:
        nonlocal cards
        replaced, found = _redact_cards(match.group(0))
        cards += found
        return replaced

    text = _DIGIT_RUN.sub(_card, text)
    text, ssns = _SSN.subn(SSN_PLACEHOLDER, text)
    return Redacted(text=text, card_numbers=cards, ssns=ssns)
