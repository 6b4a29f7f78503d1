"""The written agreement (SPEC §14): a 6-installment plan and a settlement, page and PDF from
the same document; the missed-payment terms are the ones recorded with the plan."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy.orm import Session, sessionmaker

from parley.core.dates import long_date
from parley.core.db import transaction
from parley.documents import notices
from parley.documents.agreement import agreement_document
from parley.documents.render import to_html, to_pdf
from parley.tables import Account, NoticeChannel, PaymentPlan
from tests.documents.test_notices import SETTINGS, pdf_words, visible_text
from tests.support.payment_plans import make_plan


def _render(factory: sessionmaker[Session], plan_id: int) -> tuple[str, str]:
    with factory() as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        document = agreement_document(session, SETTINGS, plan)
        return visible_text(to_html(document)), pdf_words(to_pdf(document))


def test_a_six_installment_plan(committed_factory: sessionmaker[Session]) -> None:
    amounts = (10000, 10000, 10000, 10000, 10000, 7550)
    plan_id = make_plan(committed_factory, amounts, first_due=date(2025, 6, 10))
    page, pdf = _render(committed_factory, plan_id)
    expected = [
        "Payment plan agreement",
        f"Plan #{plan_id}, agreed on June 10, 2025",
        "Pat Payer (you)",
        "Example Recovery LLC (the debt collector), for Acme Capital",
        "Acme Card account ending 4242",
        "Balance when agreed $575.50",
        "Agreed total $575.50",
        "6 payments monthly",
        "Payment 1: June 10, 2025 $100.00",
        "Payment 6: November 7, 2025 $75.50",
        "Total $575.50",
        # The plan's recorded terms: tolerance 2, retry after 3 days.
        "try the saved card again 3 days later",
        "declined up to 2 times",
        "declined 3 times, the plan is put on hold",
        "secure payment link",
        "does not take away your right to dispute the debt",
        "PO Box 100, Springfield, IL 62701",
        "Example Recovery LLC is a debt collector",
    ]
    for text in expected:
        assert text in page, f"page: {text!r}"
        assert text in pdf, f"pdf: {text!r}"
    for n in range(1, 7):
        assert f"Payment {n}:" in pdf


def test_a_settlement_with_the_dispute_date(committed_factory: sessionmaker[Session]) -> None:
    plan_id = make_plan(
        committed_factory,
        (70000,),
        kind="settlement",
        first_due=date(2025, 6, 20),
        balance_cents=100000,
    )
    with transaction(committed_factory) as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        account = session.get(Account, plan.account_id)
        assert account is not None
        sent = datetime(2025, 6, 10, 16, tzinfo=timezone.utc)
        ends = notices.provide_notice(session, SETTINGS, account, NoticeChannel.WEB, sent)
        end_day = long_date(ends.period_ends)
    page, pdf = _render(committed_factory, plan_id)
    expected = [
        "Settlement agreement",
        "Balance when agreed $1,000.00",
        "Settlement amount $700.00",
        "Reduction $300.00",
        "Once $700.00 is paid in full, the account is settled",
        "Payment 1: June 20, 2025 $700.00",
        "If the settlement is not paid by June 20, 2025, this agreement ends",
        f"This does not affect your right to dispute the debt by {end_day}.",
        f"If you dispute by {end_day} (the end of the validation period)",
    ]
    for text in expected:
        assert text in page, f"page: {text!r}"
        assert text in pdf, f"pdf: {text!r}"
    assert "saved card" not in page  # no installments, no saved-card terms


def test_a_paid_installment_says_so(committed_factory: sessionmaker[Session]) -> None:
    plan_id = make_plan(committed_factory, (10000, 10000))
    with transaction(committed_factory) as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        plan.installments[0].status = "paid"
    page, pdf = _render(committed_factory, plan_id)
    assert "Payment 1: June 10, 2025 (paid) $100.00" in page
    assert "Payment 1: June 10, 2025 (paid) $100.00" in pdf
