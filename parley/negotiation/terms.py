"""Understanding what a debtor says about money and time ("50 bucks a month", "the 15th").

`parse_offer` turns one message into a `DebtorOffer`; `parley.negotiation.consider_offer` decides
what to do with it. Number words go through `text2num` (maintained, no dependencies). Dates use
the small grammar below rather than `dateparser`, which read "the 1st" on January 31 as the next
January 31 and "the 15th" as a past date, and found dates in "a month" when searching free text:
all three are exactly what debtors write. Calendar dates ("6/15", "June 15th") come from the one
date grammar of `parley.core.dates`; the relative words are here. Dates are resolved against
`today` (the debtor's date) and always land on or after it.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from text_to_num import alpha2digit

from parley.core.dates import DateMention, Shape, find_dates
from parley.negotiation.schedules import Frequency, add_months


@dataclass(frozen=True)
class DebtorOffer:
    """What the debtor proposed; None means "not said" (the engine fills in the rest).

    `amount_cents` is per installment, or the whole payment when `lump_sum`. A lump sum with no
    amount means "all of it". `rest_frequency` marks "$200 now and the rest monthly": the
    frequency applies to whatever the down payment leaves.
    """

    amount_cents: int | None = None
    frequency: Frequency | None = None
    count: int | None = None
    down_payment_cents: int | None = None
    first_date: date | None = None
    lump_sum: bool = False
    rest_frequency: bool = False


MAX_COUNT = 999
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = (
    r"(mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)(?:day)?s?\b|"
    r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b"
)
# The calendar-date shapes a payment date may take (ISO and compact digits are not used here).
_PAYMENT_SHAPES: tuple[Shape, ...] = ("numeric", "day_month", "month_day", "month_slash_day")
_SMALL = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_ORDINALS = {"first": "1st", "second": "2nd", "third": "3rd"}
_UNITS = r"(payments?|installments?|months?|weeks?|days?|times|parts|checks|paychecks)"

# SMS shorthand and spelling variants, applied on word boundaries before anything else.
_SHORTHAND: list[tuple[str, str | Callable[[re.Match[str]], str]]] = [
    (r"\bevry\b|\bevery\b|\bevey\b|\bevrey\b", "every"),
    (r"\b(wks?|wkly)\b", lambda m: "weeks" if m.group(1) == "wks" else "week"),
    (r"\b(mnths?|mths?|mos)\b", "months"),
    (r"(?<=[\d/ ])mo\b", "month"),
    (r"\bper\s*mo\b", "per month"),
    (r"\b(pmts?|pymts?|paymnts?|instal+ments?|installs?)\b", "payments"),
    (r"\bbi[\s-]?weekly\b", "biweekly"),
    (r"\b(tmrw|tmr|tomoro+w|tomm?orr?ow)\b", "tomorrow"),
    (r"\b(dlrs|dollar|usd)\b", "dollars"),
    (r"\bbuck\b", "bucks"),
]

_NOW = r"(?:right\s+)?now|today|tonight|asap|right\s+away|immediately|up\s*front|down|to\s+start"
_MONEY = re.compile(
    r"(?P<cur>\$\s*)?(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d{1,2}))?(?!\d)"
    r"(?:\s*(?P<word>dollars|bucks))?"
)


@dataclass
class _Found:
    start: int
    end: int


@dataclass
class _Amount(_Found):
    cents: int
    marked: bool


@dataclass
class _Date(_Found):
    day: date
    now: bool = False
    recurring: bool = False  # the weekday of "every (other) friday": a start only if alone


@dataclass
class _Freq(_Found):
    frequency: Frequency


def normalize(text: str) -> str:
    """Lower-case, SMS shorthand expanded, number words as digits ("fifty" -> "50")."""
    value = text.lower().replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")
    value = re.sub(r"(?<=\d)(?=(?:mo|wk|wks|x)\b)", " ", value)
    for pattern, repl in _SHORTHAND:
        value = re.sub(pattern, repl, value)
    value = re.sub(r"\b(?:every|each)\s+other\s+week\b", "every 2 weeks", value)
    value = re.sub(
        r"\b(" + "|".join(_SMALL) + r")\b(?=\s+(?:equal\s+)?" + _UNITS + r")",
        lambda m: str(_SMALL[m.group(1)]),
        value,
    )
    value = re.sub(
        r"\bthe\s+(first|second|third)\b", lambda m: "the " + _ORDINALS[m.group(1)], value
    )
    value = str(alpha2digit(value, "en"))
    value = re.sub(r"\ba\s+(?=\d)", "", value)  # "a 100" (from "a hundred")
    # "$1.2k", "2k": thousands, in exact decimal arithmetic.
    value = re.sub(
        r"(\$?)(\d+(?:\.\d+)?)\s?k\b",
        lambda m: m.group(1) + str(int(Decimal(m.group(2)) * 1000)),
        value,
    )
    return re.sub(r"\s+", " ", value).strip()


def _next_day_of_month(today: date, day: int) -> date:
    """The next date (today or later) on day `day` of a month, clamped to shorter months."""
    for months in range(0, 3):
        month_start = add_months(today.replace(day=1), months)
        last = calendar.monthrange(month_start.year, month_start.month)[1]
        candidate = month_start.replace(day=min(day, last))
        if candidate >= today:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _next_month_day(today: date, month: int, day: int) -> date | None:
    for year in range(today.year, today.year + 9):  # Feb 29 may be years away
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue  # Feb 29 in a common year: try the next one
        if candidate >= today:
            return candidate
    return None


def _next_weekday(today: date, weekday: int, strictly_after: bool) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and strictly_after:
        ahead = 7
    return today + timedelta(days=ahead)


def _weekday_index(word: str) -> int:
    return next(i for i, name in enumerate(_WEEKDAYS) if name.startswith(word[:3]))


def _find_dates(
    text: str, today: date, taken: list[_Found]
) -> tuple[list[_Date], Frequency | None]:
    """Dates in the text; also the frequency "every <weekday>" (weekly) or "every other
    <weekday>" (biweekly) said."""
    found: list[_Date] = []
    recurring: Frequency | None = None

    def free(start: int, end: int) -> bool:
        return all(end <= t.start or start >= t.end for t in [*taken, *found])

    def add(
        m: re.Match[str] | DateMention, day: date | None, now: bool = False, every: bool = False
    ) -> None:
        start, end = (m.start, m.end) if isinstance(m, DateMention) else (m.start(), m.end())
        if free(start, end):
            taken.append(_Found(start, end))
            if day is not None:
                found.append(_Date(start, end, day, now, every))

    # Calendar dates, in the one date grammar; a past one is a birth date, not a payment date.
    for mention in find_dates(text, shapes=_PAYMENT_SHAPES):
        if mention.shape == "numeric" and "/" not in text[mention.start : mention.end]:
            continue  # "5 6 25" is figures, not a date
        if mention.year is None:
            day = _next_month_day(today, mention.month, mention.day)
        else:
            year = int(mention.year)
            exact = mention.with_year(year + 2000 if year < 100 else year)
            day = exact if exact is not None and exact >= today else None
        add(mention, day)
    for m in re.finditer(
        r"(?<!every )(?<!each )\b(?:the\s+)?(\d{1,2})(st|nd|rd|th)\b|\bon\s+the\s+(\d{1,2})\b",
        text,
    ):
        dom = int(m.group(1) or m.group(3))
        if 1 <= dom <= 31:
            add(m, _next_day_of_month(today, dom))
    for m in re.finditer(
        r"\b(?:(every|each)\s+(?:(other|2nd|second)\s+)?|(next|this|on|by|coming)\s+)?(?:"
        + _WEEKDAY
        + ")",
        text,
    ):
        word = m.group(4) or m.group(5)
        if m.group(1) and recurring is None:
            recurring = "biweekly" if m.group(2) else "weekly"
        day = _next_weekday(today, _weekday_index(word), strictly_after=m.group(3) == "next")
        add(m, day, every=m.group(1) is not None)
    for m in re.finditer(
        r"\bin\s+(?:about\s+|around\s+|roughly\s+|like\s+|maybe\s+|another\s+|approx\w*\s+)?"
        r"(\d{1,3})\s+(days?|weeks?|months?)\b|\b(\d{1,3})\s+(days?|weeks?|months?)\s+from\s+"
        r"(?:now|today)\b",
        text,
    ):
        n, unit = int(m.group(1) or m.group(3)), m.group(2) or m.group(4)
        if unit.startswith("day"):
            add(m, today + timedelta(days=n))
        elif unit.startswith("week"):
            add(m, today + timedelta(days=7 * n))
        else:
            add(m, add_months(today, n))
    for m in re.finditer(r"\bin\s+a\s+(week|month)\b|\bnext\s+(week|month)\b", text):
        unit = m.group(1) or m.group(2)
        add(m, today + timedelta(days=7) if unit == "week" else add_months(today, 1))
    for m in re.finditer(r"\bend\s+of\s+(?:the\s+)?month\b", text):
        last = calendar.monthrange(today.year, today.month)[1]
        add(m, today.replace(day=last))
    for m in re.finditer(r"\btomorrow\b", text):
        add(m, today + timedelta(days=1))
    for m in re.finditer(r"\b(?:" + _NOW + r")\b", text):
        add(m, today, now=True)
    return found, recurring


