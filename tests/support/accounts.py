"""One builder for Account rows in tests: the demo debtor DEMO-1001 unless overridden."""

from __future__ import annotations

from datetime import date
from typing import Any

from parley.tables import Account
from parley.verification.factors import factor_hash, last_name_key

SECRET = "test-secret-key-for-action-tests-0123456789"  # noqa: S105 - test only


def make_account(secret: str = SECRET, **overrides: Any) -> Account:
    values: dict[str, Any] = {
        "account_ref": "DEMO-1001",
        "first_name": "Maria",
        "last_name": "Garcia",
        "dob": "1985-03-14",
        "zip": "94107",
        "ssn4": "1234",
        "phone": "+14155550100",
        "creditor": "Northwind Bank",
        "original_creditor": "Northwind Bank",
        "account_last4": "4421",
        "description": "Credit card balance.",
        "principal_cents": 120000,
        "interest_cents": 8450,
        "fees_cents": 3500,
        "payments_credits_cents": 10000,
        "itemization_date": date(2024, 1, 15),
    }
    values.update(overrides)
    dob, zip5, ssn4 = values.pop("dob"), values.pop("zip"), values.pop("ssn4")
    return Account(
        last_name_key=last_name_key(values["last_name"]),
        dob_hash=factor_hash(secret, "dob", dob),
        zip_hash=factor_hash(secret, "zip", zip5),
        ssn4_hash=factor_hash(secret, "ssn4", ssn4) if ssn4 else None,
        zip_timezones=["America/Los_Angeles"],
        **values,
    )
