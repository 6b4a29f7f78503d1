"""The validation notice's words (Reg F 12 CFR 1006.34(c), after the CFPB's model form B-1),
built from the content frozen when the notice was provided (`parley.documents.notices`).

Each required item, in the order of the model form: the collector's name and mailing address and
the statement that it is a debt collector; the consumer's name and mailing address; the creditor
on the itemization date, the account number, the current creditor; the itemization (amount on
the itemization date, interest, fees, payments and credits since) and the current amount; the
validation period end date with what disputing by then does; how to dispute, in writing and
electronically; how to ask for the original creditor's name and address; the CFPB's
consumer-rights pointer. The wording follows the model form, whose use is a safe harbour
(1006.34(d)(2)).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from parley.core.dates import long_date
from parley.core.money import format_cents
from parley.documents.layout import Document, Section

CFPB_URL: Final = "https://www.consumerfinance.gov/debt-collection"
TITLE: Final = "Notice of debt (validation notice)"


def notice_document(content: dict[str, Any]) -> Document:
    """The notice as a document, for the page and the PDF alike."""
    c = content
    collector = str(c["collector_name"])
    ends = long_date(date.fromisoformat(c["period_ends"]))
    itemized = long_date(date.fromisoformat(c["itemization_date"]))
    notice_day = long_date(date.fromisoformat(c["notice_date"]))
    electronic = _electronic_ways(c, dispute=True)
    asking = _electronic_ways(c, dispute=False)
    same_creditor = c["original_creditor"] == c["creditor"]
    owed = Section(
        "The debt",
        paragraphs=(
            f"{collector} is a debt collector. We are trying to collect a debt that you owe to "
            f"{c['creditor']}. We will use any information you give us to help collect the debt.",
        ),
        rows=(
            ("Our information shows: you had an account with", str(c["original_creditor"])),
            ("Account number ending in", str(c["account_last4"])),
            ("Our reference", str(c["account_ref"])),
            ("Current creditor", str(c["creditor"])),
            ("What the debt is for", str(c["description"])),
        ),
    )
    itemization = Section(
        "What you owe",
        paragraphs=(f"The itemization date is {itemized}.",),
        rows=(
            (f"As of {itemized}, you owed", format_cents(c["itemization_amount_cents"])),
            (
                f"Between {itemized} and {notice_day}: interest charged",
                "+ " + _cents(c, "interest"),
            ),
            ("fees charged", "+ " + _cents(c, "fees")),
            ("payments and credits toward the debt", "- " + _cents(c, "payments_credits")),
            ("Total amount of the debt now", format_cents(c["current_amount_cents"])),
        ),
        total_label="Total amount of the debt now",
    )
    dispute = Section(
        "How can you dispute the debt?",
        paragraphs=(
            f"Call or write to us by {ends}, to dispute all or part of the debt. If you do not, "
            "we will assume that our information is correct.",
            f"If you write to us by {ends}, we must stop collection on any amount you dispute "
            "until we send you information that shows you owe the debt. You may use the form "
            "below or write to us without the form. You may also include supporting documents.",
            f"Write to us at: {c['collector_address']}.",
            "You can also dispute electronically: " + "; ".join(electronic) + ".",
        ),
    )
    original = Section(
        "What else can you do?",
        paragraphs=(
            "Write to ask for the name and address of the original creditor, if different from "
            f"the current creditor. If you write by {ends}, we must stop collection until we "
            "send you that information. You may use the form below or write to us without the "
            "form. You can also ask electronically: " + "; ".join(asking) + ".",
            (
                f"The original creditor is the same as the current creditor ({c['creditor']})."
                if same_creditor
                else f"Our records show the original creditor as {c['original_creditor']}."
            ),
            f"Go to {CFPB_URL} to learn more about your rights under federal law. For instance, "
            "you have the right to stop or limit how we contact you.",
            f"Contact us about your payment options: {c['collector_contact']}.",
        ),
    )
    form = Section(
        "How do you want to respond?",
        paragraphs=(
            f"Check all that apply and send this part to {c['collector_address']}, or tell us "
            "the same electronically.",
        ),
        bullets=(
            "[ ] I want to dispute the debt because I think: this is not my debt.",
            "[ ] I want to dispute the debt because I think: the amount is wrong.",
            "[ ] I want to dispute the debt because I think: other (please describe).",
            "[ ] I want you to send me the name and address of the original creditor.",
            "[ ] I enclosed this amount: $________",
        ),
    )
    recipient = (str(c["debtor_name"]), *(str(line) for line in c.get("debtor_address") or ()))
    return Document(
        title=TITLE,
        filename=f"validation-notice-{c['account_ref']}",
        sender=(collector, str(c["collector_address"]), str(c["collector_contact"])),
        recipient=recipient,
        date_line=f"Notice date: {notice_day}. Dispute by: {ends} (end of the validation period).",
        sections=(owed, itemization, dispute, original, form),
        footer=(
            f"{collector} is a debt collector. This is an attempt to collect a debt and any "
            "information obtained will be used for that purpose."
        ),
    )


def _cents(content: dict[str, Any], key: str) -> str:
    return format_cents(int(content[f"{key}_cents"]))


def _electronic_ways(content: dict[str, Any], *, dispute: bool) -> list[str]:
    ways = []
    if content.get("chat_url"):
        said = ' (say "I dispute this")' if dispute else ""
        ways.append(f"in our web chat at {content['chat_url']}{said}")
    if content.get("dispute_email"):
        ways.append(f"by email to {content['dispute_email']}")
    return ways