def _find_frequencies(text: str, taken: list[_Found]) -> list[_Freq]:
    patterns: list[tuple[str, Frequency]] = [
        (
            r"\b(?:every|each|per|a|/)\s*2\s*weeks\b|\bbiweekly\b|\bfortnight(?:ly)?\b|"
            r"\btwice\s+(?:a|per|each)\s+month\b|\b2\s*(?:x|times)\s+(?:a|per)\s+month\b|"
            r"\bevery\s+2nd\s+week\b|"
            # US paychecks are most often every other week.
            r"\b(?:every|each|per|a)\s+(?:pay\s?check|pay\s?day)\b",
            "biweekly",
        ),
        (r"\bweekly\b|(?:\b(?:a|per|each|every)\s+|/\s*)week\b", "weekly"),
        (r"\bmonthly\b|(?:\b(?:a|per|each|every)\s+|/\s*)month\b", "monthly"),
    ]
    found: list[_Freq] = []
    for pattern, frequency in patterns:
        for m in re.finditer(pattern, text):
            if all(m.end() <= t.start or m.start() >= t.end for t in taken):
                taken.append(_Found(m.start(), m.end()))
                found.append(_Freq(m.start(), m.end(), frequency))
    return sorted(found, key=lambda f: f.start)


def _find_count(text: str, taken: list[_Found]) -> tuple[int | None, Frequency | None]:
    """ "6 payments", "in 6 installments", "over 6 months" (6 monthly), "6 x $50"."""
    m = re.search(
        r"\b(?:(?:over|for|across)\s+(?:the\s+next\s+)?(\d{1,3})\s+(months|weeks)"
        r"|(?:in|within)\s+(\d{1,3})\s+(months))\b",
        text,
    )
    if m:
        taken.append(_Found(m.start(), m.end()))
        # "in 6 months" is a plan; "in 2 weeks" stays a date (see _find_dates).
        unit: Frequency = "monthly" if (m.group(2) or m.group(4)) == "months" else "weekly"
        return min(int(m.group(1) or m.group(3)), MAX_COUNT), unit
    m = re.search(r"\b(\d{1,3})\s+(?:equal\s+|monthly\s+|weekly\s+|biweekly\s+)?"
                  r"(?:payments?|parts|times|checks|paychecks)\b", text)  # fmt: skip
    if m:
        taken.append(_Found(m.start(1), m.end(1)))
        return min(int(m.group(1)), MAX_COUNT), None
    m = re.search(r"\b(\d{1,3})\s*x\s*(?=\$?\d)", text)
    if m:
        taken.append(_Found(m.start(), m.end()))
        return min(int(m.group(1)), MAX_COUNT), None
    return None, None


