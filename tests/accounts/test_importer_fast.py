"""The import's fast road (`_Rows.fast`) gives exactly what the full road gives (`_Validator.row`,
`_account_columns` and the column types' bind processors), and accepts no row the full road
finds anything wrong with: checked on tens of thousands of rows whose every field is drawn from
valid, odd and wrong spellings, under shuffled headers that leave optional columns out, for
SQLite's and PostgreSQL's drivers."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import phonenumbers
import pytest
from sqlalchemy import Dialect
from sqlalchemy.dialects import postgresql, sqlite

from parley.accounts import importer
from parley.accounts.importer import OPTIONAL_COLUMNS, SPEC_COLUMNS
from parley.core.money import MAX_CENTS
from parley.verification.factors import FactorHasher

TODAY = date(2025, 6, 1)
POLICIES = {"default", "medical"}
BIG = f"{MAX_CENTS // 100}"

# Spellings per column: mostly valid, some odd but valid (the full road takes them), some wrong.
CHOICES: dict[str, list[str]] = {
    "account_id": ["A-1", "A-2", " A-3 ", "x" * 64, "x" * 65, "", "  ", "Ünï-7"],
    "first_name": ["Ana", " Wei", "", "f" * 100, "f" * 101, "Zoë"],
    "last_name": ["Garcia", "O'Connor", "Müller", "", "123", "-", "l" * 100, "l" * 101],
    "date_of_birth": [
        "1980-01-31",
        "1999-12-01",
        "2000-02-29",
        "1901-02-29",
        "1980-13-01",
        "2030-01-01",
        "1890-01-01",
        "1905-06-02",
        "01/31/1980",
        "",
        "１９８０-01-31",
        " 1970-07-04 ",
    ],
    "ssn_last4": ["1234", "0000", "", "123", "12345", "12a4", "١٢٣٤"],
    "zip": ["94107", "10027", "00601", "99501", "00000", "9410", "941071", "", "ABCDE", " 60614"],
    "phone": [
        "+14155552671",
        "+12125550199",
        "+14165550123",
        "+18765550123",
        "+18005550123",
        "+19005550123",
        "+442079460000",
        "+1 4155552671",
        "+1415555267",
        "+11155552671",
        "+١٤١٥٥٥٥٢٦٧١",
        "4155552671",
        "",
        "",
    ],
    "email": ["d@example.com", "", "not-an-email", "a@b", "e" * 243 + "@example.com", "x@y.z"],
    "timezone": ["", "", "America/Chicago", "Mars/Olympus", "UTC", "t" * 65],
    "creditor": ["Northwind Bank", "", "c" * 200, "c" * 201],
    "original_creditor": ["Original, Inc.", "", "o" * 201],
    "account_last4": ["4321", "", "432", "43210", "٤٣٢١"],
    "description": ["Card balance", 'ER "visit"', "Line\nbreak", ""],
    "principal": ["1000.00", "0.00", "250.5", "1,000.00", "$10.00", "1e3", "", f"{BIG}.00"],
    "interest": ["0.00", "12.34", "12.345", "-1.00", "", "00012.05", f"{BIG}.01"],
    "fees": ["0.00", "5.00", "5", "", "٥.00"],
    "payments_credits": ["0.00", "10.00", "999999.99", "", "1.00"],
    "itemization_date": ["2025-01-15", "2025-06-01", "2025-06-02", "2025-02-30", "", "25-01-15"],
    "policy": ["", "default", "medical", "unknown", "p" * 65],
    "address_line1": ["", "1 Main St", "a" * 200, "a" * 201],
    "address_line2": ["", "Apt 2", "b" * 201],
    "city": ["", "Springfield", "c" * 100, "c" * 101],
    "state": ["", "", "ma", "MA", "PR", "ZZ", "Massachusetts"],
    "contact_consent": ["", "", "sms", "email", "SMS, email", "sms,sms", ",", "fax", "sms,fax"],
    "validation_notice_sent": ["", "", "2025-02-01", "2025-07-01", "2025-02-31"],
}


def dialects() -> list[Dialect]:
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    return [sqlite.dialect(), PGDialect_psycopg(), postgresql.dialect()]


def comparable(row: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    """A row with psycopg's JSON wrappers (which compare by identity) as what they wrap."""
    if row is None:
        return None
    return tuple(("json", value.obj) if hasattr(value, "obj") else value for value in row)


