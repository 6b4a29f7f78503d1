"""Loading accounts from the creditor's CSV (SPEC §3).

The import is all-or-nothing: every row is validated first and every problem is reported with its
line number, so an operator fixes the file in one pass and a half-loaded portfolio never exists.
Verification factors are hashed here and never stored in plain text.
"""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.core.money import parse_money
from parley.core.zones import usps_state_codes, zip_state, zip_timezones
from parley.negotiation.policies import DEFAULT_POLICY
from parley.records import audit
from parley.tables import Account
from parley.verification.factors import factor_hash, is_plausible_birth_date, last_name_key

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
# The channels a debtor can consent to first contact on (SPEC §14), and the column each needs.
CONSENT_CHANNELS = {"sms": "phone", "email": "email"}
MONEY_COLUMNS = ("principal", "interest", "fees", "payments_credits")
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
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FOUR_DIGITS = re.compile(r"\d{4}")
_ZIP5 = re.compile(r"\d{5}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_LOOKUP_BATCH = 500


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


@dataclass(frozen=True)
class _Row:
    line: int
    values: dict[str, Any]


class _NotUtf8(ValueError):
    """The file does not decode; `line` is where the first bad byte is."""

    def __init__(self, line: int) -> None:
        super().__init__(f"line {line}: file is not UTF-8 text")
        self.line = line


def _read_text(source: TextIO | str | Path) -> tuple[str, str]:
    """The file's text (without a BOM) and a name for the audit event."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        data = path.read_bytes()
        try:
            return data.decode("utf-8-sig"), path.name
        except UnicodeDecodeError as exc:
            raise _NotUtf8(data[: exc.start].count(b"\n") + 1) from exc
    return source.read().removeprefix("\ufeff"), Path(str(getattr(source, "name", "<stream>"))).name


class _Malformed(ValueError):
    """The CSV itself cannot be read past `line` (an oversized field, a NUL byte...)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the physical line each starts on (quoted fields may span lines).

    A record the csv module cannot read ends the file with `_Malformed` naming its line: what
    follows it cannot be told apart reliably, so nothing past it is guessed at."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
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
        if any(cell.strip() for cell in record):
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


def _valid_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _e164(value: str) -> bool:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == value
    )