_IGNORED = re.compile(
    r"\b(?:zip(?:\s*code)?|postal\s+code|dob|date\s+of\s+birth|born(?:\s+on|\s+in)?|birthday|"
    r"ssn|social(?:\s+security)?(?:\s+number)?|account(?:\s+number)?|acct|phone|number|#)"
    r"\s*(?:is|was|:)?\s*#?[\d/\-. ]*\d"
    r"|\b\d{3}[-. ]\d{3}[-. ]\d{4}\b|\b\d{3}-\d{2}-\d{4}\b|\d+(?:\.\d+)?\s*%"
)
_YEAR_BEFORE = re.compile(r"\b(?:in|since|of|by|until|till|from|year|back)\s*$")


def _find_amounts(text: str, taken: list[_Found]) -> list[_Amount]:
    found: list[_Amount] = []
    for m in _MONEY.finditer(text):
        if not all(m.end("num") <= t.start or m.start("num") >= t.end for t in taken):
            continue
        digits = m.group("num").replace(",", "")
        marked = bool(m.group("cur") or m.group("word") or m.group("frac") or "," in m.group("num"))
        if not marked:
            if len(digits) >= 5:
                continue  # a ZIP code or an account number, not money
            if (
                len(digits) == 4
                and 1900 <= int(digits) <= 2100
                and _YEAR_BEFORE.search(text[: m.start()])
            ):
                continue  # "in 2025"
        cents = int(Decimal(digits + "." + (m.group("frac") or "0").ljust(2, "0")) * 100)
        if cents > 0:
            found.append(_Amount(m.start(), m.end(), cents, marked))
    return found


