"""The negotiation in words (SPEC §6): the summary a debtor confirms and the written
confirmation of what they agreed. Part of the record, not just chat text: the confirmation is
what the debtor agreed to, so it is built from the stored plan.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from parley.core.clock import local_date, utcnow
from parley.core.dates import short_date
from parley.core.money import format_cents
from parley.negotiation.agreements import plan_proposal
from parley.negotiation.engine import Proposal
from parley.negotiation.schedules import SPOKEN
from parley.tables import PaymentPlan

# Up to this many payments a summary lists every date; longer plans are shown as runs.
LIST_EVERY_PAYMENT: Final = 6


def _runs(proposal: Proposal) -> list[str]:
    """Consecutive equal payments as one line each ("$100.00 monthly, Mar 5, 2025 to ...")."""
    lines: list[str] = []
    payments = proposal.payments
    spoken = SPOKEN.get(proposal.frequency or "", "")
    start = 0
    while start < len(payments):
        end = start
        while end + 1 < len(payments) and (
            payments[end + 1].amount_cents == payments[start].amount_cents
        ):
            end += 1
        amount = format_cents(payments[start].amount_cents)
        if end == start:
            lines.append(f"{amount} on {short_date(payments[start].due)}")
        else:
            lines.append(
                f"{end - start + 1} x {amount} {spoken}, {short_date(payments[start].due)} "
                f"to {short_date(payments[end].due)}"
            )
        start = end + 1
    return lines


def summary_lines(proposal: Proposal, balance_cents: int) -> list[str]:
    """Every amount and date (or run of equal payments), the count and the total."""
    first = proposal.payments[0]
    total = format_cents(proposal.total_cents)
    if proposal.kind == "full":
        return [
            f"Pay in full: {format_cents(first.amount_cents)} on {short_date(first.due)}.",
            f"Total: {total} (1 payment).",
        ]
    if proposal.kind == "settlement":
        return [
            f"One-time settlement: {format_cents(first.amount_cents)} on "
            f"{short_date(first.due)}, instead of the full {format_cents(balance_cents)}.",
            f"Total: {total} (1 payment).",
        ]
    spoken = SPOKEN.get(proposal.frequency or "", "")
    header = f"{proposal.count} payments {spoken}:".replace("  ", " ")
    if proposal.count <= LIST_EVERY_PAYMENT:
        body = [f"{short_date(p.due)}: {format_cents(p.amount_cents)}" for p in proposal.payments]
    else:
        body = _runs(proposal)
    return [header, *body, f"Total: {total} in {proposal.count} payments."]


def summary_text(proposal: Proposal, balance_cents: int) -> str:
    return "\n".join(summary_lines(proposal, balance_cents))


def confirmation_text(plan: PaymentPlan) -> str:
    """The written confirmation of an agreed plan: what, when, how many, how much in total."""
    proposal = plan_proposal(plan)
    lines = [
        f"Confirmed (plan #{plan.id}, agreed {short_date(_agreed_day(plan))}):",
        *summary_lines(proposal, plan.balance_at_agreement_cents),
    ]
    if plan.kind == "settlement":
        lines.append("Once it is paid, the account is settled for this amount.")
    return "\n".join(lines)


def _agreed_day(plan: PaymentPlan) -> date:
    return local_date(plan.agreed_at or utcnow(), plan.timezone)
