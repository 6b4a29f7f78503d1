"""The account as imported from the creditor's file (SPEC §3)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, Text, func, literal_column
from sqlalchemy.orm import Mapped, mapped_column

from parley.tables.base import Base, TimestampMixin


class Account(TimestampMixin, Base):
    """A debt as loaded from the creditor's CSV. Verification factors are keyed hashes only."""

    __tablename__ = "accounts"
    # Candidates for an identity check come from one indexed lookup on the surname's key and
    # one keyed factor hash, never from a scan of everyone sharing the surname (SPEC §13).
    __table_args__ = (
        Index("ix_accounts_name_dob", "last_name_key", "dob_hash"),
        Index("ix_accounts_name_zip", "last_name_key", "zip_hash"),
        Index("ix_accounts_name_ssn4", "last_name_key", "ssn4_hash"),
        # The console's search by first name, a range on the lowered name (parley.console.accounts).
        Index("ix_accounts_first_name_lower", func.lower(literal_column("first_name"))),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_ref: Mapped[str] = mapped_column(String(64), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    last_name_key: Mapped[str] = mapped_column(String(100))
    dob_hash: Mapped[str] = mapped_column(String(64))
    ssn4_hash: Mapped[str | None] = mapped_column(String(64))
    zip_hash: Mapped[str] = mapped_column(String(64))
    zip_timezones: Mapped[list[Any]] = mapped_column(default=list)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    timezone: Mapped[str | None] = mapped_column(String(64))
    creditor: Mapped[str] = mapped_column(String(200))
    original_creditor: Mapped[str] = mapped_column(String(200))
    account_last4: Mapped[str] = mapped_column(String(4))
    description: Mapped[str] = mapped_column(Text)
    principal_cents: Mapped[int] = mapped_column(BigInteger)
    interest_cents: Mapped[int] = mapped_column(BigInteger)
    fees_cents: Mapped[int] = mapped_column(BigInteger)
    payments_credits_cents: Mapped[int] = mapped_column(BigInteger)
    itemization_date: Mapped[date] = mapped_column(Date)
    policy: Mapped[str] = mapped_column(String(64), default="default")
    # The debtor's mailing address (SPEC §3): the validation notice is addressed with it and the
    # state's contact rules (§14) apply; `state` is derived from the ZIP when the file leaves it
    # blank, so it is known for every account.
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(2))
    # The channels the debtor consented to be contacted on first (`sms`, `email`); empty means
    # Parley only answers (SPEC §14).
    contact_consent: Mapped[list[Any]] = mapped_column(default=list)
    # A validation notice already sent by other means on this date (SPEC §14).
    validation_notice_sent: Mapped[date | None] = mapped_column(Date)
    collection_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Sum of this account's `ledger_entries` (payments Parley took, settlement remainders):
    # kept apart from the imported `payments_credits_cents` so the CSV's figures stay as loaded.
    posted_payments_cents: Mapped[int] = mapped_column(BigInteger, default=0)

    @property
    def zone_names(self) -> list[str]:
        """Candidate zones for the debtor's calendar: the account's own zone when the file gave
        one, else every zone its ZIP code spans (parley.core.clock picks among them)."""
        if self.timezone:
            return [self.timezone]
        return [str(zone) for zone in self.zip_timezones or []]

    @property
    def original_balance_cents(self) -> int:
        """The balance as imported from the creditor's file."""
        return (
            self.principal_cents
            + self.interest_cents
            + self.fees_cents
            - self.payments_credits_cents
        )

    @property
    def balance_cents(self) -> int:
        """Invariant (parley.payments.ledger): the original balance minus everything posted."""
        return self.original_balance_cents - (self.posted_payments_cents or 0)
