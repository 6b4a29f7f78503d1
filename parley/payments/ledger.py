"""The payments ledger (SPEC §8): what Parley took off an account's balance, each thing once.

Invariant, checked by `balance_holds` and the property tests:

    account.balance_cents == account.original_balance_cents - SUM(ledger_entries.amount_cents)

`original_balance_cents` is the balance as imported (principal + interest + fees - the CSV's
payments/credits); `Account.posted_payments_cents` is a running copy of the ledger sum, updated
in the same transaction as the entry by a SQL increment (no lost update between two writers).
Each entry has a unique `reference` (the Stripe PaymentIntent id, or `settlement-plan-<id>`), so
a replayed webhook, the job and the webhook reporting the same charge, or the local checkout
clicked twice can never post the same money twice: the second insert is refused and ignored.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parley.records.audit import Kind, record
from parley.tables import Account, LedgerEntry, LedgerKind


def post(
    session: Session,
    account_id: int,
    amount_cents: int,
    reference: str,
    *,
    kind: LedgerKind = LedgerKind.PAYMENT,
    plan_id: int | None = None,
    installment_id: int | None = None,
    event_id: str | None = None,
) -> bool:
    """Post one amount once; False (and nothing changed) if `reference` was already posted."""
    if amount_cents < 1:
        raise ValueError("a ledger entry takes a positive amount of cents")
    if session.scalar(select(LedgerEntry.id).where(LedgerEntry.reference == reference)):
        return False
    entry = LedgerEntry(
        account_id=account_id,
        plan_id=plan_id,
        installment_id=installment_id,
        kind=kind,
        amount_cents=amount_cents,
        reference=reference,
        event_id=event_id,
    )
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError:  # a concurrent writer posted the same reference first
        return False
    session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(posted_payments_cents=Account.posted_payments_cents + amount_cents)
        .execution_options(synchronize_session=False)
    )
    account = session.get(Account, account_id)
    if account is not None:
        session.refresh(account, ["posted_payments_cents"])
    record(
        session,
        Kind.LEDGER_SETTLEMENT if kind == LedgerKind.SETTLEMENT else Kind.LEDGER_PAYMENT,
        account_id=account_id,
        entry_id=entry.id,
        amount_cents=amount_cents,
        reference=reference,
        plan_id=plan_id,
        installment_id=installment_id,
    )
    return True


def posted_total(session: Session, account_id: int) -> int:
    """The sum of the account's ledger entries, read from the entries themselves."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
            LedgerEntry.account_id == account_id
        )
    )
    return int(total or 0)


def balance_holds(session: Session, account: Account) -> bool:
    """The ledger invariant for one account (see the module docstring)."""
    posted = posted_total(session, account.id)
    return (
        account.posted_payments_cents == posted
        and account.balance_cents == account.original_balance_cents - posted
    )
