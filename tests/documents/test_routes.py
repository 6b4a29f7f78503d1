"""The debtor's copies at their signed links (api/routes/documents.py): the page and the PDF,
a bad or altered token refused with 404, never another account's document."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from parley.core.db import transaction
from parley.core.settings import Settings
from parley.documents import links
from parley.tables import Account, PaymentPlan, ValidationNotice
from tests.documents.test_notices import pdf_words, visible_text
from tests.support.payment_plans import make_plan, settings_for


@pytest.fixture
def settings(db_url: str) -> Settings:
    return settings_for(
        db_url,
        PARLEY_COMPANY_NAME="Example Recovery LLC",
        PARLEY_COLLECTOR_ADDRESS="PO Box 100, Springfield, IL 62701",
        PARLEY_DISPUTE_EMAIL="disputes@recovery.example",
    )


@pytest.fixture
def client(settings: Settings, committed_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as opened:
        yield opened


def _path(url: str) -> str:
    return urlsplit(url).path


def _two_plans(factory: sessionmaker[Session]) -> tuple[PaymentPlan, PaymentPlan]:
    first, second = make_plan(factory, (10000, 10000)), make_plan(factory, (55500,), kind="full")
    with factory() as session:
        one, two = session.get(PaymentPlan, first), session.get(PaymentPlan, second)
        assert one is not None and two is not None
        return one, two


def _account(factory: sessionmaker[Session], account_id: int) -> Account:
    with factory() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account


def test_the_notice_page_and_pdf(
    client: TestClient, settings: Settings, committed_factory: sessionmaker[Session]
) -> None:
    plan, _ = _two_plans(committed_factory)
    account = _account(committed_factory, plan.account_id)
    url = links.validation_notice_url(settings, account)
    assert url.startswith("https://parley.example/documents/notice/")
    page = client.get(_path(url))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "content-security-policy" in page.headers
    text = visible_text(page.text)
    assert "Pat Payer" in text and "ending in 4242" in text and "$200.00" in text
    pdf = client.get(_path(url), params={"format": "pdf"})
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    words = pdf_words(pdf.content)
    assert "Pat Payer" in words and "Total amount of the debt now $200.00" in words
    # Opening it provided the notice: recorded once, however often it is opened.
    with committed_factory() as session:
        [notice] = session.scalars(select(ValidationNotice)).all()
        assert notice.account_id == account.id and notice.channel == "link"


def test_the_agreement_page_and_pdf(
    client: TestClient, settings: Settings, committed_factory: sessionmaker[Session]
) -> None:
    plan, _ = _two_plans(committed_factory)
    path = _path(links.agreement_url(settings, plan))
    page = client.get(path)
    assert page.status_code == 200
    assert "Payment plan agreement" in visible_text(page.text)
    assert 'href="?format=pdf"' in page.text
    pdf = client.get(path, params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf"
    assert f"Plan #{plan.id}" in pdf_words(pdf.content)
    assert client.get(path, params={"format": "docx"}).status_code == 422


def test_bad_tokens_are_not_found_and_never_show_another_account(
    client: TestClient, settings: Settings, committed_factory: sessionmaker[Session]
) -> None:
    mine, theirs = _two_plans(committed_factory)
    my_account = _account(committed_factory, mine.account_id)
    good = links.document_token(settings, "notice", my_account.id)
    ident, signature = good.split(".")
    bad = [
        "nonsense",
        f"{ident}.",
        f"{ident}.{signature[:-1]}",
        f"{ident}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        # My signature on their id: the signature binds the id.
        f"{theirs.account_id}.{signature}",
        # An agreement token is no notice token, even for the same number.
        links.document_token(settings, "agreement", my_account.id),
        f"{ident}.{signature}.extra",
        "-1." + signature,
        "9" * 40 + "." + signature,
    ]
    for token in bad:
        response = client.get(f"/documents/notice/{token}")
        assert response.status_code == 404, token
        assert "Pat Payer" not in response.text
        assert response.json()["error"]["code"] == "not_found"
    # A token for a plan id that does not exist is as unknown as a forged one.
    assert (
        client.get(
            f"/documents/agreement/{links.document_token(settings, 'agreement', 999999)}"
        ).status_code
        == 404
    )
    # Another server key: none of this server's links open.
    other = settings.model_copy(update={"secret_key": "another-secret-key-0123456789abcdef"})
    assert client.get(_path(links.validation_notice_url(other, my_account))).status_code == 404
    # The real link still shows my account, and only mine.
    text = visible_text(client.get(f"/documents/notice/{good}").text)
    assert my_account.account_ref in text
    assert _account(committed_factory, theirs.account_id).account_ref not in text
    with committed_factory() as session:
        assert [n.account_id for n in session.scalars(select(ValidationNotice))] == [my_account.id]


def test_each_account_gets_its_own_copy(
    client: TestClient, settings: Settings, committed_factory: sessionmaker[Session]
) -> None:
    mine, theirs = _two_plans(committed_factory)
    with transaction(committed_factory) as session:
        account = session.get(Account, theirs.account_id)
        assert account is not None
        account.first_name = "Quinn"
    for plan, name in ((mine, "Pat Payer"), (theirs, "Quinn Payer")):
        account = _account(committed_factory, plan.account_id)
        text = visible_text(client.get(_path(links.validation_notice_url(settings, account))).text)
        assert name in text and account.account_ref in text
