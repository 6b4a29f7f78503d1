"""The validation notice as provided (SPEC §14, Reg F 1006.34): recording that it was given,
its validation period, and what it said.

A notice is "provided" when the debtor is given it: sent with the first contact, offered in the
chat after the disclosure, or opened from its link (a copy opened before anything recorded it is
taken as provided then: later than the real sending, so the period only gets longer). The first
provision counts; giving it again changes nothing. An account whose file says
`validation_notice_sent` had its notice by other means: its period runs from that date.

Every figure is frozen when the notice is first provided (Reg F wants the amounts as of the
notice), so the debtor's copy never changes under them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parley.core.clock import debtor_zone, local_date, utcnow
from parley.core.errors import NotConfigured
from parley.core.settings import Settings
from parley.documents.validation import validation_period_end
from parley.tables import Account, NoticeChannel, ValidationNotice


def debtor_today(account: Account, now: datetime | None = None) -> date:
    """Today in the debtor's calendar (the westernmost of their candidate zones)."""
    moment = now or utcnow()
    return local_date(moment, debtor_zone(account.zone_names, moment))


def recorded_notice(session: Session, account: Account) -> ValidationNotice | None:
    return session.scalars(
        select(ValidationNotice).where(ValidationNotice.account_id == account.id)
    ).first()


def first_sent_on(session: Session, account: Account) -> date | None:
    """The day the account's validation notice was first provided, by Parley or otherwise."""
    notice = recorded_notice(session, account)
    days = [d for d in (account.validation_notice_sent, notice and notice.sent_on) if d]
    return min(days) if days else None


def period_end(session: Session, account: Account) -> date | None:
    """The last day of the account's validation period; None while no notice was provided."""
    sent = first_sent_on(session, account)
    return validation_period_end(sent) if sent is not None else None


def earliest_period_end(session: Session, account: Account, now: datetime | None = None) -> date:
    """The period's end, or, while no notice was provided yet, the earliest it could end (a
    notice sent today): a date by which the debtor can certainly still dispute."""
    return period_end(session, account) or validation_period_end(debtor_today(account, now))


def within_validation_period(
    session: Session, account: Account, now: datetime | None = None
) -> bool:
    """Whether a dispute made now is within the validation period: on or before its end date
    in the debtor's calendar, or before any notice was provided (the period has not even begun
    and will end after today)."""
    end = period_end(session, account)
    return end is None or debtor_today(account, now) <= end


def provide_notice(
    session: Session,
    settings: Settings,
    account: Account,
    channel: NoticeChannel | str,
    now: datetime | None = None,
) -> ValidationNotice:
    """Record that the debtor was given the notice, with its content as of now; returns the
    first record when one exists (the first provision counts)."""
    existing = recorded_notice(session, account)
    if existing is not None:
        return existing
    moment = now or utcnow()
    sent_on = debtor_today(account, moment)
    imported = account.validation_notice_sent
    # The period runs from the first provision, which may be the one the file reports.
    ends = validation_period_end(min(sent_on, imported) if imported else sent_on)
    notice = ValidationNotice(
        account_id=account.id,
        sent_at=moment,
        sent_on=sent_on,
        channel=NoticeChannel(channel),
        period_ends=ends,
        content=notice_content(settings, account, sent_on, ends),
    )
    try:
        with session.begin_nested():
            session.add(notice)
            session.flush()
    except IntegrityError:  # provided at the same moment by another process: theirs counts
        found = recorded_notice(session, account)
        if found is None:
            raise
        return found
    return notice


def notice_content(
    settings: Settings, account: Account, notice_date: date, ends: date
) -> dict[str, Any]:
    """Every fact the notice shows (Reg F 1006.34(c)), as JSON-safe values."""
    address = settings.collector_mailing_address
    electronic = [p for p in (settings.dispute_email, settings.debtor_chat_url) if p]
    if not address or not electronic:
        raise NotConfigured(
            "notice_not_configured",
            "The validation notice needs PARLEY_COLLECTOR_ADDRESS and PARLEY_DISPUTE_EMAIL or "
            "PARLEY_CHAT_URL.",
        )
    debtor_address = [
        line
        for line in (
            account.address_line1,
            account.address_line2,
            " ".join(
                part for part in (f"{account.city}," if account.city else "", account.state) if part
            ),
        )
        if line and line.strip()
    ]
    return {
        "collector_name": settings.company_name,
        "collector_address": address,
        "collector_contact": settings.company_contact,
        "dispute_email": settings.dispute_email,
        "chat_url": settings.debtor_chat_url,
        "debtor_name": f"{account.first_name} {account.last_name}".strip(),
        "debtor_address": debtor_address,
        "account_ref": account.account_ref,
        "account_last4": account.account_last4,
        "creditor": account.creditor,
        "original_creditor": account.original_creditor,
        "description": account.description,
        "itemization_date": account.itemization_date.isoformat(),
        "itemization_amount_cents": account.principal_cents,
        "interest_cents": account.interest_cents,
        "fees_cents": account.fees_cents,
        # Payments and credits since the itemization date: the file's and Parley's own.
        "payments_credits_cents": account.payments_credits_cents
        + (account.posted_payments_cents or 0),
        "current_amount_cents": account.balance_cents,
        "notice_date": notice_date.isoformat(),
        "period_ends": ends.isoformat(),
    }
