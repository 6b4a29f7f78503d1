"""The written agreement a debtor keeps (SPEC §6, §14): an agreed plan or settlement with its
parties, account, amounts, schedule, the policy's missed-payment terms, dispute rights and how
to pay. Built from the stored plan (the same record the chat's confirmation is built from), as
the same `Document` the validation notice is, so one renderer makes its page and PDF.

The missed-payment terms are the ones recorded with the plan at agreement
(`parley.payments.events.payment_rules`: the values that will actually be applied), not today's
policy file, so an operator editing a policy never rewrites an agreement already made.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.core.clock import local_date, utcnow
from parley.core.dates import long_date
from parley.core.money import format_cents
from parley.core.settings import Settings
from parley.documents.layout import Document, Section
from parley.documents.notices import period_end
from parley.documents.overshadowing import dispute_right_sentence
from parley.negotiation.schedules import SPOKEN
from parley.payments.events import payment_rules
from parley.tables import (
    Account,
    InstallmentStatus,
    LinkStatus,
    PaymentLink,
    PaymentPlan,
    PlanKind,
)

TITLES = {
    PlanKind.INSTALLMENTS: "Payment plan agreement",
    PlanKind.SETTLEMENT: "Settlement agreement",
    PlanKind.FULL: "Payment agreement (payment in full)",
}
STATUS_WORDS = {InstallmentStatus.PAID: "paid", InstallmentStatus.CANCELLED: "cancelled"}


def agreement_document(session: Session, settings: Settings, plan: PaymentPlan) -> Document:
    account = session.get(Account, plan.account_id)
    if account is None:  # pragma: no cover - a plan always has its account (foreign key)
        raise ValueError(f"plan {plan.id} has no account")
    kind = PlanKind(plan.kind)
    agreed = local_date(plan.agreed_at or utcnow(), plan.timezone)
    collector = settings.company_name
    address = settings.collector_mailing_address or settings.company_contact
    debtor = f"{account.first_name} {account.last_name}".strip()
    payments = list(plan.installments)
    sections = (
        _parties(collector, debtor, account),
        _amounts(plan, kind, len(payments)),
        _schedule(plan),
        _missed_payments(settings, plan, kind, payments[-1].due_date if payments else agreed),
        _how_to_pay(session, plan),
        _dispute_rights(session, settings, account, plan, kind, address),
    )
    return Document(
        title=TITLES.get(kind, "Payment agreement"),
        filename=f"agreement-plan-{plan.id}",
        sender=(collector, address, settings.company_contact),
        recipient=(debtor, *_address_lines(account)),
        date_line=f"Plan #{plan.id}, agreed on {long_date(agreed)}.",
        sections=sections,
        footer=(
            f"{collector} is a debt collector. This is an attempt to collect a debt and any "
            "information obtained will be used for that purpose."
        ),
    )


def _address_lines(account: Account) -> list[str]:
    city = ", ".join(part for part in (account.city, account.state) if part)
    return [line for line in (account.address_line1, account.address_line2, city) if line]


def _parties(collector: str, debtor: str, account: Account) -> Section:
    rows = [
        ("Between", f"{debtor} (you)"),
        ("and", f"{collector} (the debt collector), for {account.creditor}"),
        ("Account", f"{account.original_creditor} account ending {account.account_last4}"),
        ("Our reference", account.account_ref),
    ]
    if account.creditor != account.original_creditor:
        rows.append(("Current creditor", account.creditor))
    return Section("Who and what this is about", rows=tuple(rows))


def _amounts(plan: PaymentPlan, kind: PlanKind, count: int) -> Section:
    balance = plan.balance_at_agreement_cents
    rows = [("Balance when agreed", format_cents(balance))]
    paragraphs: list[str] = []
    if kind == PlanKind.SETTLEMENT:
        rows.append(("Settlement amount", format_cents(plan.total_cents)))
        rows.append(("Reduction", format_cents(balance - plan.total_cents)))
        paragraphs.append(
            f"Once {format_cents(plan.total_cents)} is paid in full, the account is settled for "
            "that amount and nothing more is owed on it."
        )
    else:
        rows.append(("Agreed total", format_cents(plan.total_cents)))
    spoken = SPOKEN.get(plan.frequency or "", "")
    count_text = f"{count} payment{'s' if count != 1 else ''}"
    rows.append(("Number of payments", f"{count_text} {spoken}".strip()))
    return Section("Amounts", paragraphs=tuple(paragraphs), rows=tuple(rows))


def _schedule(plan: PaymentPlan) -> Section:
    rows = []
    for installment in plan.installments:
        status = STATUS_WORDS.get(InstallmentStatus(installment.status))
        label = f"Payment {installment.sequence}: {long_date(installment.due_date)}"
        rows.append(
            (label + (f" ({status})" if status else ""), format_cents(installment.amount_cents))
        )
    rows.append(("Total", format_cents(plan.total_cents)))
    zone = plan.timezone or "your time zone"
    return Section(
        "Payment schedule",
        paragraphs=(f"Dates are in your time zone ({zone}).",),
        rows=tuple(rows),
        total_label="Total",
    )


def _missed_payments(
    settings: Settings, plan: PaymentPlan, kind: PlanKind, last_due: date
) -> Section:
    tolerance, retry_days = payment_rules(plan, settings)
    balance = format_cents(plan.balance_at_agreement_cents)
    paragraphs: tuple[str, ...]
    if kind == PlanKind.INSTALLMENTS:
        paragraphs = (
            f"If a payment is declined, we will tell you and try the saved card again "
            f"{retry_days} day{'s' if retry_days != 1 else ''} later. A payment may be declined "
            f"up to {tolerance} time{'s' if tolerance != 1 else ''} and still be retried.",
            f"If the same payment is declined {tolerance + 1} times, the plan is put on hold and "
            "a specialist contacts you to find a way forward; what you have paid still counts "
            "and the rest of the balance stays owed.",
            "If you know a payment will be late, tell us before its date in the chat: you can ask "
            "to move a payment date.",
        )
    else:
        what = "the settlement" if kind == PlanKind.SETTLEMENT else "the payment"
        paragraphs = (
            f"If {what} is not paid by {long_date(last_due)}, this agreement ends: the balance "
            f"of {balance}, less anything you paid, stays owed, and you can contact us to agree "
            "new terms.",
        )
    return Section("If a payment is missed", paragraphs=paragraphs)


def _how_to_pay(session: Session, plan: PaymentPlan) -> Section:
    link = session.scalars(
        select(PaymentLink)
        .where(PaymentLink.plan_id == plan.id, PaymentLink.status == LinkStatus.OPEN)
        .order_by(PaymentLink.id.desc())
        .limit(1)
    ).first()
    paragraphs = [
        "Pay with the secure payment link we sent you. Card details are never taken in chat "
        "or by text message.",
    ]
    if link is not None and link.url:
        paragraphs.append(f"Your current payment link: {link.url}")
    if plan.kind == PlanKind.INSTALLMENTS and len(plan.installments) > 1:
        paragraphs.append(
            "Your card is saved at the first payment, and each later payment is charged to it on "
            "its date."
        )
    paragraphs.append("Ask in the chat at any time for the link again or for your next payment.")
    return Section("How to pay", paragraphs=tuple(paragraphs))


def _dispute_rights(
    session: Session,
    settings: Settings,
    account: Account,
    plan: PaymentPlan,
    kind: PlanKind,
    address: str,
) -> Section:
    paragraphs = [
        "Agreeing to this plan does not take away your right to dispute the debt. Tell us in "
        f'the chat ("I dispute this") or write to us at {address}.',
    ]
    if kind == PlanKind.SETTLEMENT and plan.installments:
        sentence = dispute_right_sentence(session, account, plan.installments[0].due_date)
        if sentence:
            paragraphs.append(sentence)
    ends = period_end(session, account)
    if ends is not None:
        paragraphs.append(
            f"If you dispute by {long_date(ends)} (the end of the validation period), we must stop "
            "collection on any amount you dispute until we send you information that shows you "
            "owe the debt."
        )
    if settings.dispute_email:
        paragraphs.append(f"You can also dispute by email to {settings.dispute_email}.")
    paragraphs.append(
        "Learn more about your rights under federal law at "
        "https://www.consumerfinance.gov/debt-collection."
    )
    return Section("Your right to dispute", paragraphs=tuple(paragraphs))
