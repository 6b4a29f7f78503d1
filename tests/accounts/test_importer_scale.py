"""SPEC §3 / §13: the streaming import at portfolio scale keeps every guarantee of the row-by-row
one: the same rows (checked against values computed here independently, from the library
functions the old importer called), updates by account_id, all-or-nothing down to the last line,
exact line numbers, and memory that does not grow with the file."""

from __future__ import annotations

import csv
import functools
import io
import json
import random
import re
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from parley.accounts import importer
from parley.accounts.importer import SPEC_COLUMNS, RowError, import_accounts
from parley.core.db import transaction
from parley.core.migrations import upgrade_to_head
from parley.core.zones import zip_state, zip_timezones
from parley.tables import Account, AuditEvent
from parley.verification.factors import factor_hash, last_name_key

SECRET = "scale-test-secret"
POLICIES = {"default", "medical"}
TODAY = date(2025, 6, 1)
COLUMNS = list(SPEC_COLUMNS)
ZIPS = ["94107", "10027", "60614", "02139", "73301", "99501", "96813", "00601", "85004", "33101"]
SURNAMES = ["Garcia", "Nguyen", "O'Connor", "Müller", "De La Cruz", "Okafor", "Smith-Jones"]
AREAS = ["212", "415", "312", "617", "713", "206", "303", "404"]


def cents(amount: int) -> str:
    return f"{amount // 100}.{amount % 100:02d}"


def portfolio(
    count: int, *, seed: int, shared: int = 0, prefix: str = "P", start: int = 0
) -> list[dict[str, str]]:
    """`count` valid rows; every row whose index is below `shared` is a "Smith"."""
    rng = random.Random(seed)
    rows = []
    for i in range(start, start + count):
        principal = rng.randrange(1000, 900_000)
        phone = f"+1{rng.choice(AREAS)}{rng.randrange(200, 1000)}{rng.randrange(10000):04d}"
        rows.append(
            {
                "account_id": f"{prefix}-{i:06d}",
                "first_name": rng.choice(["Ana", "Wei", "Olu", "Priya"]),
                "last_name": "Smith" if i < shared else rng.choice(SURNAMES),
                "date_of_birth": (
                    date(1950, 1, 1) + timedelta(days=rng.randrange(18000))
                ).isoformat(),
                "ssn_last4": f"{rng.randrange(10000):04d}" if rng.random() < 0.7 else "",
                "zip": rng.choice(ZIPS),
                "phone": phone if rng.random() < 0.8 else "",
                "email": f"d{i}@example.com" if rng.random() < 0.5 else "",
                "timezone": "America/Chicago" if rng.random() < 0.1 else "",
                "creditor": rng.choice(["Northwind Bank", "Harbor Health"]),
                "original_creditor": "Original, Inc.",
                "account_last4": f"{rng.randrange(10000):04d}",
                "description": rng.choice(
                    ["Card balance", 'ER visit, "not covered"', "Line\nbreak"]
                ),
                "principal": cents(principal),
                "interest": cents(rng.randrange(0, 9000)),
                "fees": cents(rng.randrange(0, 900)),
                "payments_credits": cents(rng.randrange(0, principal)),
                "itemization_date": f"2025-0{rng.randrange(1, 6)}-1{rng.randrange(0, 9)}",
                "policy": rng.choice(["", "default", "medical"]),
                "address_line1": "1 Main St" if rng.random() < 0.5 else "",
                "address_line2": "",
                "city": "Springfield" if rng.random() < 0.5 else "",
                "state": rng.choice(["", "", "ma"]),
                "contact_consent": "",
                "validation_notice_sent": "2025-02-01" if rng.random() < 0.1 else "",
            }
        )
        if rows[-1]["phone"] and rng.random() < 0.5:
            rows[-1]["contact_consent"] = "sms"
    return rows


def csv_text(rows: list[dict[str, str]], line_end: str = "\n") -> str:
    out = io.StringIO()
    # csv quotes a field holding a character of the line terminator only: with CR alone, a
    # field's line feed would go out bare, so every field is quoted then.
    quoting = csv.QUOTE_ALL if line_end == "\r" else csv.QUOTE_MINIMAL
    writer = csv.writer(out, lineterminator=line_end, quoting=quoting)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row[name] for name in COLUMNS])
    return out.getvalue()


