"""Reading identity facts out of what a debtor types (SPEC §4): a date of birth, a ZIP and an
SSN last-4 anywhere in a message, and a last name once the rest is taken out.

Dates are taken out first, with the one date grammar (`parley.core.dates`), so that the year of
"03/14/1985" is never read as a last four; money is never an identity fact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from parley.verification.factors import find_date_of_birth, parse_ssn4, parse_zip

# Money is never an identity fact: "$1000" is not an SSN last 4.
_MONEY_SPAN = re.compile(
    r"\$\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:dollars|bucks|usd)\b", re.I
)
# An account's own numbers are not identity facts: "Account ending 6612" in a pasted letter
# is not an SSN last 4, "ref 94107" not a ZIP.
_ACCOUNT_NUMBER = re.compile(
    r"\b(?:ending(?:\s+in)?|ends\s+in|acct|account|card|ref(?:erence)?|invoice|policy|order)"
    r"\s*(?:no\.?|number|num|#|:)?\s*#?\s*\d{4,}\b",
    re.I,
)
_ZIP_SPAN = re.compile(r"(?<!\d)\d{5}(?:-\d{4})?(?!\d)")
_SSN4_SPAN = re.compile(r"(?<![\d-])\d{4}(?![\d-])")
# Words around a name that are not the name ("my last name is ...", "it's ...", "DOB").
_FILLER = re.compile(
    r"\b(?:my|the|last|family|sur|first|full|name'?s?|names|surname|is|it'?s|its|it|was|this|"
    r"i'?m|im|i|am|called|that'?s|thats|ok(?:ay)?|sure|yes|yeah|yep|hi|hello|hey|thanks|thank|you|please|pls|"
    r"and|dob|date|of|birth|born|on|zip|code|postal|ssn|social|security|number|last4|four|"
    r"digits?|here|in|lives?|at|birthday|bday|b-day|sir|ma'?am|sorry)\b",
    re.IGNORECASE,
)
# "my last name is Farrow, first name Dana": the first name said alongside is not the surname.
_GIVEN_NAME = re.compile(
    r"[,;]?\s*\b(?:and\s+)?(?:my\s+)?(?:first|given|christian)\s+name\s*(?:is|'s|:|=)?\s*"
    r"[^\W\d_]+(?:['’\-][^\W\d_]+)?",
    re.IGNORECASE,
)
# "farow... sorry farrow", "smtih i mean smith", "garica* garcia": what follows the correction.
_CORRECTION = re.compile(
    r"(?:\.{2,}|[,;:!-])?\s*\b(?:sorry|oops|i mean|i meant|my bad|correction|typo|no wait|"
    r"wait|actually)\b[\s,.:!-]*|\s\*\s*|\*\s+",
    re.IGNORECASE,
)
_NAME = re.compile(r"^[^\W\d_]+(?:['’.\-][^\W\d_]+)*\.?$")
MAX_NAME_WORDS = 4
# "hello, this is gordon now. my last name is mackey": the words the name is introduced by.
_NAME_MARKER = re.compile(
    r"\b(?:(?:last|family|sur)\s*name|surname)\s*(?:is|'s|:|=|-)?\s*", re.IGNORECASE
)
# Where one clause of a message ends ("farrow, and my birthday is ..."); "St. Clair" and
# "Mrs. Pembrook" keep their dot.
_CLAUSE_END = re.compile(
    r"[,;!?]|(?<!\bst)(?<!\bmr)(?<!\bmrs)(?<!\bms)(?<!\bdr)\.(?:\s+|$)|\s+(?:and|but|plus)\s+",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Facts:
    """What one message contained; `rest` is the text left once the numbers are taken out."""

    dob: date | None
    zip: str | None
    ssn4: str | None
    rest: str

    @property
    def zip_or_ssn4(self) -> str | None:
        return self.zip or self.ssn4


def extract_facts(text: str, *, today: date | None = None) -> Facts:
    """Find a date of birth, a ZIP and an SSN last-4 anywhere in a message.

    Dates are taken out first so that the year of "03/14/1985" is never read as a last four.
    """
    rest = _ACCOUNT_NUMBER.sub(" ", _MONEY_SPAN.sub(" ", text))
    dob: date | None = None
    found = find_date_of_birth(rest, today=today)
    if found is not None:
        dob, mention = found
        rest = rest[: mention.start] + " " + rest[mention.end :]
    zip5: str | None = None
    zip_match = _ZIP_SPAN.search(rest)
    if zip_match is not None:
        zip5 = parse_zip(zip_match[0])
        rest = rest[: zip_match.start()] + " " + rest[zip_match.end() :]
    ssn4 = parse_ssn4(rest)
    if ssn4 is not None:
        rest = _SSN4_SPAN.sub(" ", rest, count=1)
    return Facts(dob=dob, zip=zip5, ssn4=ssn4, rest=rest)


DATE_MASK = "[date removed]"
NUMBER_MASK = "[number removed]"
# Runs of 4 to 9 digits standing alone (ZIP, ZIP+4, SSN last 4, a mistyped SSN); a full SSN or
# card number was already removed by the redaction every message goes through.
_FACT_NUMBER = re.compile(r"(?<![\w$-])\d{4,5}(?:-\d{4})?(?![\d.,]\d)(?!\d)")


def mask_facts(text: str, *, today: date | None = None) -> str:
    """`text` with every date of birth, ZIP and SSN last-4 in it replaced by a marker.

    What a debtor types before verification is stored this way (SPEC §4, docs/decisions.md
    "Facts leave the tracker"): the transcript keeps the words, never the facts. Money is left
    alone ("$1200" is not a fact). Over-masking is preferred to a leak: any plausible date with a
    year, and any lone 4-5 digit group, goes.
    """
    spans: list[tuple[int, int, str]] = []
    shadow = _MONEY_SPAN.sub(lambda m: " " * len(m[0]), text)
    while (found := find_date_of_birth(shadow, today=today)) is not None:
        _dob, mention = found
        spans.append((mention.start, mention.end, DATE_MASK))
        shadow = (
            shadow[: mention.start] + " " * (mention.end - mention.start) + shadow[mention.end :]
        )
    spans += [(m.start(), m.end(), NUMBER_MASK) for m in _FACT_NUMBER.finditer(shadow)]
    masked = text
    for start, end, marker in sorted(spans, reverse=True):
        masked = masked[:start] + marker + masked[end:]
    return masked


def names_the_surname(text: str) -> bool:
    """The message introduces a surname in so many words ("... my last name is Mackey")."""
    return _NAME_MARKER.search(text) is not None


def extract_last_name(rest: str, *, with_other_facts: bool = False) -> str | None:
    """The last name left in a message once facts and filler words are removed, or None.

    "my last name is O'Brien" gives "O'Brien", and so does "hi, it's Sean. my last name is
    O'Brien" (the words after "last name" win). Anything with digits or too many words is not a
    name, so the debtor is asked again rather than checked against a garbled value. With
    `with_other_facts` (the message also held a date of birth or a ZIP) the name may be the
    first clause alone: "Farrow, and my birthday is 9/23/79 if you need that too".
    """
    markers = list(_NAME_MARKER.finditer(rest))
    if markers:
        after = _CLAUSE_END.split(rest[markers[-1].end() :], maxsplit=1)[0]
        named = _name_in(after)
        if named is not None:
            return named
    whole = _name_in(rest)
    if whole is not None or not with_other_facts:
        return whole
    for clause in _CLAUSE_END.split(rest):
        if clause.strip(" .-'\""):
            return _name_in(clause)
    return None


def _name_in(rest: str) -> str | None:
    corrected = rest
    if _CORRECTION.search(rest):
        # What follows the correction; "Winslow, sorry" corrects nothing: what comes before.
        parts = [part for part in _CORRECTION.split(rest) if part.strip(" ,.;:!-")]
        corrected = parts[-1] if parts else ""
    corrected = re.sub(r"\([^)]*\)", " ", corrected)  # "okonkwo (that's my surname)"
    cleaned = _FILLER.sub(" ", _GIVEN_NAME.sub(" ", corrected))
    words = [word.strip(' ,;:!?"()') for word in cleaned.split()]
    words = [word for word in words if word and word not in {"-", "'", "."}]
    if not words or len(words) > MAX_NAME_WORDS:
        return None
    if not all(_NAME.match(word) for word in words):
        return None
    return " ".join(words)
