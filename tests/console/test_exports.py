"""CSV exports (parley.console.exports): contents of each export from the seeded portfolio,
formula-injection safety, and the transcript."""

from __future__ import annotations

import csv
import io

from sqlalchemy.orm import Session

from parley.console import exports
from tests.support.console_seed import FORMULA_NAME, seed


def read(session: Session, name: str) -> list[dict[str, str]]:
    text = "".join(exports.to_csv(exports.EXPORTS[name](session)))
    return list(csv.DictReader(io.StringIO(text)))


def test_safe_text_prefixes_every_formula_start() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert exports.safe_text(f"{start}1+1") == f"'{start}1+1"
    assert exports.safe_text("Ada") == "Ada"
    assert exports.safe_text("a=b") == "a=b"
    assert exports.cell(-500) == "-500"  # numbers Parley formats are numbers
    assert exports.cell(exports.dollars(-12345)) == "-123.45"


def test_accounts_export(session: Session) -> None:
    seed(session)
    rows = {
        r["account_ref"]: r
        for r in read(session, "accounts")
        if r["account_ref"].startswith("SEED-")
    }
    assert set(rows) == {"SEED-1", "SEED-2", "SEED-3", "SEED-4", "SEED-5"}
    assert rows["SEED-1"]["balance"] == "750.00"
    assert rows["SEED-1"]["paid_through_parley"] == "250.00"
    assert rows["SEED-1"]["original_balance"] == "1000.00"
    assert rows["SEED-3"]["first_name"] == "'" + FORMULA_NAME
    assert rows["SEED-3"]["collection_paused"] == "yes"
    assert rows["SEED-2"]["priority_score"] == "0"
    assert rows["SEED-2"]["balance"] == "0.00"


def test_accounts_export_carries_legal_review(session: Session) -> None:
    from parley.console import priority

    seeded = seed(session)
    priority.set_legal_review(session, "user:sup", seeded.accounts["a4"], "=cmd|' /C calc'!A0")
    rows = {r["account_ref"]: r for r in read(session, "accounts")}
    assert rows["SEED-4"]["legal_review"] == "yes"
    assert rows["SEED-4"]["legal_review_reason"] == "'=cmd|' /C calc'!A0"
    assert rows["SEED-4"]["legal_review_since"]
    assert rows["SEED-1"]["legal_review"] == "no" and rows["SEED-1"]["legal_review_reason"] == ""


def test_plans_payments_promises_exports(session: Session) -> None:
    seed(session)
    plans = {r["account_ref"]: r for r in read(session, "plans")}
    assert plans["SEED-1"]["kind"] == "Installment plan"
    assert plans["SEED-1"]["kind_code"] == "installments"
    assert plans["SEED-1"]["status"] == "Paying"
    assert (plans["SEED-1"]["total"], plans["SEED-1"]["paid_so_far"]) == ("1000.00", "250.00")
    assert (
        plans["SEED-1"]["installments"] == "4" and plans["SEED-1"]["next_due"] == "2026-05-01"
    )  # the first one is paid
    assert plans["SEED-2"]["status_code"] == "completed" and plans["SEED-2"]["next_due"] == ""
    assert plans["SEED-4"]["broken_at"].startswith("2026-03-14")
    payments = read(session, "payments")
    assert sorted((r["account_ref"], r["amount"]) for r in payments) == [
        ("SEED-1", "250.00"),
        ("SEED-2", "500.00"),
        ("SEED-4", "100.00"),
    ]
    assert sum(int(r["amount"].replace(".", "")) for r in payments) == 85000
    promises = {r["account_ref"]: r for r in read(session, "promises")}
    assert promises["SEED-3"]["amount"] == "200.00" and promises["SEED-3"]["status"] == "Open"
    assert promises["SEED-4"]["status_code"] == "broken"


def test_escalations_export_is_readable_and_safe(session: Session) -> None:
    seed(session)
    rows = read(session, "escalations")
    assert len(rows) == 5  # A2 one, A3 one, A5 three
    dispute = next(r for r in rows if r["account_ref"] == "SEED-3")
    assert dispute["reason"] == "Dispute" and dispute["reason_code"] == "dispute"
    assert dispute["summary"] == "'+SUM(A1:A9) says it is not theirs"
    assert dispute["status"] == "Resolved" and dispute["outcome"] == "Resolved"
    hardship = next(r for r in rows if r["reason_code"] == "hardship")
    assert hardship["resolved_at"] == "" and hardship["outcome"] == ""


def test_transcript_exports(session: Session) -> None:
    seeded = seed(session)
    c5 = seeded.conversations["c5"]
    from parley.tables import Message

    session.add(
        Message(
            conversation_id=c5.id, direction="inbound", sender="debtor", text="=1+1\nsecond line"
        )
    )
    session.flush()
    rows = list(
        csv.DictReader(io.StringIO("".join(exports.to_csv(exports.transcript_rows(session, c5)))))
    )
    assert [r["sender"] for r in rows] == ["Debtor", "Agent", "Agent", "Debtor"]
    assert rows[-1]["text"] == "'=1+1\nsecond line"
    text = "".join(exports.transcript_text(session, c5))
    assert "Account: SEED-5" in text and "Channel: Web chat" in text
    assert "Debtor: I lost my job" in text
    assert "Debtor: =1+1\n    second line" in text


def test_to_csv_streams_in_chunks() -> None:
    rows = ([str(i)] for i in range(exports.CHUNK_ROWS * 2 + 1))
    chunks = list(exports.to_csv(rows))
    assert len(chunks) == 3