def record_for(columns: list[str], rng: random.Random, odd: float) -> list[str]:
    cells = []
    for name in columns:
        options = CHOICES[name]
        cells.append(options[0] if rng.random() > odd else rng.choice(options))
    return cells


@pytest.mark.parametrize("dialect", dialects(), ids=lambda d: f"{d.name}-{d.driver}")
def test_the_fast_road_gives_the_full_roads_rows(dialect: Dialect) -> None:
    rng = random.Random(21)
    validator = importer._Validator(POLICIES, TODAY)
    hasher = FactorHasher("fast-road-secret")
    fast_rows = full_only = rejected = 0
    for header_round in range(40):
        columns = list(SPEC_COLUMNS)
        if header_round:  # the first header is the spec's; then optional columns go missing
            dropped = {name for name in OPTIONAL_COLUMNS if rng.random() < 0.3}
            columns = [name for name in columns if name not in dropped]
            rng.shuffle(columns)
        rows = importer._Rows(columns, validator, hasher, dialect)
        assert rows.fast_ok
        for _ in range(600):
            record = record_for(columns, rng, odd=rng.choice([0.02, 0.1, 0.4]))
            raw = {name: cell.strip() for name, cell in zip(columns, record, strict=True)}
            values, problems = validator.row(raw)
            fast = rows.fast([*record, ""])
            if problems:
                assert fast is None, (raw, problems)
                rejected += 1
                continue
            full = rows.full(values)
            if fast is None:
                full_only += 1
            else:
                fast_rows += 1
                assert comparable(fast) == comparable(full), raw
                # Twice: a value's remembered work answers as its first computation did.
                assert comparable(rows.fast([*record, ""])) == comparable(full)
    # Each road was taken, and the fast one for most valid rows.
    assert fast_rows > 5000 and full_only > 100 and rejected > 5000
    assert fast_rows > full_only


def test_a_dialect_that_processes_other_columns_takes_the_full_road() -> None:
    rows = importer._Rows(
        list(SPEC_COLUMNS),
        importer._Validator(POLICIES, TODAY),
        FactorHasher("s"),
        sqlite.dialect(),
    )
    rows.fast_ok = False
    assert rows.fast([*(CHOICES[name][0] for name in SPEC_COLUMNS), ""]) is None


def test_the_memos_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "MEMO_LIMIT", 50)
    rows = importer._Rows(
        list(SPEC_COLUMNS),
        importer._Validator(POLICIES, TODAY),
        FactorHasher("s"),
        sqlite.dialect(),
    )
    base = {name: CHOICES[name][0] for name in SPEC_COLUMNS}
    for day in range(1, 400):
        cells: dict[str, Any] = dict(base, date_of_birth=date.fromordinal(720000 + day).isoformat())
        assert rows.fast([*(cells[name] for name in SPEC_COLUMNS), ""]) is not None
    assert 0 < len(rows.dobs) <= 50


@pytest.mark.parametrize("region", ["US", "CA", "GB", "DE", "JM", "IN"])
def test_valid_for_region_answers_as_phonenumbers(region: str) -> None:
    rng = random.Random(region)
    valid = importer._valid_for_region(region)
    code = phonenumbers.country_code_for_region(region)
    agreed = accepted = 0
    for _ in range(20000):
        national = rng.randrange(10**5, 10**11)
        number = phonenumbers.PhoneNumber(country_code=code, national_number=national)
        want = phonenumbers.is_valid_number_for_region(number, region)
        assert valid(str(national)) == want, national
        agreed += 1
        accepted += want
    if region in ("US", "CA"):
        for _ in range(5000):  # the numbers an import meets: ten digits, NXX-NXX
            national = rng.randrange(2 * 10**9, 10**10)
            number = phonenumbers.PhoneNumber(country_code=1, national_number=national)
            want = phonenumbers.is_valid_number_for_region(number, region)
            assert valid(str(national)) == want, national
            accepted += want
    assert agreed and accepted
