"""Texts about the debt (parley.balance): exact cents, one place for the wording."""

from __future__ import annotations

from parley.balance.disclosures import disclosure_text
from parley.balance.explain import balance_text, details_text, itemization_text
from parley.escalations.reasons import dispute_kind
from tests.support.accounts import make_account


def test_disclosure_wording() -> None:
    assert disclosure_text("Acme") == (
        "This is Acme, a debt collector. This is an attempt to collect a debt and any "
        "information obtained will be used for that purpose."
    )


def test_balance_text_exact_cents() -> None:
    assert balance_text(make_account()) == (
        "Your balance is $1,219.50 for your Northwind Bank account ending 4421."
    )
    sold = make_account(
        creditor="Acme Debt Buyers",
        principal_cents=1,
        interest_cents=0,
        fees_cents=0,
        payments_credits_cents=0,
    )
    assert balance_text(sold) == (
        "Your balance is $0.01 for your Northwind Bank account ending 4421. "
        "The current creditor is Acme Debt Buyers."
    )


def test_itemization_adds_up() -> None:
    assert itemization_text(make_account()).splitlines() == [
        "Since January 15, 2024:",
        "Principal: $1,200.00",
        "Interest: $84.50",
        "Fees: $35.00",
        "Payments and credits: -$100.00",
        "Total: $1,219.50",
    ]


def test_details_name_both_creditors() -> None:
    text = details_text(make_account(creditor="Acme Debt Buyers"))
    assert "Creditor: Acme Debt Buyers." in text
    assert "Original creditor: Northwind Bank." in text
    assert "Account ending 4421." in text


def test_dispute_kinds() -> None:
    assert dispute_kind("this isn't my debt") == "not_mine"
    assert dispute_kind("I already paid this") == "already_paid"
    assert dispute_kind("the amount is wrong") == "wrong_amount"
    assert dispute_kind("this is identity theft") == "fraud"
    assert dispute_kind("I dispute this") == "other"
