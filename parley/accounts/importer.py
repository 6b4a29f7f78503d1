"""Loading accounts from the creditor's CSV (SPEC §3), streaming, in constant memory (SPEC §13).

The import is all-or-nothing: every problem in the file is reported with its line number, so an
operator fixes the file in one pass, and a half-loaded portfolio never exists. Files of a million
rows are normal, so the file is read once, record by record, and never held: each valid row is
turned into column values and written in batches of `BATCH_ROWS` (one indexed lookup of which
account_ids exist, then one executemany INSERT and one executemany UPDATE) inside a savepoint of
the caller's transaction. The first bad row stops the writing; the rest of the file is still
validated so that every error is reported, and the savepoint is rolled back, so a rejected file
leaves nothing behind. What the import keeps while it reads is the account_id -> line map that
catches a duplicate across the file (and the errors, if any).

A row takes one of two roads with one answer (`_Rows`): the common valid row goes straight from
its cells to the tuple the driver binds, with the work that depends on one value only (a date
of birth's keyed hash, a ZIP's hash, zones and state, a date's stored form...) done once per
distinct value; any row that road is not sure of is decided by `_Validator`, whose problems are
the ones reported. Tests hold the two roads to the same rows.

Verification factors are hashed here (HMAC, key prepared once per import) and never stored in
plain text. See docs/performance.md for the design and the measurements.
"""

from __future__ import annotations

import codecs
import csv
import io
import operator
import re
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, cast

import phonenumbers
from sqlalchemy import Dialect, Insert, Table, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session

from parley.accounts.zip_facts import ZIP_FACTS
from parley.core.clock import utcnow
from parley.core.money import MAX_CENTS, parse_money
from parley.core.zones import usps_state_codes
from parley.negotiation.policies import DEFAULT_POLICY
from parley.records import audit
from parley.tables import Account
from parley.verification.factors import FactorHasher, is_plausible_birth_date, last_name_key