def _validate(
    raw: dict[str, str], policy_names: set[str], today: date
) -> tuple[dict[str, Any], list[str]]:
    """Typed values of one row, and a reason for each field that is wrong."""
    problems: list[str] = []
    values: dict[str, Any] = {}

    def check(name: str, convert: Callable[[str], object]) -> None:
        value = raw.get(name, "")
        if name in REQUIRED_COLUMNS and not value:
            problems.append(f"{name} is empty")
            return
        limit = _MAX_LENGTHS.get(name)
        if limit is not None and len(value) > limit:
            problems.append(f"{name} is longer than {limit} characters")
            return
        try:
            values[name] = convert(value) if value else None
        except ValueError as exc:
            problems.append(f"{name}: {exc}")

    def text(value: str) -> str:
        return value

    def last_name(value: str) -> str:
        if not last_name_key(value):
            raise ValueError(f"{value!r} has no letters")
        return value

    def birth_date(value: str) -> date:
        parsed = _iso_date(value)
        if not is_plausible_birth_date(parsed, today):
            raise ValueError(f"{value!r} is in the future or more than 120 years ago")
        return parsed

    def itemization(value: str) -> date:
        parsed = _iso_date(value)
        if parsed > today:
            raise ValueError(f"{value!r} is in the future")
        return parsed

    def zip5(value: str) -> str:
        if not _ZIP5.fullmatch(value):
            raise ValueError(f"{value!r} is not a 5-digit US ZIP (keep leading zeros)")
        return value

    def four_digits(value: str) -> str:
        if not _FOUR_DIGITS.fullmatch(value):
            raise ValueError(f"{value!r} is not exactly 4 digits")
        return value

    def phone(value: str) -> str:
        if not _e164(value):
            raise ValueError(f"{value!r} is not a valid phone number in E.164 form (+15551234567)")
        return value

    def email(value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an email address")
        return value

    def timezone(value: str) -> str:
        if not _valid_timezone(value):
            raise ValueError(f"{value!r} is not an IANA time zone name (e.g. America/Chicago)")
        return value

    def policy(value: str) -> str:
        if value not in policy_names:
            raise ValueError(f"unknown policy {value!r}; known: {', '.join(sorted(policy_names))}")
        return value

    def state(value: str) -> str:
        code = value.upper()
        if code not in usps_state_codes():
            raise ValueError(f"{value!r} is not a 2-letter USPS state code (e.g. MA)")
        return code

    def consent(value: str) -> list[str]:
        channels = [part.strip().lower() for part in value.split(",") if part.strip()]
        unknown = [name for name in channels if name not in CONSENT_CHANNELS]
        if unknown:
            known = ", ".join(sorted(CONSENT_CHANNELS))
            raise ValueError(f"unknown channel(s) {', '.join(map(repr, unknown))}; known: {known}")
        return sorted(set(channels))

    def notice_sent(value: str) -> date:
        parsed = _iso_date(value)
        if parsed > today:
            raise ValueError(f"{value!r} is in the future")
        return parsed

    # In the spec's column order, so a row's problems read left to right.
    check("account_id", text)
    check("first_name", text)
    check("last_name", last_name)
    check("date_of_birth", birth_date)
    check("ssn_last4", four_digits)
    check("zip", zip5)
    check("phone", phone)
    check("email", email)
    check("timezone", timezone)
    check("creditor", text)
    check("original_creditor", text)
    check("account_last4", four_digits)
    check("description", text)
    for name in MONEY_COLUMNS:
        check(name, parse_money)
    check("itemization_date", itemization)
    check("address_line1", text)
    check("address_line2", text)
    check("city", text)
    check("state", state)
    check("contact_consent", consent)
    check("validation_notice_sent", notice_sent)
    for channel in values.get("contact_consent") or []:
        needed = CONSENT_CHANNELS[channel]
        if not raw.get(needed):
            problems.append(f"contact_consent names {channel} but {needed} is empty")
    if raw.get("policy"):
        check("policy", policy)
    else:
        values["policy"] = DEFAULT_POLICY
        if DEFAULT_POLICY not in policy_names:
            problems.append(f"policy is blank and there is no {DEFAULT_POLICY!r} policy")

    if all(isinstance(values.get(name), int) for name in MONEY_COLUMNS):
        owed = values["principal"] + values["interest"] + values["fees"]
        if values["payments_credits"] > owed:
            problems.append("payments_credits exceed principal + interest + fees")
    return values, problems


def _parse(text: str, policy_names: set[str], today: date) -> tuple[list[_Row], list[RowError]]:
    try:
        return _parse_records(_records(text), policy_names, today)
    except _Malformed as exc:
        return [], [RowError(exc.line, exc.reason)]


def _parse_records(
    records: Iterator[tuple[int, list[str]]], policy_names: set[str], today: date
) -> tuple[list[_Row], list[RowError]]:
    first = next(records, None)
    if first is None:
        return [], [RowError(1, "file is empty; expected a header row")]
    columns, header_problems = _check_header(first[1])
    if header_problems:
        return [], [RowError(first[0], problem) for problem in header_problems]

    rows: list[_Row] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, record in records:
        if len(record) != len(columns):
            errors.append(RowError(line, f"expected {len(columns)} fields, found {len(record)}"))
            continue
        raw = {name: cell.strip() for name, cell in zip(columns, record, strict=True)}
        values, problems = _validate(raw, policy_names, today)
        ref = raw.get("account_id", "")
        if ref:
            if ref in seen:
                problems.append(f"account_id {ref!r} already appears on line {seen[ref]}")
            else:
                seen[ref] = line
        errors.extend(RowError(line, problem) for problem in problems)
        if not problems:
            rows.append(_Row(line, values))
    return rows, errors


def _account_fields(values: dict[str, Any], secret: str) -> dict[str, Any]:
    """Model attributes for one validated row; the factors only as keyed hashes."""
    ssn4 = values.get("ssn_last4")
    return {
        "first_name": values["first_name"],
        "last_name": values["last_name"],
        "last_name_key": last_name_key(values["last_name"]),
        "dob_hash": factor_hash(secret, "dob", values["date_of_birth"].isoformat()),
        "ssn4_hash": factor_hash(secret, "ssn4", ssn4) if ssn4 else None,
        "zip_hash": factor_hash(secret, "zip", values["zip"]),
        "zip_timezones": zip_timezones(values["zip"]),
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
        "state": values.get("state") or zip_state(values["zip"]),
        "contact_consent": values.get("contact_consent") or [],
        "validation_notice_sent": values.get("validation_notice_sent"),
    }


def _existing(session: Session, refs: Iterable[str]) -> dict[str, Account]:
    refs = list(refs)
    found: dict[str, Account] = {}
    for start in range(0, len(refs), _LOOKUP_BATCH):
        batch = refs[start : start + _LOOKUP_BATCH]
        for account in session.scalars(select(Account).where(Account.account_ref.in_(batch))):
            found[account.account_ref] = account
    return found


def import_accounts(
    session: Session,
    rows_source: TextIO | str | Path,
    *,
    secret: str,
    policy_names: set[str],
    file_name: str | None = None,
    today: date | None = None,
) -> ImportReport:
    """Validate the whole CSV, then create or update accounts by account_id (idempotent).

    Writes happen in the caller's transaction (flushed, not committed); when the report has errors
    nothing was added to the session. `file_name` names the file in the audit event (defaults to
    the path's or stream's name); `today` is for tests.
    """
    today = today or date.today()
    try:
        text, default_name = _read_text(rows_source)
    except _NotUtf8 as exc:
        report = ImportReport(file=file_name or Path(str(rows_source)).name)
        report.errors.append(RowError(exc.line, "file is not UTF-8 text"))
        return report
    report = ImportReport(file=file_name or default_name)
    rows, report.errors = _parse(text, policy_names, today)
    if report.errors:
        return report

    existing = _existing(session, (row.values["account_id"] for row in rows))
    for row in rows:
        ref = row.values["account_id"]
        fields = _account_fields(row.values, secret)
        account = existing.get(ref)
        if account is None:
            session.add(Account(account_ref=ref, **fields))
            report.created += 1
        else:
            for name, value in fields.items():
                setattr(account, name, value)
            report.updated += 1
    audit.record(
        session,
        audit.Kind.ACCOUNTS_IMPORTED,
        created=report.created,
        updated=report.updated,
        file=report.file,
    )
    session.flush()
    return report
