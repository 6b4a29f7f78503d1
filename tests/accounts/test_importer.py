"""SPEC §3: account import is validated as a whole, all-or-nothing, idempotent and hashed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from parley.accounts.importer import ImportReport, RowError, import_accounts
from parley.cli import app
from parley.core.db import transaction
from parley.core.settings import ROOT, get_settings
from parley.tables import Account, AuditEvent
from parley.verification.factors import factor_hash

SECRET = "import-test-secret"
POLICIES = {"default", "medical"}
TODAY = date(2025, 6, 1)
HEADER = (
    "account_id,first_name,last_name,date_of_birth,ssn_last4,zip,phone,email,timezone,creditor,"
    "original_creditor,account_last4,description,principal,interest,fees,payments_credits,"
    "itemization_date,policy"
)
MARIA = (
    "DEMO-1001,Maria,Garcia,1985-03-14,1234,94107,+14155550101,maria@example.com,"
    "America/Los_Angeles,Northwind Bank,Northwind Bank Visa,4421,Credit card balance,"
    "1200.00,84.50,35.00,100.00,2025-01-31,default"
)
JAMES = (
    "DEMO-1002,James,O'Connor,1972-11-02,,10027,,,,Harbor Health,St. Brendan's Hospital,7780,"
    '"ER visit, not covered",2450.00,0.00,0.00,250.00,2025-02-15,'
)


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def run_import(factory: sessionmaker[Session], text: str | Path) -> ImportReport:
    source: io.StringIO | Path = io.StringIO(text) if isinstance(text, str) else text
    with transaction(factory) as session:
        return import_accounts(
            session, source, secret=SECRET, policy_names=POLICIES, file_name="t.csv", today=TODAY
        )


def accounts(factory: sessionmaker[Session]) -> dict[str, Account]:
    with factory() as session:
        return {a.account_ref: a for a in session.scalars(select(Account))}


def audit_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def with_field(row: str, column: str, value: str) -> str:
    """MARIA with one column replaced (the row has no quoted commas)."""
    cells = row.split(",")
    cells[HEADER.split(",").index(column)] = value
    return ",".join(cells)


def test_happy_path_stores_cents_hashes_and_zones(committed_factory: sessionmaker[Session]) -> None:
    report = run_import(committed_factory, csv_text(MARIA, JAMES))
    assert report.errors == []
    assert (report.created, report.updated) == (2, 0)

    stored = accounts(committed_factory)
    maria = stored["DEMO-1001"]
    assert maria.balance_cents == 120000 + 8450 + 3500 - 10000 == 121950
    assert (maria.principal_cents, maria.interest_cents, maria.fees_cents) == (120000, 8450, 3500)
    assert maria.payments_credits_cents == 10000
    assert maria.dob_hash == factor_hash(SECRET, "dob", "1985-03-14")
    assert maria.zip_hash == factor_hash(SECRET, "zip", "94107")
    assert maria.ssn4_hash == factor_hash(SECRET, "ssn4", "1234")
    assert maria.last_name_key == "garcia"
    assert maria.zip_timezones == ["America/Los_Angeles"]
    assert maria.itemization_date == date(2025, 1, 31)
    assert (maria.phone, maria.timezone) == ("+14155550101", "America/Los_Angeles")
    plain = {str(value) for value in vars(maria).values()}
    assert not {"1985-03-14", "1234", "94107", "19850314"} & plain

    james = stored["DEMO-1002"]
    assert james.policy == "default"  # blank policy
    assert (james.ssn4_hash, james.phone, james.email, james.timezone) == (None, None, None, None)
    assert james.description == "ER visit, not covered"
    assert james.last_name_key == "oconnor"
    assert james.zip_timezones == ["America/New_York"]

    with committed_factory() as session:
        events = session.scalars(select(AuditEvent)).all()
    assert [(e.kind, e.data) for e in events] == [
        ("accounts.imported", {"created": 2, "updated": 0, "file": "t.csv"})
    ]


BAD_ROWS = [
    ("date_of_birth", "03/14/1985", "date_of_birth: '03/14/1985' is not a date in YYYY-MM-DD"),
    ("date_of_birth", "1985-02-30", "is not a real date"),
    ("date_of_birth", "2030-01-01", "in the future or more than 120 years ago"),
    ("itemization_date", "2025-13-01", "itemization_date: '2025-13-01' is not a real date"),
    ("itemization_date", "2099-01-01", "itemization_date: '2099-01-01' is in the future"),
    ("principal", "1200.005", "principal: amount '1200.005' has more than 2 decimal places"),
    ("interest", "-1.00", "interest: amount '-1.00' is negative"),
    ("fees", "ten", "fees: amount 'ten' is not a decimal number"),
    ("payments_credits", "5000.00", "payments_credits exceed principal + interest + fees"),
    ("zip", "9410", "zip: '9410' is not a 5-digit US ZIP"),
    ("zip", "94107-1234", "is not a 5-digit US ZIP"),
    ("ssn_last4", "123", "ssn_last4: '123' is not exactly 4 digits"),
    ("ssn_last4", "123-45-6789", "ssn_last4: '123-45-6789' is not exactly 4 digits"),
    ("account_last4", "421", "account_last4: '421' is not exactly 4 digits"),
    ("phone", "4155550101", "phone: '4155550101' is not a valid phone number in E.164"),
    ("phone", "+1 415 555 0101", "is not a valid phone number in E.164"),
    ("phone", "+1555123", "is not a valid phone number in E.164"),
    ("email", "maria.example.com", "email: 'maria.example.com' is not an email address"),
    ("timezone", "Pacific Time", "timezone: 'Pacific Time' is not an IANA time zone"),
    ("timezone", "America/Springfield", "is not an IANA time zone"),
    ("policy", "gold", "policy: unknown policy 'gold'; known: default, medical"),
    ("last_name", "", "last_name is empty"),
    ("last_name", "--", "last_name: '--' has no letters"),
    ("creditor", "", "creditor is empty"),
    ("description", "  ", "description is empty"),
    ("principal", "", "principal is empty"),
    ("account_id", "", "account_id is empty"),
    ("account_id", "DEMO-1002", "account_id 'DEMO-1002' already appears on line 2"),
    ("account_id", "X" * 65, "account_id is longer than 64 characters"),
]


@pytest.mark.parametrize(("column", "value", "reason"), BAD_ROWS)
def test_each_kind_of_bad_row_is_rejected_with_its_line(
    committed_factory: sessionmaker[Session], column: str, value: str, reason: str
) -> None:
    bad = with_field(MARIA, column, value)
    report = run_import(committed_factory, csv_text(JAMES, bad))
    assert [e.line for e in report.errors] == [3], report.errors
    assert reason in report.errors[0].reason
    assert str(report.errors[0]).startswith("line 3: ")
    assert (report.created, report.updated) == (0, 0)
    assert accounts(committed_factory) == {}
    assert audit_count(committed_factory) == 0


def test_every_error_is_reported_and_earlier_data_is_untouched(
    committed_factory: sessionmaker[Session],
) -> None:
    assert run_import(committed_factory, csv_text(MARIA)).created == 1

    changed = with_field(MARIA, "principal", "999.00")
    text = csv_text(
        changed,
        with_field(with_field(JAMES, "zip", "ABCDE"), "ssn_last4", "12"),
        JAMES,
        "DEMO-1003,short,row",
        with_field(JAMES, "account_id", "DEMO-1001"),
    )
    report = run_import(committed_factory, text)
    assert [str(e) for e in report.errors] == [
        "line 3: ssn_last4: '12' is not exactly 4 digits",
        "line 3: zip: 'ABCDE' is not a 5-digit US ZIP (keep leading zeros)",
        "line 4: account_id 'DEMO-1002' already appears on line 3",
        "line 5: expected 19 fields, found 3",
        "line 6: account_id 'DEMO-1001' already appears on line 2",
    ]
    stored = accounts(committed_factory)
    assert list(stored) == ["DEMO-1001"]
    assert stored["DEMO-1001"].principal_cents == 120000
    assert audit_count(committed_factory) == 1


def test_line_numbers_count_physical_lines(committed_factory: sessionmaker[Session]) -> None:
    multiline = JAMES.replace('"ER visit, not covered"', '"ER visit,\nnot covered"')
    report = run_import(committed_factory, csv_text(multiline, "", with_field(MARIA, "zip", "1")))
    assert [e.line for e in report.errors] == [5]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER + ",nickname", "unknown column(s): 'nickname'"),
        (HEADER.replace("zip,", ""), "missing required column(s): zip"),
        (HEADER + ",zip", "duplicate column(s): zip"),
    ],
)
def test_bad_header_is_reported_on_line_1(
    committed_factory: sessionmaker[Session], header: str, message: str
) -> None:
    report = run_import(committed_factory, csv_text(MARIA, header=header))
    assert [str(e) for e in report.errors] == [f"line 1: {message}"]
    assert accounts(committed_factory) == {}


def test_optional_columns_may_be_left_out(committed_factory: sessionmaker[Session]) -> None:
    drop = {"ssn_last4", "phone", "email", "timezone", "policy"}
    names = HEADER.split(",")
    keep = [i for i, name in enumerate(names) if name not in drop]
    cells = MARIA.split(",")
    report = run_import(
        committed_factory,
        csv_text(",".join(cells[i] for i in keep), header=",".join(names[i] for i in keep)),
    )
    assert report.errors == []
    assert accounts(committed_factory)["DEMO-1001"].policy == "default"


def test_empty_file(committed_factory: sessionmaker[Session]) -> None:
    report = run_import(committed_factory, "")
    assert [str(e) for e in report.errors] == ["line 1: file is empty; expected a header row"]


def test_reimport_updates_without_duplicates(committed_factory: sessionmaker[Session]) -> None:
    run_import(committed_factory, csv_text(MARIA, JAMES))
    with transaction(committed_factory) as session:
        account = session.scalars(select(Account).where(Account.account_ref == "DEMO-1001")).one()
        account.collection_paused = True
        first_id = account.id

    report = run_import(
        committed_factory, csv_text(with_field(MARIA, "payments_credits", "200.00"))
    )
    assert (report.created, report.updated, report.errors) == (0, 1, [])
    again = run_import(committed_factory, csv_text(with_field(MARIA, "payments_credits", "200.00")))
    assert (again.created, again.updated) == (0, 1)

    stored = accounts(committed_factory)
    assert len(stored) == 2
    maria = stored["DEMO-1001"]
    assert maria.id == first_id
    assert maria.balance_cents == 111950
    assert maria.collection_paused  # operational state survives a re-import
    assert audit_count(committed_factory) == 3


def test_path_with_bom_and_crlf(committed_factory: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "portfolio.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text(MARIA).replace("\n", "\r\n").encode())
    with transaction(committed_factory) as session:
        report = import_accounts(session, path, secret=SECRET, policy_names=POLICIES)
    assert (report.created, report.errors, report.file) == (1, [], "portfolio.csv")


def test_non_utf8_file_is_rejected(
    committed_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(csv_text(MARIA, JAMES.replace("Health", "Salud Peña")).encode("latin-1"))
    report = run_import(committed_factory, path)
    assert report.errors == [RowError(3, "file is not UTF-8 text")]
    assert accounts(committed_factory) == {}


def test_demo_accounts_import_cleanly(committed_factory: sessionmaker[Session]) -> None:
    with transaction(committed_factory) as session:
        report = import_accounts(
            session, ROOT / "config" / "demo-accounts.csv", secret=SECRET, policy_names=POLICIES
        )
    assert report.errors == []
    assert report.created >= 8
    maria = accounts(committed_factory)["DEMO-1001"]
    assert (maria.first_name, maria.last_name, maria.creditor) == (
        "Maria",
        "Garcia",
        "Northwind Bank",
    )
    assert maria.balance_cents == 121950
    assert maria.dob_hash == factor_hash(SECRET, "dob", "1985-03-14")
    assert maria.zip_hash == factor_hash(SECRET, "zip", "94107")
    assert maria.ssn4_hash == factor_hash(SECRET, "ssn4", "1234")


@pytest.fixture
def cli_env(
    db_url: str, committed_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PARLEY_SECRET_KEY", SECRET)
    monkeypatch.delenv("PARLEY_POLICIES", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_cli_rejects_bad_file_with_every_line_on_stderr(
    cli_env: None, committed_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        csv_text(
            MARIA,
            with_field(JAMES, "zip", "1"),
            with_field(MARIA, "account_id", "X-1")[:-7] + "gold",
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["accounts", "import", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == "line 3: zip: '1' is not a 5-digit US ZIP (keep leading zeros)"
    assert lines[1] == "line 4: policy: unknown policy 'gold'; known: default, medical"
    assert lines[2] == "bad.csv: 2 error(s); no accounts were imported."
    assert result.stdout == ""
    assert accounts(committed_factory) == {}


def test_cli_imports_and_reports_counts(
    cli_env: None, committed_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "good.csv"
    path.write_text(csv_text(MARIA, JAMES), encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(app, ["accounts", "import", str(path)])
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "good.csv: 2 created, 0 updated."
    second = runner.invoke(app, ["accounts", "import", str(path)])
    assert second.stdout.strip() == "good.csv: 0 created, 2 updated."
    stored = accounts(committed_factory)
    assert stored["DEMO-1001"].dob_hash == factor_hash(SECRET, "dob", "1985-03-14")


def test_cli_demo_load_migrates_and_imports(
    cli_env: None, committed_factory: sessionmaker[Session]
) -> None:
    result = CliRunner().invoke(app, ["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "DEMO-1001" in accounts(committed_factory)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["db"],
        ["db", "upgrade"],
        ["accounts"],
        ["accounts", "import"],
        ["demo", "load"],
        ["policies", "check"],
    ],
)
def test_every_command_has_help(args: list[str]) -> None:
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ('"' + "x" * 200_000 + '"', "a field is longer than 131072 characters"),
        ("a\x00b", "not readable as CSV"),
    ],
    ids=["oversized-field", "nul-byte"],
)
def test_an_unreadable_record_is_a_line_numbered_error_not_a_traceback(
    committed_factory: sessionmaker[Session], cell: str, reason: str
) -> None:
    broken = with_field(MARIA, "description", cell).replace("DEMO-1001", "DEMO-1009")
    report = run_import(committed_factory, csv_text(JAMES, broken, MARIA))
    assert [(e.line, e.reason[: len(reason)]) for e in report.errors] == [(3, reason)]
    assert accounts(committed_factory) == {}


ADDRESS_HEADER = (
    HEADER + ",address_line1,address_line2,city,state,contact_consent,validation_notice_sent"
)


def with_address(row: str, *cells: str) -> str:
    return row + "," + ",".join(cells)


def test_address_consent_and_notice_date_are_stored(
    committed_factory: sessionmaker[Session],
) -> None:
    text = csv_text(
        with_address(MARIA, "12 Main St", "Apt 3", "San Francisco", "ca", '"sms, email"', ""),
        with_address(JAMES, "", "", "", "", "", "2025-03-01"),
        header=ADDRESS_HEADER,
    )
    report = run_import(committed_factory, text)
    assert report.errors == []
    stored = accounts(committed_factory)
    maria, james = stored["DEMO-1001"], stored["DEMO-1002"]
    assert (maria.address_line1, maria.address_line2, maria.city) == (
        "12 Main St",
        "Apt 3",
        "San Francisco",
    )
    assert maria.state == "CA"
    assert maria.contact_consent == ["email", "sms"]
    assert maria.validation_notice_sent is None
    # A blank state is derived from the ZIP (10027 is in New York); no consent means none.
    assert (james.state, james.contact_consent) == ("NY", [])
    assert james.validation_notice_sent == date(2025, 3, 1)


def test_a_file_without_the_new_columns_derives_the_state(
    committed_factory: sessionmaker[Session],
) -> None:
    assert run_import(committed_factory, csv_text(MARIA)).errors == []
    maria = accounts(committed_factory)["DEMO-1001"]
    assert (maria.state, maria.contact_consent, maria.address_line1) == ("CA", [], None)


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        (("", "", "", "ZZ", "", ""), "state: 'ZZ' is not a 2-letter USPS state code"),
        (
            ("", "", "", "", "fax", ""),
            "contact_consent: unknown channel(s) 'fax'; known: email, sms",
        ),
        (
            ("", "", "", "", "", "2099-01-01"),
            "validation_notice_sent: '2099-01-01' is in the future",
        ),
        (("", "", "", "", "", "01/02/2025"), "validation_notice_sent: '01/02/2025' is not a date"),
        (("X" * 201, "", "", "", "", ""), "address_line1 is longer than 200 characters"),
    ],
)
def test_bad_address_or_consent_is_a_line_numbered_error(
    committed_factory: sessionmaker[Session], cells: tuple[str, ...], reason: str
) -> None:
    report = run_import(
        committed_factory, csv_text(MARIA, with_address(JAMES, *cells), header=ADDRESS_HEADER)
    )
    assert [(error.line, error.reason) for error in report.errors if reason in error.reason] == [
        (3, next(e.reason for e in report.errors if reason in e.reason))
    ]
    assert accounts(committed_factory) == {}


def test_consent_to_a_channel_needs_its_contact_detail(
    committed_factory: sessionmaker[Session],
) -> None:
    # James has neither a phone nor an email in the file.
    row = with_address(JAMES, "", "", "", "", '"sms,email"', "")
    report = run_import(committed_factory, csv_text(row, header=ADDRESS_HEADER))
    assert [str(error) for error in report.errors] == [
        "line 2: contact_consent names email but email is empty",
        "line 2: contact_consent names sms but phone is empty",
    ]


def test_spec_columns_are_every_column_once() -> None:
    from parley.accounts.importer import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, SPEC_COLUMNS

    assert len(SPEC_COLUMNS) == len(set(SPEC_COLUMNS))
    assert set(SPEC_COLUMNS) == set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