# "half now and half next month", "a third each month": the balance in equal parts, so a count
# of payments. "Third" alone is a day ("on the third"), so only "a/one third" is a fraction.
_FRACTION = re.compile(r"\bhalf\b|\b(?:a|one)\s+(third|quarter|fourth)\b", re.I)
_PARTS = {"third": 3, "quarter": 4, "fourth": 4}
# ... and only when said with a time ("half now", "a third each month"): "would you take half?"
# is a settlement question, not two payments.
_PARTS_IN_TIME = re.compile(
    r"\b(?:now|today|months?|weeks?|each|every|next|rest|other|remainder|then)\b", re.I
)


def parse_offer(text: str, today: date) -> DebtorOffer | None:
    """What the debtor offers in `text`, or None when it says nothing about money or time."""
    fraction = _FRACTION.search(text) if _PARTS_IN_TIME.search(text) else None
    parts = (_PARTS[fraction.group(1).lower()] if fraction.group(1) else 2) if fraction else None
    if fraction is not None:
        text = _FRACTION.sub(" part ", text)
    norm = normalize(text)
    taken: list[_Found] = [_Found(m.start(), m.end()) for m in _IGNORED.finditer(norm)]
    count, count_frequency = _find_count(norm, taken)
    dates, every_weekday = _find_dates(norm, today, taken)
    frequencies = _find_frequencies(norm, taken)
    amounts = _find_amounts(norm, taken)
    rest = re.search(r"\b(?:the\s+)?(?:rest|remainder|remaining|balance)\b", norm) is not None
    lump = (
        re.search(
            r"\bin\s+full\b|\ball\s+of\s+it\b|\bthe\s+(?:full|whole|entire)\s+(?:amount|balance|"
            r"thing|debt)\b|\bthe\s+whole\s+thing\b|\bpay\s+(?:it\s+)?(?:all|off)\b|\blump\b|"
            r"\ball\s+at\s+once\b|\bone[\s-]time\b|\bsingle\s+payment\b|\b1\s+payment\b",
            norm,
        )
        is not None
    )

    frequency: Frequency | None = frequencies[0].frequency if frequencies else None
    if every_weekday is not None and frequency is None:
        frequency = every_weekday
    if count_frequency is not None and frequency is None:
        frequency = count_frequency

    down: int | None = None
    per_period: int | None = None
    others: list[_Amount] = []
    for amount in amounts:
        after = norm[amount.end : amount.end + 16]
        is_down = re.match(r"\s*(?:(?:dollars|bucks)\s*)?(?:" + _NOW + r")\b", after)
        if is_down and down is None and (len(amounts) > 1 or rest):
            down = amount.cents
        else:
            others.append(amount)
    if others and frequency is not None:
        # The amount nearest before the frequency phrase is the installment.
        anchor = frequencies[0].start if frequencies else len(norm)
        before = [a for a in others if a.end <= anchor]
        per_period = (before[-1] if before else others[0]).cents
    elif others:
        per_period = others[0].cents

    first_date: date | None = None
    # "$60 every other friday, starting the 11th": the date said, not the weekday repeated.
    real_dates = [d for d in dates if not d.now and not d.recurring] or [
        d for d in dates if not d.now
    ]
    if real_dates:
        first_date = real_dates[0].day
    elif dates and down is None and (per_period is not None or lump):
        first_date = dates[0].day  # "I can pay 200 today"; "now" alone offers nothing

    if parts is not None and count is None and per_period is None and down is None:
        count = parts
        if frequency is None and re.search(r"\bmonths?\b", norm):
            frequency = "monthly"
        elif frequency is None and re.search(r"\b2 weeks\b", norm):
            frequency = "biweekly"  # "half now and the rest in 2 weeks"
        elif frequency is None and re.search(r"\bweeks?\b", norm):
            frequency = "weekly"
        if any(d.now for d in dates):
            first_date = today  # "half now"
    if count == 1:
        lump, count = True, None
    is_lump = (
        per_period is not None
        and frequency is None
        and count is None
        and down is None
        and (lump or first_date is not None)
    ) or (lump and per_period is None and frequency is None and count is None)
    if count is not None and count < 1:
        count = None
    said_nothing = per_period is None and frequency is None and count is None and down is None
    if said_nothing and first_date is None and not lump:
        return None
    return DebtorOffer(
        amount_cents=per_period,
        frequency=frequency,
        count=count,
        down_payment_cents=down,
        first_date=first_date,
        lump_sum=is_lump,
        rest_frequency=rest and down is not None and frequency is not None,
    )


