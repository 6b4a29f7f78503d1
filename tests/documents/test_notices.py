"""The validation notice (SPEC §14, Reg F 1006.34): provided once with its content frozen, its
period, every required item on the page and in the PDF (text extracted with pypdf)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parley.core.errors import NotConfigured
from parley.core.settings import Settings
from parley.documents import notices
from parley.documents.notice_wording import notice_document
from parley.documents.render import pdf_text, to_html, to_pdf
from parley.tables import NoticeChannel, ValidationNotice
from tests.support.accounts import make_account

# Monday 24 November 2025, 10:00 in San Francisco: Thanksgiving week.
SENT = datetime(2025, 11, 24, 18, 0, tzinfo=timezone.utc)
SETTINGS = Settings(
    PARLEY_COMPANY_NAME="Example Recovery LLC",
    PARLEY_COMPANY_CONTACT="1-800-555-0199",
    PARLEY_COLLECTOR_ADDRESS="PO Box 100, Springfield, IL 62701",
    PARLEY_DISPUTE_EMAIL="disputes@recovery.example",
    PARLEY_CHAT_URL="https://portal.example/help/chat",
)

# Every item Reg F 1006.34(c) requires, as the notice must say it for the test account.
REQUIRED = {
    "collector name": "Example Recovery LLC",
    "collector mailing address": "PO Box 100, Springfield, IL 62701",
    "debt collector statement": "Example Recovery LLC is a debt collector",
    "debtor name": "Maria Garcia",
    "debtor address": "12 Elm Street",
    "debtor city and state": "San Francisco, CA",
    "itemization date": "January 15, 2024",
    "account number last 4": "4421",
    "current creditor": "Acme Capital",
    "original creditor": "Northwind Bank",
    "amount on the itemization date": "$1,200.00",
    "interest since": "+ $84.50",
    "fees since": "+ $35.00",
    "payments and credits since": "- $100.00",
    "current amount": "$1,219.50",
    "validation period end date": "January 2, 2026",
    "how to dispute in writing": "write to us by January 2, 2026",
    "dispute by email": "disputes@recovery.example",
    "dispute in the web chat": "https://portal.example/help/chat",
    "original creditor request": "name and address of the original creditor",
    "consumer rights (CFPB)": "https://www.consumerfinance.gov/debt-collection",
}


def _account(**overrides: object) -> object:
    values: dict[str, object] = {
        "creditor": "Acme Capital",
        "original_creditor": "Northwind Bank",
        "address_line1": "12 Elm Street",
        "address_line2": "Apt 3",
        "city": "San Francisco",
        "state": "CA",
    }
    values.update(overrides)
    return make_account(**values)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def pdf_words(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def test_provided_once_with_the_period_and_content_frozen(session: Session) -> None:
    account = _account()
    session.add(account)
    session.flush()
    notice = notices.provide_notice(session, SETTINGS, account, NoticeChannel.EMAIL, SENT)
    assert notice.sent_on == date(2025, 11, 24)
    assert notice.period_ends == date(2026, 1, 2)
    assert notice.content["current_amount_cents"] == 121950
    # A payment later, then the notice given again (in the chat): the first one stands.
    account.posted_payments_cents = 5000
    again = notices.provide_notice(
        session, SETTINGS, account, NoticeChannel.WEB, SENT + timedelta(days=3)
    )
    assert again.id == notice.id and again.channel == NoticeChannel.EMAIL
    assert again.content["current_amount_cents"] == 121950
    assert session.scalar(select(func.count(ValidationNotice.id))) == 1
    assert notices.period_end(session, account) == date(2026, 1, 2)


def test_the_sending_date_is_the_debtors(session: Session) -> None:
    account = _account()
    session.add(account)
    session.flush()
    # 06:00 UTC on the 25th is still the evening of the 24th in San Francisco.
    notice = notices.provide_notice(
        session,
        SETTINGS,
        account,
        NoticeChannel.SMS,
        datetime(2025, 11, 25, 6, tzinfo=timezone.utc),
    )
    assert notice.sent_on == date(2025, 11, 24)


def test_a_notice_sent_by_other_means_starts_the_period(session: Session) -> None:
    account = _account(validation_notice_sent=date(2025, 11, 18))
    session.add(account)
    session.flush()
    assert notices.period_end(session, account) == date(2025, 12, 26)
    notice = notices.provide_notice(session, SETTINGS, account, NoticeChannel.WEB, SENT)
    assert notice.period_ends == date(2025, 12, 26)  # the earlier sending counts


def test_within_the_period(session: Session) -> None:
    account = _account()
    session.add(account)
    session.flush()
    assert notices.within_validation_period(session, account, SENT)  # period not begun
    notices.provide_notice(session, SETTINGS, account, NoticeChannel.EMAIL, SENT)
    last_day = datetime(2026, 1, 3, 7, 59, tzinfo=timezone.utc)  # 23:59 on Jan 2 in SF
    assert notices.within_validation_period(session, account, last_day)
    assert not notices.within_validation_period(session, account, last_day + timedelta(minutes=2))


def test_production_refuses_a_notice_without_the_collector_address(session: Session) -> None:
    account = _account()
    session.add(account)
    session.flush()
    production = SETTINGS.model_copy(update={"env": "production", "collector_address": None})
    with pytest.raises(NotConfigured) as raised:
        notices.provide_notice(session, production, account, NoticeChannel.EMAIL, SENT)
    assert "PARLEY_COLLECTOR_ADDRESS" in raised.value.message
    assert session.scalar(select(func.count(ValidationNotice.id))) == 0
    no_electronic = SETTINGS.model_copy(
        update={"env": "production", "dispute_email": None, "chat_url": None}
    )
    with pytest.raises(NotConfigured):
        notices.provide_notice(session, no_electronic, account, NoticeChannel.EMAIL, SENT)


def _content() -> dict[str, object]:
    account = _account()
    account.posted_payments_cents = 0
    return notices.notice_content(SETTINGS, account, date(2025, 11, 24), date(2026, 1, 2))


@pytest.mark.parametrize("item", sorted(REQUIRED))
def test_every_required_item_is_on_the_page(item: str) -> None:
    page = visible_text(to_html(notice_document(_content())))
    assert REQUIRED[item] in page, f"{item}: {REQUIRED[item]!r} missing"


@pytest.mark.parametrize("item", sorted(REQUIRED))
def test_every_required_item_is_in_the_pdf(item: str) -> None:
    text = pdf_words(to_pdf(notice_document(_content())))
    assert REQUIRED[item] in text, f"{item}: {REQUIRED[item]!r} missing"


def test_the_itemization_adds_up_with_parleys_own_payments() -> None:
    account = _account()
    account.posted_payments_cents = 2550
    content = notices.notice_content(SETTINGS, account, date(2025, 11, 24), date(2026, 1, 2))
    assert content["payments_credits_cents"] == 12550
    assert content["current_amount_cents"] == 120000 + 8450 + 3500 - 12550
    text = pdf_words(to_pdf(notice_document(content)))
    assert "- $125.50" in text and "$1,194.00" in text


def test_names_outside_latin_1_are_exact_on_the_page_and_transliterated_in_the_pdf() -> None:
    account = _account(first_name="Łukasz", last_name="Дмитриев-Müller", city="Zürich")
    account.posted_payments_cents = 0
    document = notice_document(
        notices.notice_content(SETTINGS, account, date(2025, 11, 24), date(2026, 1, 2))
    )
    assert "Łukasz Дмитриев-Müller" in visible_text(to_html(document))
    text = pdf_words(to_pdf(document))
    assert "Lukasz Dmitriev-Müller" in text  # ü is Latin-1: kept as written
    assert "Zürich, CA" in text
    assert pdf_text("张伟 — “ok”") == 'ZhangWei - "ok"'


def test_the_page_escapes_what_the_file_says() -> None:
    account = _account(description='<script>alert("x")</script> see https://x.example/a?b=1')
    account.posted_payments_cents = 0
    html = to_html(
        notice_document(
            notices.notice_content(SETTINGS, account, date(2025, 11, 24), date(2026, 1, 2))
        )
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<a href="https://portal.example/help/chat"' in html
