"""The unsubscribe link end to end (SPEC §14, RFC 8058): an email received by a real SMTP server
on loopback, its List-Unsubscribe link followed through the FastAPI app, and the next email to
that address refused with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from parley.core.settings import Settings
from parley.email import make_transport, send_email
from parley.tables import AuditEvent, EmailOptOut, OutboundKind, OutboundMessage, OutboundStatus
from tests.email.conftest import SENDER, SmtpServer
from tests.support.payment_plans import settings_for

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
TO = "maria.garcia@example.com"
ONE_CLICK = {"content": b"List-Unsubscribe=One-Click"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _settings(db_url: str, smtp: SmtpServer, **extra: Any) -> Settings:
    return settings_for(db_url, PARLEY_SMTP_URL=smtp.url, PARLEY_EMAIL_FROM=SENDER, **extra)


def _send(factory: sessionmaker[Session], settings: Settings, key: str) -> OutboundMessage:
    with factory() as session:
        return send_email(
            session,
            settings,
            make_transport(settings),
            account=None,
            to=TO,
            subject="An account matter",
            text="Hello, please chat with us at https://parley.example/chat.",
            kind=OutboundKind.COLLECTION,
            idempotency_key=key,
        )


@pytest.fixture
def client(db_url: str, smtp_server: SmtpServer) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(db_url, smtp_server))) as running:
        yield running


def _opted_out(factory: sessionmaker[Session]) -> bool:
    with factory() as session:
        row = session.get(EmailOptOut, TO)
        return row is not None and row.opted_out


def _audits(factory: sessionmaker[Session], kind: str) -> int:
    with factory() as session:
        return (
            session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == kind)
            )
            or 0
        )


def test_the_link_in_a_received_email_opts_the_address_out_and_the_next_email_is_refused(
    client: TestClient,
    db_url: str,
    smtp_server: SmtpServer,
    committed_factory: sessionmaker[Session],
) -> None:
    settings = _settings(db_url, smtp_server)
    assert _send(committed_factory, settings, "first-contact:1").status == OutboundStatus.SENT
    (received,) = smtp_server.relay.received
    header = str(received.message["List-Unsubscribe"])
    url = header.removeprefix("<").removesuffix(">")
    assert url.startswith("https://parley.example/unsubscribe/")
    body = received.message.get_body(("plain",))
    assert body is not None and url in str(body.get_content())  # type: ignore[attr-defined]
    path = urlsplit(url).path

    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f'<form method="post" action="{path}">' in page.text
    assert ">Unsubscribe</button>" in page.text
    assert "m***@example.com" in page.text and TO not in page.text
    assert not _opted_out(committed_factory)  # a GET (a mail scanner, a preview) changes nothing

    # What a mail client sends for List-Unsubscribe-Post (RFC 8058): no cookie, no CSRF token.
    done = client.post(path, headers=FORM, follow_redirects=False, **ONE_CLICK)
    assert done.status_code == 200  # answered directly, never a redirect
    assert "You are unsubscribed" in done.text
    assert _opted_out(committed_factory)
    again = client.post(path, headers=FORM, **ONE_CLICK)
    assert again.status_code == 200 and "You are unsubscribed" in again.text
    assert _audits(committed_factory, "email.opted_out") == 1  # idempotent
    after = client.get(path)
    assert after.status_code == 200 and "You are unsubscribed" in after.text
    assert "<form" not in after.text

    refused = _send(committed_factory, settings, "follow-up:1")
    assert (refused.status, refused.error) == (OutboundStatus.BLOCKED, "opted_out")
    assert len(smtp_server.relay.received) == 1


def test_the_pages_button_works_like_one_click(
    client: TestClient,
    db_url: str,
    smtp_server: SmtpServer,
    committed_factory: sessionmaker[Session],
) -> None:
    _send(committed_factory, _settings(db_url, smtp_server), "first-contact:1")
    path = urlsplit(str(smtp_server.relay.received[0].message["List-Unsubscribe"])[1:-1]).path
    done = client.post(path, headers=FORM, content=b"")  # the page's form has no fields
    assert done.status_code == 200 and _opted_out(committed_factory)


@pytest.mark.parametrize(
    "token",
    ["nonsense", "A" * 43, "x" * 500, "a%20b%00c"],
)
def test_a_bad_token_gets_a_clear_404_page_and_changes_nothing(
    client: TestClient, committed_factory: sessionmaker[Session], token: str
) -> None:
    for response in (client.get(f"/unsubscribe/{token}"), client.post(f"/unsubscribe/{token}")):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "This unsubscribe link is not valid" in response.text
    with committed_factory() as session:
        assert session.scalars(select(EmailOptOut)).all() == []
    assert _audits(committed_factory, "email.opted_out") == 0


def test_links_already_sent_keep_working_after_the_secret_key_is_rotated(
    db_url: str, smtp_server: SmtpServer, committed_factory: sessionmaker[Session]
) -> None:
    before = _settings(db_url, smtp_server, PARLEY_SECRET_KEY="k" * 40)
    _send(committed_factory, before, "first-contact:1")
    path = urlsplit(str(smtp_server.relay.received[0].message["List-Unsubscribe"])[1:-1]).path
    rotated = _settings(db_url, smtp_server, PARLEY_SECRET_KEY="z" * 40)
    with TestClient(create_app(rotated)) as client:
        assert client.post(path, headers=FORM, **ONE_CLICK).status_code == 200
    assert _opted_out(committed_factory)