MONEY_COLUMNS = ("principal", "interest", "fees", "payments_credits")
REQUIRED_COLUMNS = (
    "account_id",
    "first_name",
    "last_name",
    "date_of_birth",
    "zip",
    "creditor",
    "original_creditor",
    "account_last4",
    "description",
    "principal",
    "interest",
    "fees",
    "payments_credits",
    "itemization_date",
)
OPTIONAL_COLUMNS = (
    "ssn_last4",
    "phone",
    "email",
    "timezone",
    "policy",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "contact_consent",
    "validation_notice_sent",
)
# Every column in SPEC §3's order: what a generated or exported account file is written with.
SPEC_COLUMNS = (
    "account_id",
    "first_name",
    "last_name",
    "date_of_birth",
    "ssn_last4",
    "zip",
    "phone",
    "email",
    "timezone",
    "creditor",
    "original_creditor",
    "account_last4",
    "description",
    *MONEY_COLUMNS,
    "itemization_date",
    "policy",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "contact_consent",
    "validation_notice_sent",
)
# The channels a debtor can consent to first contact on (SPEC §14), and the column each needs.
CONSENT_CHANNELS = {"sms": "phone", "email": "email"}
# Column -> longest value the database holds.
_MAX_LENGTHS = {
    "account_id": 64,
    "first_name": 100,
    "last_name": 100,
    "email": 254,
    "timezone": 64,
    "creditor": 200,
    "original_creditor": 200,
    "policy": 64,
    "address_line1": 200,
    "address_line2": 200,
    "city": 100,
}
_REQUIRED = frozenset(REQUIRED_COLUMNS)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FOUR_DIGITS = re.compile(r"\d{4}")
_ZIP5 = re.compile(r"\d{5}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
# The common spelling of an amount; anything else goes through `parse_money` and its messages.
_PLAIN_MONEY = re.compile(r"(\d+)\.(\d\d)")
# A North American number written in E.164 (+1, then area code and exchange not starting 0/1),
# in ASCII digits: only those format back to the same text.
_NANP_E164 = re.compile(r"\+1[2-9]\d\d[2-9]\d{6}", re.ASCII)
# A carriage return not followed by a line feed ends a physical line too (old Mac files).
_BARE_CR = re.compile(r"(?<=\r)(?=[^\n])")
# Rows written per round trip: large enough that per-statement costs vanish, small enough that
# a batch's column values (about 2 KB a row) stay a few MB.
BATCH_ROWS = 2000


@dataclass(frozen=True)
class RowError:
    """One problem in the file; line 1 is the header."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did: counts on success, every error (and nothing written) otherwise."""

    file: str
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _NotUtf8(ValueError):
    """The file does not decode; `line` is where the first bad byte is."""

    def __init__(self, line: int) -> None:
        super().__init__(f"line {line}: file is not UTF-8 text")
        self.line = line


class _Malformed(ValueError):
    """The CSV itself cannot be read past `line` (an oversized field, a NUL byte...)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


Source = IO[str] | IO[bytes] | str | Path


def _text_lines(stream: IO[str]) -> Iterator[str]:
    """A text stream's lines as the csv module needs them: a BOM dropped, and a carriage
    return alone ending a line too (old Mac files), as `newline=""` splits them."""
    first = True
    for line in stream:
        if first:
            line, first = line.removeprefix("\ufeff"), False
        cr = line.find("\r")
        if cr == -1 or (cr == len(line) - 2 and line[-1] == "\n"):
            yield line
        else:
            yield from _BARE_CR.split(line)


def _bad_byte_line(handle: IO[bytes]) -> int | None:
    """The line (counting line feeds) of the first byte that is not UTF-8, read again from the
    start; None when the stream cannot be rewound."""
    try:
        handle.seek(0)
    except (OSError, ValueError):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    line_feeds = 0
    while chunk := handle.read(1 << 20):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            return line_feeds + exc.object[: exc.start].count(b"\n") + 1
        line_feeds += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return line_feeds + 1
    return None


def _decoded_lines(raw_lines: Iterable[bytes]) -> Iterator[str]:
    """Lines of UTF-8 bytes from a binary stream that is not a buffered file (BOM dropped); a
    line that does not decode raises `_NotUtf8` with its number (counting line feeds)."""
    for number, raw in enumerate(raw_lines, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _NotUtf8(number) from None
        cr = line.find("\r")
        if cr == -1 or (cr == len(line) - 2 and line[-1] == "\n"):
            yield line
        else:
            yield from _BARE_CR.split(line)


@dataclass
class _Opened:
    lines: Iterable[str]
    name: str
    raw: IO[bytes] | None = None  # the bytes under `lines`, to find an undecodable line

    def bad_byte_line(self) -> int | None:
        return _bad_byte_line(self.raw) if self.raw is not None else None


@contextmanager
def _opened(source: Source) -> Iterator[_Opened]:
    """The source's lines, read as they are needed, and a name for the audit event.

    A path (str or Path) is opened here and closed after; a stream is read where it stands and
    left open: a text stream as it is, a binary one (an upload) decoded as UTF-8. Buffered bytes
    are decoded by `io.TextIOWrapper` with `newline=""`, which splits lines exactly as the csv
    module wants them (CR, LF or CRLF), at C speed."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        with path.open("rb") as handle:
            yield _Opened(io.TextIOWrapper(handle, "utf-8-sig", newline=""), path.name, handle)
        return
    name = Path(str(getattr(source, "name", "<stream>"))).name
    if not isinstance(source.read(0), bytes):
        yield _Opened(_text_lines(cast(IO[str], source)), name)
    elif isinstance(source, io.BufferedIOBase):
        wrapper = io.TextIOWrapper(source, "utf-8-sig", newline="")
        try:
            yield _Opened(wrapper, name, cast(IO[bytes], source))
        finally:
            wrapper.detach()  # the caller's stream stays open
    else:
        yield _Opened(_decoded_lines(cast(IO[bytes], source)), name)


def _records(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the physical line each starts on (quoted fields may span lines).

    A record the csv module cannot read ends the file with `_Malformed` naming its line: what
    follows it cannot be told apart reliably, so nothing past it is guessed at."""
    reader = csv.reader(lines)
    start = 1
    strip = str.strip
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                reason = f"a field is longer than {csv.field_size_limit()} characters"
            else:
                reason = f"not readable as CSV ({exc})"
            raise _Malformed(start, reason) from None
        if any(map(strip, record)):
            yield start, record
        start = reader.line_num + 1


def _check_header(header: list[str]) -> tuple[list[str], list[str]]:
    """Normalised column names and the problems with them."""
    columns = [name.strip().lower() for name in header]
    problems = []
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    unknown = [name for name in columns if name not in known]
    if unknown:
        problems.append(f"unknown column(s): {', '.join(repr(name) for name in unknown)}")
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if duplicated:
        problems.append(f"duplicate column(s): {', '.join(duplicated)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        problems.append(f"missing required column(s): {', '.join(missing)}")
    return columns, problems


def _iso_date(value: str) -> date:
    if not _ISO_DATE.fullmatch(value):
        raise ValueError(f"{value!r} is not a date in YYYY-MM-DD form")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a real date") from None


@lru_cache(maxsize=1024)
def _valid_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


# The number types `phonenumbers` tries, in its order (`_number_type_helper`); a number is valid
# for a region when it fits the general description and one of these.
_NUMBER_KINDS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


@lru_cache(maxsize=8)
def _valid_for_region(region: str) -> Callable[[str], bool]:
    """`phonenumbers.is_valid_number_for_region` for a national significant number of the
    region's own country code, with the region's patterns compiled once: the library's answer
    (a number of the general description and of one number type), without its per-call
    metadata look-ups and pattern cache. Checked against the library in the tests."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        raise ValueError(f"no phone metadata for region {region!r}")

    def rule(desc: Any) -> tuple[frozenset[int], Callable[[str], object]] | None:
        if desc is None or not desc.national_number_pattern:
            return None  # matches nothing (`_match_national_number`)
        return frozenset(desc.possible_length), re.compile(desc.national_number_pattern).fullmatch

    general = rule(metadata.general_desc)
    kinds = [
        rule(getattr(metadata, kind))
        for kind in _NUMBER_KINDS
        # Mobile is only tried apart when its pattern differs from the fixed line's.
        if not (kind == "mobile" and metadata.same_mobile_and_fixed_line_pattern)
    ]
    checks = [kind for kind in kinds if kind is not None]

    def matches(check: tuple[frozenset[int], Callable[[str], object]], nsn: str) -> bool:
        lengths, fullmatch = check
        return (not lengths or len(nsn) in lengths) and fullmatch(nsn) is not None

    def valid(nsn: str) -> bool:
        if general is None or not matches(general, nsn):
            return False
        return any(matches(check, nsn) for check in checks)

    return valid


def _e164(value: str) -> bool:
    """A valid phone number written exactly as E.164 (what `phonenumbers` formats it back to).

    Most numbers in a US portfolio take a shorter road to the same answer. A value shaped
    +1NXXNXXXXXX parses to country code 1 and those ten digits whatever else is true (no
    national prefix or leading zero can be stripped), and formats back to itself, so only its
    validity is asked; and a number valid for "US", the first region of code 1 and one without a
    leading-digits rule, is exactly one `is_valid_number` accepts (it picks "US" first). Both
    shortcuts are checked against the full road in tests/accounts/test_importer_scale.py.
    """
    if _NANP_E164.fullmatch(value):
        if _valid_for_region("US")(value[2:]):
            return True
        number = phonenumbers.PhoneNumber(country_code=1, national_number=int(value[2:]))
        return phonenumbers.is_valid_number(number)
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == value
    )


def _money(value: str) -> int:
    """`parse_money`, with the plain "1234.56" spelling read directly (same result)."""
    plain = _PLAIN_MONEY.fullmatch(value)
    if plain is not None:
        cents = int(plain[1]) * 100 + int(plain[2])
        if cents <= MAX_CENTS:
            return cents
    return parse_money(value)


Convert = Callable[[str], object]
# Surnames repeat across a portfolio and their key (Unicode decomposition, letter by letter) is
# the dearest part of a row; bounded, so a file of all-distinct names cannot grow it.
_name_key = lru_cache(maxsize=1 << 16)(last_name_key)


class _Validator:
    """Typed values of one row and a reason for each field that is wrong.

    The converters are built once per import (they close over the policy names and `today`),
    not once per row; the checks run in the spec's column order, so a row's problems read left
    to right.
    """

    def __init__(self, policy_names: set[str], today: date) -> None:
        self.policy_names = policy_names
        self.today = today
        named: tuple[tuple[str, Convert], ...] = (
            ("account_id", str),
            ("first_name", str),
            ("last_name", self.last_name),
            ("date_of_birth", self.birth_date),
            ("ssn_last4", self.four_digits),
            ("zip", self.zip5),
            ("phone", self.phone),
            ("email", self.email),
            ("timezone", self.timezone),
            ("creditor", str),
            ("original_creditor", str),
            ("account_last4", self.four_digits),
            ("description", str),
            *((name, _money) for name in MONEY_COLUMNS),
            ("itemization_date", self.not_future),
            ("address_line1", str),
            ("address_line2", str),
            ("city", str),
            ("state", self.state),
            ("contact_consent", self.consent),
            ("validation_notice_sent", self.not_future),
        )
        self.checks = [(name, convert, _MAX_LENGTHS.get(name)) for name, convert in named]

    def row(self, raw: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
        problems: list[str] = []
        values: dict[str, Any] = {}
        for name, convert, limit in self.checks:
            value = raw.get(name, "")
            if not value:
                if name in _REQUIRED:
                    problems.append(f"{name} is empty")
                else:
                    values[name] = None
            elif limit is not None and len(value) > limit:
                problems.append(f"{name} is longer than {limit} characters")
            else:
                try:
                    values[name] = convert(value)
                except ValueError as exc:
                    problems.append(f"{name}: {exc}")
        for channel in values.get("contact_consent") or ():
            needed = CONSENT_CHANNELS[channel]
            if not raw.get(needed):
                problems.append(f"contact_consent names {channel} but {needed} is empty")
        policy = raw.get("policy")
        if not policy:
            values["policy"] = DEFAULT_POLICY
            if DEFAULT_POLICY not in self.policy_names:
                problems.append(f"policy is blank and there is no {DEFAULT_POLICY!r} policy")
        elif len(policy) > _MAX_LENGTHS["policy"]:
            problems.append(f"policy is longer than {_MAX_LENGTHS['policy']} characters")
        elif policy in self.policy_names:
            values["policy"] = policy
        else:
            known = ", ".join(sorted(self.policy_names))
            problems.append(f"policy: unknown policy {policy!r}; known: {known}")
        principal, interest, fees, paid = (values.get(name) for name in MONEY_COLUMNS)
        if (
            isinstance(principal, int)
            and isinstance(interest, int)
            and isinstance(fees, int)
            and isinstance(paid, int)
            and paid > principal + interest + fees
        ):
            problems.append("payments_credits exceed principal + interest + fees")
        return values, problems

    @staticmethod
    def last_name(value: str) -> str:
        if not _name_key(value):
            raise ValueError(f"{value!r} has no letters")
        return value

    def birth_date(self, value: str) -> date:
        parsed = _iso_date(value)
        if not is_plausible_birth_date(parsed, self.today):
            raise ValueError(f"{value!r} is in the future or more than 120 years ago")
        return parsed

    def not_future(self, value: str) -> date:
        parsed = _iso_date(value)
        if parsed > self.today:
            raise ValueError(f"{value!r} is in the future")
        return parsed

    @staticmethod
    def zip5(value: str) -> str:
        if not _ZIP5.fullmatch(value):
            raise ValueError(f"{value!r} is not a 5-digit US ZIP (keep leading zeros)")
        return value

    @staticmethod
    def four_digits(value: str) -> str:
        if not _FOUR_DIGITS.fullmatch(value):
            raise ValueError(f"{value!r} is not exactly 4 digits")
        return value

    @staticmethod
    def phone(value: str) -> str:
        if not _e164(value):
            raise ValueError(f"{value!r} is not a valid phone number in E.164 form (+15551234567)")
        return value

    @staticmethod
    def email(value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an email address")
        return value

    @staticmethod
    def timezone(value: str) -> str:
        if not _valid_timezone(value):
            raise ValueError(f"{value!r} is not an IANA time zone name (e.g. America/Chicago)")
        return value

    @staticmethod
    def state(value: str) -> str:
        code = value.upper()
        if code not in usps_state_codes():
            raise ValueError(f"{value!r} is not a 2-letter USPS state code (e.g. MA)")
        return code

    @staticmethod
    def consent(value: str) -> list[str]:
        channels = [part.strip().lower() for part in value.split(",") if part.strip()]
        unknown = [name for name in channels if name not in CONSENT_CHANNELS]
        if unknown:
            known = ", ".join(sorted(CONSENT_CHANNELS))
            raise ValueError(f"unknown channel(s) {', '.join(map(repr, unknown))}; known: {known}")
        return sorted(set(channels))


def _account_columns(values: dict[str, Any], hasher: FactorHasher) -> dict[str, Any]:
    """Column values for one validated row; the factors only as keyed hashes. Every row has
    the same keys, as an executemany needs."""
    ssn4 = values.get("ssn_last4")
    zones, zip_state = ZIP_FACTS.lookup(values["zip"])
    return {
        "account_ref": values["account_id"],
        "first_name": values["first_name"],
        "last_name": values["last_name"],
        "last_name_key": _name_key(values["last_name"]),
        # Validated values are in normal form already (ISO date, 4 and 5 digits).
        "dob_hash": hasher.normalized("dob", values["date_of_birth"].isoformat()),
        "ssn4_hash": hasher.normalized("ssn4", ssn4) if ssn4 else None,
        "zip_hash": hasher.normalized("zip", values["zip"]),
        "zip_timezones": list(zones),
        "phone": values.get("phone"),
        "email": values.get("email"),
        "timezone": values.get("timezone"),
        "creditor": values["creditor"],
        "original_creditor": values["original_creditor"],
        "account_last4": values["account_last4"],
        "description": values["description"],
        "principal_cents": values["principal"],
        "interest_cents": values["interest"],
        "fees_cents": values["fees"],
        "payments_credits_cents": values["payments_credits"],
        "itemization_date": values["itemization_date"],
        "policy": values["policy"],
        "address_line1": values.get("address_line1"),
        "address_line2": values.get("address_line2"),
        "city": values.get("city"),
        "state": values.get("state") or zip_state,
        "contact_consent": values.get("contact_consent") or [],
        "validation_notice_sent": values.get("validation_notice_sent"),
    }


# The keys `_account_columns` gives every row, in its order.
_COLUMNS = [
    "account_ref",
    "first_name",
    "last_name",
    "last_name_key",
    "dob_hash",
    "ssn4_hash",
    "zip_hash",
    "zip_timezones",
    "phone",
    "email",
    "timezone",
    "creditor",
    "original_creditor",
    "account_last4",
    "description",
    "principal_cents",
    "interest_cents",
    "fees_cents",
    "payments_credits_cents",
    "itemization_date",
    "policy",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "contact_consent",
    "validation_notice_sent",
]
_ACCOUNTS = cast(Table, Account.__table__)
# Set on insert only: an update leaves creation time and the operational state as they are.
_INSERT_ONLY = {"created_at": None, "collection_paused": False, "posted_payments_cents": 0}
# A row as the writer holds it: its `_COLUMNS` values, already in the driver's form.
Row = tuple[Any, ...]
# The columns whose bind processor the fast road applies itself, once per distinct value.
_FAST_PROCESSED = frozenset(
    {"zip_timezones", "itemization_date", "contact_consent", "validation_notice_sent"}
)
# Entries one per-value memo of an import holds before it starts over: a memo of dates, ZIPs
# or SSN digits is naturally bounded (about 44,000 dates of birth in 120 years, 42,000 ZIPs),
# this bound only keeps odd files from growing one.
MEMO_LIMIT = 1 << 16


def _processors(dialect: Dialect, names: Iterable[str]) -> dict[str, Callable[[Any], Any]]:
    """Each named column's bind processor for the dialect (`TypeEngine.bind_processor`: what
    SQLAlchemy applies to a value on its way to the driver), for the columns that have one."""
    found: dict[str, Callable[[Any], Any]] = {}
    for name in names:
        column = _ACCOUNTS.c[name]
        processor = column.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            found[name] = processor
    return found


def _same(value: Any) -> Any:
    return value


class _Rows:
    """The driver's column values of one record (a `Row`), by two roads with one answer.

    The fast road takes the common, valid row straight from its cells to the tuple the driver
    binds: positions of the header's columns taken at once, each check inline, and the work
    that depends on one value only (the keyed hash of a date of birth, a ZIP's hash, zones and
    state, an SSN's hash, a date's validation and stored form, a consent list's JSON) done once
    per distinct value and remembered (bounded). It accepts a row only if `_Validator` finds
    nothing wrong with it, and gives exactly what `_account_columns` and the column types' bind
    processors give (tests/accounts/test_importer_scale.py holds the two roads to that). Any row
    it is not sure of (a problem, an unusual spelling of an amount, a phone that needs the full
    parse...) takes the full road: `_Validator.row`, whose problems are the ones reported.
    """

    def __init__(
        self, columns: list[str], validator: _Validator, hasher: FactorHasher, dialect: Dialect
    ) -> None:
        self.columns = columns
        self.validator = validator
        self.hasher = hasher
        self.processors = _processors(dialect, _COLUMNS)
        # The fast road applies only the processors it knows to memoise; a dialect that
        # processes any other column (none of SQLite's or PostgreSQL's does) takes the full one.
        self.fast_ok = set(self.processors) <= _FAST_PROCESSED and set(CONSENT_CHANNELS) == {
            "sms",
            "email",
        }
        missing = len(columns)  # an absent optional column reads the blank cell appended there
        self.cells = operator.itemgetter(
            *(columns.index(name) if name in columns else missing for name in SPEC_COLUMNS)
        )
        process = self.processors.get
        self.zones_of = process("zip_timezones", _same)
        self.item_date_of = process("itemization_date", _same)
        self.notice_of = process("validation_notice_sent", _same)
        self.consent_of = process("contact_consent", _same)
        self.no_notice = self.notice_of(None)
        self.default_policy = DEFAULT_POLICY if DEFAULT_POLICY in validator.policy_names else None
        self.dobs: dict[str, str] = {}
        self.ssn4s: dict[str, str] = {}
        self.zips: dict[str, tuple[str, Any, str | None]] = {}
        self.item_dates: dict[str, Any] = {}
        self.notices: dict[str, Any] = {}
        self.consents: dict[str, tuple[Any, bool, bool]] = {"": (self.consent_of([]), False, False)}

    def full(self, values: dict[str, Any]) -> Row:
        """The row of a record `_Validator.row` found nothing wrong with (the full road)."""
        columns = _account_columns(values, self.hasher)
        process = self.processors
        return tuple(
            process[name](columns[name]) if name in process else columns[name] for name in _COLUMNS
        )

    def fast(self, record: list[str]) -> Row | None:
        """The row of a record that is valid as commonly written, else None (then the full
        road decides). `record` has the blank cell appended."""
        if not self.fast_ok:
            return None
        (
            ref,
            first,
            last,
            dob,
            ssn4,
            zip5,
            phone,
            email,
            zone,
            creditor,
            original,
            last4,
            description,
            principal,
            interest,
            fees,
            paid,
            item_date,
            policy,
            line1,
            line2,
            city,
            state,
            consent,
            notice,
        ) = map(str.strip, self.cells(record))
        lengths = (ref, first, last, creditor, original, line1, line2, city, email, zone, policy)
        if not (
            ref
            and first
            and last
            and creditor
            and original
            and description
            and _FOUR_DIGITS_MATCH(last4)
            and all(map(_fits, lengths, _FAST_LENGTHS))
        ):
            return None
        key = _name_key(last)
        if not key:
            return None
        dob_hash = self.dobs.get(dob) or self._dob(dob)
        if dob_hash is None:
            return None
        if ssn4:
            ssn4_hash = self.ssn4s.get(ssn4) or self._ssn4(ssn4)
            if ssn4_hash is None:
                return None
        else:
            ssn4_hash = None
        zip_facts = self.zips.get(zip5) or self._zip(zip5)
        if zip_facts is None:
            return None
        if phone and not _e164(phone):
            return None
        if email and not _EMAIL_MATCH(email):
            return None
        if zone and not _valid_timezone(zone):
            return None
        if not (
            _PLAIN_MONEY_MATCH(principal)
            and _PLAIN_MONEY_MATCH(interest)
            and _PLAIN_MONEY_MATCH(fees)
            and _PLAIN_MONEY_MATCH(paid)
        ):
            return None
        # "1234.56" -> 123456: the digits without the point (what `_money` computes).
        principal_cents = int(principal[:-3] + principal[-2:])
        interest_cents = int(interest[:-3] + interest[-2:])
        fees_cents = int(fees[:-3] + fees[-2:])
        paid_cents = int(paid[:-3] + paid[-2:])
        if (
            max(principal_cents, interest_cents, fees_cents, paid_cents) > MAX_CENTS
            or paid_cents > principal_cents + interest_cents + fees_cents
        ):
            return None
        item_stored = self.item_dates.get(item_date)
        if item_stored is None:
            item_stored = self._date(self.item_dates, self.item_date_of, item_date)
            if item_stored is None:
                return None
        if notice:
            notice_stored = self.notices.get(notice)
            if notice_stored is None:
                notice_stored = self._date(self.notices, self.notice_of, notice)
                if notice_stored is None:
                    return None
        else:
            notice_stored = self.no_notice
        if not policy:
            chosen_policy = self.default_policy
            if chosen_policy is None:
                return None
        elif policy not in self.validator.policy_names:
            return None
        else:
            chosen_policy = policy
        if state:
            state_code: str | None = state.upper()
            if state_code not in usps_state_codes():
                return None
        else:
            state_code = zip_facts[2]
        consented = self.consents.get(consent) or self._consent(consent)
        if consented is None or (consented[1] and not phone) or (consented[2] and not email):
            return None
        return (
            ref,
            first,
            last,
            key,
            dob_hash,
            ssn4_hash,
            zip_facts[0],
            zip_facts[1],
            phone or None,
            email or None,
            zone or None,
            creditor,
            original,
            last4,
            description,
            principal_cents,
            interest_cents,
            fees_cents,
            paid_cents,
            item_stored,
            chosen_policy,
            line1 or None,
            line2 or None,
            city or None,
            state_code,
            consented[0],
            notice_stored,
        )

    # What one value gives, worked out on its first appearance (None: the value is wrong).

    @staticmethod
    def _remember(memo: dict[str, Any], value: str, result: Any) -> Any:
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[value] = result
        return result

    def _dob(self, dob: str) -> str | None:
        try:
            parsed = self.validator.birth_date(dob)
        except ValueError:
            return None
        return cast(
            str, self._remember(self.dobs, dob, self.hasher.normalized("dob", parsed.isoformat()))
        )

    def _ssn4(self, ssn4: str) -> str | None:
        if not _FOUR_DIGITS_MATCH(ssn4):
            return None
        return cast(str, self._remember(self.ssn4s, ssn4, self.hasher.normalized("ssn4", ssn4)))

    def _zip(self, zip5: str) -> tuple[str, Any, str | None] | None:
        if not _ZIP5.fullmatch(zip5):
            return None
        zones, state = ZIP_FACTS.lookup(zip5)
        facts = (self.hasher.normalized("zip", zip5), self.zones_of(list(zones)), state)
        return cast(tuple[str, Any, "str | None"], self._remember(self.zips, zip5, facts))

    def _date(self, memo: dict[str, Any], stored: Callable[[Any], Any], value: str) -> Any:
        try:
            parsed = self.validator.not_future(value)
        except ValueError:
            return None
        return self._remember(memo, value, stored(parsed))

    def _consent(self, consent: str) -> tuple[Any, bool, bool] | None:
        try:
            channels = self.validator.consent(consent)
        except ValueError:
            return None
        # The contact detail each channel needs (CONSENT_CHANNELS: sms -> phone, email -> email).
        facts = (self.consent_of(channels), "sms" in channels, "email" in channels)
        return cast(tuple[Any, bool, bool], self._remember(self.consents, consent, facts))


def _fits(value: str, longest: int) -> bool:
    return len(value) <= longest


# The longest values of the cells `_Rows.fast` checks the length of, in its order.
_FAST_LENGTHS = tuple(
    _MAX_LENGTHS[name]
    for name in (
        "account_id",
        "first_name",
        "last_name",
        "creditor",
        "original_creditor",
        "address_line1",
        "address_line2",
        "city",
        "email",
        "timezone",
        "policy",
    )
)
_FOUR_DIGITS_MATCH = _FOUR_DIGITS.fullmatch
_EMAIL_MATCH = _EMAIL.fullmatch
_PLAIN_MONEY_MATCH = _PLAIN_MONEY.fullmatch


class _Statement:
    """One INSERT or UPDATE compiled once for the session's database, executed with many rows
    at the driver (DBAPI `executemany`). The rows come as tuples of values already in the
    driver's form (`names` says what each position holds); each is handed over as the driver's
    parameters (SQLite's qmark tuple, taken by position at C speed, or psycopg's mapping), and
    nothing else happens per row. SQLAlchemy's ORM or Core `executemany` does the same work
    with several times the Python per value, which dominated a profiled import."""

    def __init__(self, statement: Insert | Update, dialect: Dialect, names: list[str]) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        order = list(compiled.positiontup) if compiled.positiontup is not None else None
        self.keys = list(compiled.binds) if order is None else None
        wanted = order if order is not None else list(compiled.binds)
        self.take: Callable[[Row], Row] | None = (
            None if wanted == names else operator.itemgetter(*map(names.index, wanted))
        )

    def parameters(self, rows: list[Row]) -> list[Any]:
        take = self.take
        taken = rows if take is None else list(map(take, rows))
        if self.keys is None:
            return taken
        keys = self.keys
        return [dict(zip(keys, row, strict=True)) for row in taken]

    def execute(self, session: Session, rows: list[Row]) -> None:
        session.connection().exec_driver_sql(self.sql, self.parameters(rows))


class _Writer:
    """Writes validated rows in batches: inserts the new account_ids, updates the known ones
    (by primary key), all stamped with one import time."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.batch: list[Row] = []
        self.created = 0
        self.updated = 0
        self.now = utcnow()
        self.dialect = dialect = session.get_bind().dialect
        table = _ACCOUNTS.c
        # What an insert adds to a row, and an update (then the id of the row it updates).
        values = {**_INSERT_ONLY, "created_at": self.now, "updated_at": self.now}
        # In the table's order, as the compiled INSERT binds them: the rows go as they are.
        extra = {
            column.name: values[column.name] for column in _ACCOUNTS.c if column.name in values
        }
        inserted = [*_COLUMNS, *extra]
        process = _processors(dialect, inserted)
        self.inserted_extra = tuple(
            process[name](value) if name in process else value for name, value in extra.items()
        )
        self.insert = _Statement(
            insert(_ACCOUNTS).values(
                {name: bindparam(name, type_=table[name].type) for name in inserted}
            ),
            dialect,
            inserted,
        )
        updated = [name for name in [*_COLUMNS, "updated_at"] if name != "account_ref"]
        self.update = _Statement(
            update(_ACCOUNTS)
            .where(table.id == bindparam("existing_id", type_=table.id.type))
            .values({name: bindparam(name, type_=table[name].type) for name in updated}),
            dialect,
            [*_COLUMNS, "updated_at", "existing_id"],
        )
        self.updated_at = self.inserted_extra[list(extra).index("updated_at")]
        id_processor = table.id.type.dialect_impl(dialect).bind_processor(dialect)
        self.id_of: Callable[[Any], Any] = id_processor or _same

    def add(self, row: Row) -> None:
        self.batch.append(row)
        if len(self.batch) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        known: dict[str, int] = {
            ref: account_id
            for ref, account_id in self.session.execute(
                select(_ACCOUNTS.c.account_ref, _ACCOUNTS.c.id).where(
                    _ACCOUNTS.c.account_ref.in_([row[0] for row in batch])
                )
            ).tuples()
        }
        if known:
            extra, id_of, at = self.inserted_extra, self.id_of, self.updated_at
            new = [row + extra for row in batch if row[0] not in known]
            old = [row + (at, id_of(known[row[0]])) for row in batch if row[0] in known]
        else:
            extra = self.inserted_extra
            new, old = [row + extra for row in batch], []
        if new:
            self.insert.execute(self.session, new)
        if old:
            self.update.execute(self.session, old)
        self.created += len(new)
        self.updated += len(old)


def import_accounts(
    session: Session,
    rows_source: Source,
    *,
    secret: str,
    policy_names: set[str],
    file_name: str | None = None,
    today: date | None = None,
) -> ImportReport:
    """Validate the CSV and create or update accounts by account_id (idempotent), streaming.

    `rows_source` is a path (str or Path), a text stream or a binary stream (UTF-8 bytes, as an
    upload arrives). Writes happen in the caller's transaction (not committed); when the report
    has errors nothing the import wrote remains (its savepoint is rolled back). `file_name`
    names the file in the audit event (defaults to the path's or stream's name); `today` is for
    tests.
    """
    today = today or date.today()
    session.flush()  # pending ORM changes first: the import writes past the unit of work
    with _opened(rows_source) as opened:
        report = ImportReport(file=file_name or opened.name)
        savepoint = session.begin_nested()
        try:
            writer = _Writer(session)
            report.errors = _stream(
                opened, _Validator(policy_names, today), FactorHasher(secret), writer
            )
            if not report.errors:
                writer.flush()
        except BaseException:
            savepoint.rollback()
            raise
    if report.errors:
        savepoint.rollback()
        return report
    report.created, report.updated = writer.created, writer.updated
    audit.record(
        session,
        audit.Kind.ACCOUNTS_IMPORTED,
        created=report.created,
        updated=report.updated,
        file=report.file,
    )
    session.flush()
    savepoint.commit()
    if report.updated:
        # Rows were updated underneath the identity map: loaded accounts re-read on next access.
        for instance in list(session.identity_map.values()):
            if isinstance(instance, Account):
                session.expire(instance)
    return report


def _stream(
    opened: _Opened,
    validator: _Validator,
    hasher: FactorHasher,
    writer: _Writer,
) -> list[RowError]:
    """One pass over the records: validate each, write valid rows until the first error, and
    return every error (a malformed record or undecodable line ends the pass)."""
    errors: list[RowError] = []
    records = _records(opened.lines)
    line = 1
    try:
        first = next(records, None)
        if first is None:
            return [RowError(1, "file is empty; expected a header row")]
        columns, header_problems = _check_header(first[1])
        if header_problems:
            return [RowError(first[0], problem) for problem in header_problems]
        width = len(columns)
        rows = _Rows(columns, validator, hasher, writer.dialect)
        fast, add = rows.fast, writer.add
        seen: dict[str, int] = {}
        remember = seen.setdefault
        for line, record in records:
            if len(record) != width:
                errors.append(RowError(line, f"expected {width} fields, found {len(record)}"))
                continue
            record.append("")  # what an optional column the header leaves out reads
            row = fast(record)
            if row is not None:
                if remember(row[0], line) == line:
                    if not errors:
                        add(row)
                    continue
                problems: list[str] = []
                ref = row[0]
            else:
                raw = {
                    name: cell.strip() for name, cell in zip(columns, record[:width], strict=True)
                }
                values, problems = validator.row(raw)
                ref = raw.get("account_id", "")
                if not ref or remember(ref, line) == line:
                    if not problems:
                        if not errors:
                            add(rows.full(values))
                        continue
                    errors.extend(RowError(line, problem) for problem in problems)
                    continue
            earlier = seen[ref]
            problems.append(f"account_id {ref!r} already appears on line {earlier}")
            errors.extend(RowError(line, problem) for problem in problems)
    except _NotUtf8 as exc:
        errors.append(RowError(exc.line, "file is not UTF-8 text"))
    except UnicodeDecodeError:
        # Decoded ahead in blocks: the bad byte's own line is found by reading it again.
        errors.append(RowError(opened.bad_byte_line() or line + 1, "file is not UTF-8 text"))
    except _Malformed as exc:
        errors.append(RowError(exc.line, exc.reason))
    return errors