def line_of(rows: list[dict[str, str]], index: int, line_end: str = "\n") -> int:
    """The physical line rows[index] starts on (CR, LF and CRLF each end one; quoted fields
    may hold line breaks)."""
    return len(re.findall(r"\r\n|\r|\n", csv_text(rows[:index], line_end))) + 1


def money(text: str) -> int:
    whole, frac = text.split(".")
    return int(whole) * 100 + int(frac)


# The library's own answers, asked once per ZIP (each question scans its table).
zones_of = functools.cache(zip_timezones)
state_of = functools.cache(zip_state)


def expected(row: dict[str, str]) -> dict[str, Any]:
    """An account's columns from one CSV row, computed the slow way, one library call each."""
    return {
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "last_name_key": last_name_key(row["last_name"]),
        "dob_hash": factor_hash(SECRET, "dob", row["date_of_birth"]),
        "ssn4_hash": factor_hash(SECRET, "ssn4", row["ssn_last4"]) if row["ssn_last4"] else None,
        "zip_hash": factor_hash(SECRET, "zip", row["zip"]),
        "zip_timezones": zones_of(row["zip"]),
        "phone": row["phone"] or None,
        "email": row["email"] or None,
        "timezone": row["timezone"] or None,
        "creditor": row["creditor"],
        "original_creditor": row["original_creditor"],
        "account_last4": row["account_last4"],
        "description": row["description"],
        "principal_cents": money(row["principal"]),
        "interest_cents": money(row["interest"]),
        "fees_cents": money(row["fees"]),
        "payments_credits_cents": money(row["payments_credits"]),
        "itemization_date": date.fromisoformat(row["itemization_date"]),
        "policy": row["policy"] or "default",
        "address_line1": row["address_line1"] or None,
        "address_line2": row["address_line2"] or None,
        "city": row["city"] or None,
        "state": row["state"].upper() or state_of(row["zip"]),
        "contact_consent": [row["contact_consent"]] if row["contact_consent"] else [],
        "validation_notice_sent": (
            date.fromisoformat(row["validation_notice_sent"])
            if row["validation_notice_sent"]
            else None
        ),
    }


def stored(factory: sessionmaker[Session]) -> dict[str, dict[str, Any]]:
    keys = list(expected(portfolio(1, seed=0)[0]))
    with factory() as session:
        return {
            account.account_ref: {key: getattr(account, key) for key in keys}
            for account in session.scalars(select(Account))
        }


def run_import(factory: sessionmaker[Session], source: Any) -> importer.ImportReport:
    with transaction(factory) as session:
        return import_accounts(
            session, source, secret=SECRET, policy_names=POLICIES, file_name="p.csv", today=TODAY
        )