# --- refusals --------------------------------------------------------------------------------

# "I can't pay all that", "no way", "not 50": a refusal is never read as acceptance (SPEC §6).
_REFUSAL = re.compile(
    r"\b(?:can'?t|cant|cannot|can not|won'?t|wont|couldn'?t|unable|not able|no way|nope|nah|"
    r"impossible|too (?:much|high|steep|expensive)|don'?t have|dont have|do not have|"
    r"more than i (?:can|could) (?:manage|afford|pay|do|handle)|out of (?:my|our) (?:reach|budget)|"
    r"not (?:pay|do|afford|now|today|right now|that|all)|never|no(?:,|\.|!|\s*$))",
    re.I,
)
# Where a refused clause ends and the debtor's own terms may start: punctuation or a contrast
# ("can't do 50 but I can do 30", "too much, what about 40").
_TURN = re.compile(
    r"[.,;!?]|\b(?:but|however|though|tho|instead|rather|how about|what about|maybe|what if)\b",
    re.I,
)


# A question about the figures ("why is it 904??", "is this $300 for the card?") holds no offer;
# a question that proposes ("what about 6500?", "can I do 50 a month?") does.
_ASKS_ABOUT = re.compile(
    r"^\W*(?:why|how come|what(?:'?s| is| are| was)|is (?:it|this|that))\b", re.I
)
_PROPOSES = re.compile(
    r"\b(?:what about|how about|can i|could i|can we|could we|would you|will you|if i|i can|"
    r"i could|i'?ll)\b",
    re.I,
)


def proposed_terms(text: str, today: date) -> DebtorOffer | None:
    """The terms the debtor proposes in `text`, if any: `parse_offer`, except that a date alone
    is no offer ("are you open on saturdays?") and neither are figures asked about."""
    offer = parse_offer(text, today)
    if offer is None or not (
        offer.amount_cents or offer.count or offer.frequency or offer.lump_sum
    ):
        return None
    if _ASKS_ABOUT.search(text) and not _PROPOSES.search(text):
        return None
    return offer


# "I can't start until the 20th", "not before Jan 5": a later start, not a refusal.
_LATER_START = re.compile(
    r"\b(?:(?:i\s+)?(?:can'?t|cant|cannot|can not|won'?t|wont|couldn'?t|unable to|not able to)\s+"
    r"(?:start|begin|pay|make (?:a |the |any )?payments?|do (?:it|that|anything))"
    r"(?:\s+(?:paying|payments?|it|that|anything))?\s+(?:until|till|til|'?til|before)|"
    r"not\s+(?:until|till|til|before))\b",
    re.I,
)


def later_start(text: str) -> str:
    """The message with "can't start until X" said as "starting X" (what it offers)."""
    return _LATER_START.sub("starting", text.replace("\u2019", "'"))


def is_refusal(text: str) -> bool:
    """Whether the message says no to what was offered ("I can't pay all that"); "I can't
    start until the 20th" is a later start, not a no."""
    return _REFUSAL.search(later_start(text)) is not None


def without_refusals(text: str) -> str:
    """The message with every refused clause taken out ("no, I can't do 50, maybe 30" gives
    ", maybe 30"): what is left may still hold the debtor's own terms."""
    plain = later_start(text)
    out: list[str] = []
    position = 0
    for refusal in _REFUSAL.finditer(plain):
        if refusal.start() < position:
            continue
        out.append(plain[position : refusal.start()])
        if plain[refusal.end() - 1] in ".,!":  # a bare "no." is its own clause
            position = refusal.end()
            continue
        end = _TURN.search(plain, refusal.end())
        position = end.start() if end is not None else len(plain)
    out.append(plain[position:])
    return "".join(out)