def audit_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_large_file_with_updates_gives_the_row_by_row_result(
    committed_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = portfolio(5000, seed=1, shared=400)
    report = run_import(committed_factory, io.StringIO(csv_text(first)))
    assert (report.errors, report.created, report.updated) == ([], 5000, 0)
    assert stored(committed_factory) == {row["account_id"]: expected(row) for row in first}

    with transaction(committed_factory) as session:
        paused = session.scalars(select(Account).where(Account.account_ref == "P-000007")).one()
        paused.collection_paused, paused.posted_payments_cents = True, 1500
        ids = {ref: id_ for ref, id_ in session.execute(select(Account.account_ref, Account.id))}
        created = {
            ref: at for ref, at in session.execute(select(Account.account_ref, Account.created_at))
        }

    # Every third account changes (other amounts, surname, phone...), 700 are new; small
    # batches put updates and inserts on both sides of many batch boundaries.
    changed = portfolio(5000, seed=2, shared=400)[::3]
    new = portfolio(700, seed=3, start=5000)
    second = changed + new
    random.Random(4).shuffle(second)
    monkeypatch.setattr(importer, "BATCH_ROWS", 7)
    report = run_import(committed_factory, io.BytesIO(csv_text(second, "\r\n").encode()))
    assert (report.errors, report.created, report.updated) == ([], 700, len(changed))

    want = {row["account_id"]: expected(row) for row in first}
    want.update({row["account_id"]: expected(row) for row in second})
    assert stored(committed_factory) == want
    with committed_factory() as session:
        after = {a.account_ref: a for a in session.scalars(select(Account))}
    assert all(after[ref].id == ids[ref] for ref in ids)  # updated in place
    assert all(after[ref].created_at == created[ref] for ref in ids)
    assert (after["P-000007"].collection_paused, after["P-000007"].posted_payments_cents) == (
        True,
        1500,
    )
    assert all(
        after[row["account_id"]].updated_at >= after[row["account_id"]].created_at for row in new
    )
    assert audit_count(committed_factory) == 2


def test_a_bad_row_at_the_very_end_imports_nothing(
    committed_factory: sessionmaker[Session],
) -> None:
    before = portfolio(50, seed=5)
    assert run_import(committed_factory, io.StringIO(csv_text(before))).created == 50
    untouched = stored(committed_factory)

    rows = portfolio(6000, seed=6)  # the first 50 account_ids are the ones loaded above
    bad = dict(rows[-1], zip="ABCDE")
    duplicate = dict(rows[-2], account_id=rows[10]["account_id"])
    final = [*rows[:-2], duplicate, bad]
    report = run_import(committed_factory, io.StringIO(csv_text(final)))
    assert [str(error) for error in report.errors] == [
        f"line {line_of(final, len(final) - 2)}: account_id {rows[10]['account_id']!r} "
        f"already appears on line {line_of(final, 10)}",
        f"line {line_of(final, len(final) - 1)}: "
        "zip: 'ABCDE' is not a 5-digit US ZIP (keep leading zeros)",
    ]
    assert (report.created, report.updated) == (0, 0)
    assert stored(committed_factory) == untouched
    assert audit_count(committed_factory) == 1


def test_an_undecodable_byte_deep_in_a_big_file_names_its_line(
    committed_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = portfolio(3000, seed=7)
    data = csv_text(rows).encode()
    cut = data.index(b"\n", len(data) * 2 // 3) + 1  # far past the decoder's first blocks
    path = tmp_path / "latin1.csv"
    path.write_bytes(data[:cut] + "Peña,".encode("latin-1") + data[cut:])
    want = [RowError(data[:cut].count(b"\n") + 1, "file is not UTF-8 text")]
    assert run_import(committed_factory, path).errors == want
    with path.open("rb") as handle:  # a binary stream (an upload) is read the same way
        assert run_import(committed_factory, handle).errors == want
        assert not handle.closed
    assert stored(committed_factory) == {}


class _Unbuffered(io.RawIOBase):
    """A binary stream that is not a buffered file (as some upload wrappers are)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_every_kind_of_source_and_line_end_reads_alike(
    committed_factory: sessionmaker[Session], tmp_path: Path, line_end: str
) -> None:
    rows = portfolio(30, seed=8)
    rows[-1]["zip"] = "1"
    text = csv_text(rows, line_end)
    bad_line = line_of(rows, len(rows) - 1, line_end)
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    sources = [
        path,
        str(path),
        io.StringIO("\ufeff" + text, newline=""),
        io.BytesIO(b"\xef\xbb\xbf" + text.encode()),
        _Unbuffered(text.encode()),
    ]
    for source in sources:
        report = run_import(committed_factory, source)
        assert [error.line for error in report.errors] == [bad_line], (source, report.errors)
    assert stored(committed_factory) == {}


MEASURE = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from parley.accounts.importer import import_accounts
    from parley.core.db import make_engine, make_session_factory, transaction
    engine = make_engine(sys.argv[1])
    with transaction(make_session_factory(engine)) as session:
        report = import_accounts(session, Path(sys.argv[2]), secret="s", policy_names={"default", "medical"})
    assert report.ok, report.errors[:3]
    print(json.dumps({"rows": report.created, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    """
)


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """Peak memory of an import in a child process, for a file 6x as long: the row-by-row
    importer held ~9.8 KB a row, so the extra 20,000 rows cost it ~190 MB more. The streaming
    one keeps the account_id -> line map (~150 bytes a row); run by hand the difference is
    ~3 MB, under pytest it measured ~45 MB (not explained yet, see docs/performance.md), so the
    bound is set to fail the row-by-row behaviour, not to pin the streaming one's figure."""
    peaks = {}
    for count in (4000, 24000):
        path = tmp_path / f"{count}.csv"
        path.write_text(csv_text(portfolio(count, seed=count)), encoding="utf-8")
        url = f"sqlite:///{tmp_path / f'{count}.db'}"
        upgrade_to_head(url)
        child = subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", MEASURE, url, str(path)],
            capture_output=True,
            text=True,
            timeout=240,
            check=True,
        )
        result = json.loads(child.stdout)
        assert result["rows"] == count
        peaks[count] = result["maxrss_kb"] / 1024
    assert peaks[24000] - peaks[4000] < 60, peaks


def old_e164(value: str) -> bool:
    """The phone rule as the row-by-row importer applied it (parse, validate, format back)."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == value
    )


def test_the_phone_shortcuts_answer_as_the_full_rule() -> None:
    # The shortcut's premise: "US" is the first region of +1 and has no leading-digits rule.
    assert phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1][0] == "US"
    assert phonenumbers.PhoneMetadata.metadata_for_region("US").leading_digits is None
    rng = random.Random(9)
    nanp = [f"+1{rng.randrange(2000000000, 10**10)}" for _ in range(4000)]
    canada = [f"+1{area}{rng.randrange(2000000, 10**7)}" for area in ("416", "604", "867")]
    caribbean = [f"+1{area}{rng.randrange(2000000, 10**7)}" for area in ("876", "268", "787")]
    special = [f"+1{area}{rng.randrange(2000000, 10**7)}" for area in ("800", "900", "555")]
    others = ["+442079460000", "+4915123456789", "+390612345678", "+14155550101", "+1 4155550101"]
    values = nanp + canada * 30 + caribbean * 30 + special * 30 + others
    values += [f"+1{rng.randrange(10**9, 2 * 10**9)}" for _ in range(300)]  # area code 1xx
    accepted = 0
    for value in values:
        assert importer._e164(value) == old_e164(value), value
        accepted += old_e164(value)
    assert 0 < accepted < len(values)  # both answers occur


def test_money_shortcut_answers_as_parse_money() -> None:
    from parley.core.money import MAX_CENTS, parse_money

    for text in ["0.00", "12.30", "0012.05", "1234567.89", f"{MAX_CENTS // 100}.00", "1.01"]:
        assert importer._money(text) == parse_money(text)
    with pytest.raises(ValueError, match="implausibly large"):
        importer._money(f"{MAX_CENTS // 100}.01")


@pytest.mark.parametrize("secret", ["s", "x" * 64, "y" * 65, "z" * 300, "clé-ünï"])
def test_factor_hasher_gives_factor_hash_values(secret: str) -> None:
    from parley.verification.factors import FactorHasher

    hasher = FactorHasher(secret)
    for factor, value, normal in [
        ("dob", "1985-03-14", "1985-03-14"),
        ("dob", "03/14/1985", "1985-03-14"),
        ("zip", "94107-1234", "94107"),
        ("ssn4", "1234", "1234"),
    ]:
        want = factor_hash(secret, factor, value)  # type: ignore[arg-type]
        assert hasher(factor, value) == want  # type: ignore[arg-type]
        assert hasher.normalized(factor, normal) == want  # type: ignore[arg-type]


def test_zip_facts_answer_as_the_zones_module() -> None:
    from parley.accounts.zip_facts import ZipFacts

    facts = ZipFacts()
    rng = random.Random(10)
    sample = [*ZIPS, "00000", "99999", "1234", "abcde", "941071"]
    sample += [f"{rng.randrange(100000):05d}" for _ in range(150)]
    for zip5 in sample:
        zones, state = facts.lookup(zip5)
        assert (list(zones), state) == (zip_timezones(zip5), zip_state(zip5)), zip5
