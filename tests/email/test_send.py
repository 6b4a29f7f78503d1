"""`send_email` against a real SMTP server on loopback (SPEC §14): what the relay receives, one
send per idempotency key (also across a crash and with two workers), refusals recorded with
their reason, relay failures recorded and retried without loss, and the local outbox."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from devstack.stack import free_port
from parley.core.settings import Settings
from parley.email import OutboxTransport, SmtpTransport, make_transport, optout, send_email
from parley.email.addresses import normalize_address
from parley.email.send import INTERRUPTED
from parley.email.transport import EmailResult
from parley.tables import (
    Account,
    AuditEvent,
    EmailOptOut,
    OutboundKind,
    OutboundMessage,
    OutboundStatus,
)
from tests.email.conftest import SENDER, SMTP_PASSWORD, SMTP_USER, Relay, SmtpServer, email_settings
from tests.support.accounts import make_account

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
UTC = timezone.utc
NOW = datetime(2025, 6, 10, 18, 0, tzinfo=UTC)
TO = "maria.garcia@example.com"
STATEMENT = "Parley Recovery Services is a debt collector."
TEXT = (
    "Hello Maria,\n\nThere is an account matter we would like to discuss with you.\n"
    "Chat with us here: https://parley.example/chat?from=email&x=1\n\n"
    "<b>Not bold</b> & not a tag."
)


def _account(session: Session, **overrides: object) -> Account:
    account = make_account(email=TO, **overrides)
    session.add(account)
    session.flush()
    return account


def _send(
    session: Session,
    settings: Settings,
    transport: object,
    key: str = "first-contact:1",
    *,
    account: Account | None = None,
    to: str = TO,
    kind: OutboundKind = OutboundKind.COLLECTION,
    now: datetime = NOW,
) -> OutboundMessage:
    return send_email(
        session,
        settings,
        transport,  # type: ignore[arg-type]
        account=account,
        to=to,
        subject="An account matter from Parley Recovery Services",
        text=TEXT,
        kind=kind,
        idempotency_key=key,
        now=now,
    )


def _parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    plain, html = list(message.iter_parts())
    assert plain.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    return str(plain.get_content()), str(html.get_content())  # type: ignore[attr-defined]


def test_the_relay_receives_a_multipart_email_with_unsubscribe_headers_and_the_statement(
    session: Session, smtp_server: SmtpServer
) -> None:
    settings = email_settings(smtp_server.url)
    account = _account(session)
    row = _send(session, settings, make_transport(settings), account=account)

    assert (row.status, row.delivery_status, row.error) == (OutboundStatus.SENT, "accepted", None)
    assert row.channel == "email" and row.to == TO and row.account_id == account.id
    assert smtp_server.relay.logins == [(SMTP_USER, SMTP_PASSWORD)]  # percent-decoded from URL
    (received,) = smtp_server.relay.received
    assert received.mail_from == "collections@parley.example"
    assert received.rcpt_tos == [TO]
    message = received.message
    assert message["From"] == SENDER
    assert message["To"] == TO
    assert message["Subject"] == "An account matter from Parley Recovery Services"
    assert message["Message-ID"] == row.provider_id
    assert str(message["Message-ID"]).endswith("@parley.example>")
    assert message["Date"] is not None

    token = optout.unsubscribe_token(settings.secret_key, TO)
    link = f"https://parley.example/unsubscribe/{token}"
    assert message["List-Unsubscribe"] == f"<{link}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "maria" not in link.lower()  # the address never appears in the URL

    plain, html = _parts(message)
    assert plain.replace("\r\n", "\n") == row.body
    assert plain.startswith("Hello Maria,")
    assert STATEMENT in plain and STATEMENT in html
    assert f"To stop emails from us, unsubscribe here: {link}" in plain
    assert f'<a href="{link}">' in html
    assert '<a href="https://parley.example/chat?from=email&amp;x=1">' in html
    assert "&lt;b&gt;Not bold&lt;/b&gt; &amp; not a tag." in html and "<b>" not in html

    events = session.scalars(
        select(AuditEvent.kind).where(AuditEvent.data["outbound_id"].as_integer() == row.id)
    ).all()
    assert events == ["email.sent"]


def test_the_mailto_target_is_offered_when_an_unsubscribe_inbox_is_configured(
    session: Session, smtp_server: SmtpServer
) -> None:
    settings = email_settings(
        smtp_server.url, PARLEY_EMAIL_UNSUBSCRIBE_MAILTO="unsubscribe@parley.example"
    )
    _send(session, settings, make_transport(settings))
    (received,) = smtp_server.relay.received
    token = optout.unsubscribe_token(settings.secret_key, TO)
    assert received.message["List-Unsubscribe"] == (
        f"<https://parley.example/unsubscribe/{token}>, "
        "<mailto:unsubscribe@parley.example?subject=unsubscribe>"
    )


def test_one_key_is_sent_once_and_the_address_is_one_normal_form(
    session: Session, smtp_server: SmtpServer
) -> None:
    settings = email_settings(smtp_server.url)
    transport = make_transport(settings)
    first = _send(session, settings, transport, to="  Maria.Garcia@EXAMPLE.com ")
    again = _send(session, settings, transport, to=TO)
    assert again.id == first.id and again.status == OutboundStatus.SENT
    assert len(smtp_server.relay.received) == 1
    assert session.scalars(select(EmailOptOut.address)).all() == [TO]
    other = _send(session, settings, transport, key="follow-up:1")
    assert other.id != first.id and len(smtp_server.relay.received) == 2
    # Every email to one address carries the same link: any of them opts the address out.
    links = {r.message["List-Unsubscribe"] for r in smtp_server.relay.received}
    assert len(links) == 1


def test_a_refused_recipient_is_recorded_as_failed_and_the_retry_sends_it_once(
    session: Session, smtp_server: SmtpServer
) -> None:
    settings = email_settings(smtp_server.url)
    transport = make_transport(settings)
    smtp_server.relay.refuse_rcpt = "450 4.2.1 mailbox busy, try later"
    failed = _send(session, settings, transport)
    assert failed.status == OutboundStatus.FAILED
    assert failed.delivery_status == "smtp 450"
    assert "450" in (failed.error or "") and "mailbox busy" in (failed.error or "")
    assert smtp_server.relay.received == []
    session.expire_all()
    stored = session.get(OutboundMessage, failed.id)
    assert stored is not None and stored.status == OutboundStatus.FAILED  # committed, not lost

    smtp_server.relay.refuse_rcpt = None
    retried = _send(session, settings, transport, now=NOW + timedelta(minutes=5))
    assert retried.id == failed.id
    assert (retried.status, retried.error) == (OutboundStatus.SENT, None)
    (received,) = smtp_server.relay.received
    assert received.message["Message-ID"] == failed.provider_id  # the same message
    _send(session, settings, transport, now=NOW + timedelta(minutes=10))
    assert len(smtp_server.relay.received) == 1
    kinds = session.scalars(
        select(AuditEvent.kind)
        .where(AuditEvent.data["outbound_id"].as_integer() == failed.id)
        .order_by(AuditEvent.id)
    ).all()
    assert kinds == ["email.failed", "email.sent"]


def test_refused_data_is_recorded_with_the_relays_answer(
    session: Session, smtp_server: SmtpServer
) -> None:
    settings = email_settings(smtp_server.url)
    smtp_server.relay.refuse_data = "554 5.7.1 message rejected as spam"
    row = _send(session, settings, make_transport(settings))
    assert (row.status, row.delivery_status) == (OutboundStatus.FAILED, "smtp 554")
    assert "rejected as spam" in (row.error or "")


def test_a_wrong_password_is_a_failed_send_not_a_crash(
    session: Session, smtp_server: SmtpServer
) -> None:
    settings = email_settings(f"smtp://{SMTP_USER}:wrong@127.0.0.1:{smtp_server.port}")
    row = _send(session, settings, make_transport(settings))
    assert (row.status, row.delivery_status) == (OutboundStatus.FAILED, "smtp 535")
    assert smtp_server.relay.received == []


def test_a_relay_that_is_down_fails_the_send_and_the_retry_delivers_it(session: Session) -> None:
    port = free_port()  # nothing listens here yet
    settings = email_settings(f"smtp://127.0.0.1:{port}", PARLEY_SMTP_TIMEOUT=5)
    transport = make_transport(settings)
    down = _send(session, settings, transport)
    assert (down.status, down.delivery_status) == (OutboundStatus.FAILED, "unreachable")
    assert "ConnectionRefusedError" in (down.error or "")

    relay = Relay()
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        up = _send(session, settings, transport, now=NOW + timedelta(minutes=1))
    finally:
        controller.stop()
    assert up.id == down.id and up.status == OutboundStatus.SENT
    assert len(relay.received) == 1


class _DiesAfterSending:
    """Delivers to the relay, then the process dies before the outcome is committed."""

    def __init__(self, inner: SmtpTransport) -> None:
        self.inner = inner

    def send(self, message: EmailMessage) -> EmailResult:
        self.inner.send(message)
        raise SystemExit("killed")


def test_a_crash_between_send_and_commit_never_sends_the_key_again(
    session: Session, smtp_server: SmtpServer
) -> None:
    settings = email_settings(smtp_server.url)
    transport = make_transport(settings)
    assert isinstance(transport, SmtpTransport)
    with pytest.raises(SystemExit):
        _send(session, settings, _DiesAfterSending(transport))
    session.rollback()  # what the dead process never committed is gone
    assert len(smtp_server.relay.received) == 1
    (row,) = session.scalars(select(OutboundMessage)).all()
    assert row.status == OutboundStatus.SENDING  # the claim was committed before sending

    during_lease = _send(session, settings, transport, now=NOW + timedelta(seconds=30))
    assert during_lease.status == OutboundStatus.SENDING
    later = NOW + timedelta(seconds=settings.job_lease_seconds + 1)
    given_up = _send(session, settings, transport, now=later)
    assert (given_up.status, given_up.delivery_status) == (OutboundStatus.FAILED, INTERRUPTED)
    assert "not retried" in (given_up.error or "")
    again = _send(session, settings, transport, now=later + timedelta(hours=1))
    assert again.status == OutboundStatus.FAILED and again.delivery_status == INTERRUPTED
    assert len(smtp_server.relay.received) == 1


def test_an_opted_out_address_is_refused_with_the_reason_and_nothing_is_sent(
    session: Session, smtp_server: SmtpServer
) -> None:
    settings = email_settings(smtp_server.url)
    address = optout.ensure_address(session, settings, normalize_address(TO))
    assert optout.opt_out(session, address)
    assert not optout.opt_out(session, address)  # once
    row = _send(session, settings, make_transport(settings), to="MARIA.garcia@example.com")
    assert (row.status, row.error) == (OutboundStatus.BLOCKED, "opted_out")
    assert smtp_server.relay.received == []
    again = _send(session, settings, make_transport(settings))
    assert again.id == row.id and again.status == OutboundStatus.BLOCKED
    blocked = session.scalars(select(AuditEvent).where(AuditEvent.kind == "email.blocked")).one()
    assert blocked.data["reason"] == "opted_out" and blocked.data["outbound_id"] == row.id
    assert TO not in str(blocked.data)  # ids and reasons only


def test_a_paused_collection_stops_collection_emails_but_not_an_agents_reply(
    session: Session, smtp_server: SmtpServer
) -> None:
    settings = email_settings(smtp_server.url)
    account = _account(session, collection_paused=True)
    transport = make_transport(settings)
    reminder = _send(
        session, settings, transport, "r:1", account=account, kind=OutboundKind.REMINDER
    )
    assert (reminder.status, reminder.error) == (OutboundStatus.BLOCKED, "collection_paused")
    reply = _send(session, settings, transport, "a:1", account=account, kind=OutboundKind.AGENT)
    assert reply.status == OutboundStatus.SENT
    assert len(smtp_server.relay.received) == 1


def test_an_invalid_address_is_recorded_as_blocked(session: Session) -> None:
    settings = email_settings()
    row = _send(session, settings, OutboxTransport(), to="maria@example.com\r\nBcc: x@evil.test")
    assert (row.status, row.error) == (OutboundStatus.BLOCKED, "invalid_address")
    assert session.scalars(select(EmailOptOut)).all() == []


def test_a_call_that_cannot_be_recorded_is_a_clear_error(session: Session) -> None:
    settings = email_settings()
    with pytest.raises(ValueError, match="idempotency key"):
        _send(session, settings, OutboxTransport(), key="  ")
    with pytest.raises(ValueError, match="subject"):
        send_email(
            session,
            settings,
            OutboxTransport(),
            account=None,
            to=TO,
            subject="\n",
            text="x",
            kind=OutboundKind.NOTICE,
            idempotency_key="k",
        )
    assert session.scalars(select(OutboundMessage)).all() == []


def test_local_mode_writes_the_outbox(session: Session) -> None:
    settings = email_settings()  # no SMTP URL, not production
    transport = make_transport(settings)
    assert isinstance(transport, OutboxTransport)
    row = _send(session, settings, transport)
    assert (row.status, row.channel) == (OutboundStatus.OUTBOX, "email")
    assert row.subject == "An account matter from Parley Recovery Services"
    assert STATEMENT in row.body
    token = optout.unsubscribe_token(settings.secret_key, TO)
    assert f"https://parley.example/unsubscribe/{token}" in row.body
    assert settings.email_sender == "Parley Recovery Services <no-reply@localhost>"


def test_production_without_smtp_sends_no_email(session: Session) -> None:
    settings = email_settings(
        PARLEY_ENV="production",
        PARLEY_SECRET_KEY="s" * 40,
        DATABASE_URL="postgresql://parley@db/parley",
        PARLEY_RASA_TOKEN="r" * 40,
    )
    assert not settings.email_channel_enabled
    row = _send(session, settings, make_transport(settings))
    assert (row.status, row.error) == (OutboundStatus.BLOCKED, "email_disabled")


def test_two_workers_with_one_key_send_one_email(
    committed_factory: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings = email_settings(smtp_server.url)
    barrier = threading.Barrier(4)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with committed_factory() as session:
                barrier.wait()
                row = _send(session, settings, make_transport(settings), key="step:42")
                results.append(row.id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 4
    assert len(smtp_server.relay.received) == 1
    with committed_factory() as session:
        (row,) = session.scalars(select(OutboundMessage)).all()
        assert row.status == OutboundStatus.SENT


def test_the_sms_sweep_leaves_email_rows_alone(
    committed_factory: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    """Email rows share `outbound_messages` with SMS: the deferred-SMS job must neither send a
    recorded email as an SMS nor mark a stale email claim failed (which would let it resend)."""
    from parley.outreach.send import send_due

    settings = email_settings(smtp_server.url)

    class _NoSms:
        def send(self, to: str, body: str) -> object:
            raise AssertionError(f"an email row was sent as an SMS to {to}")

    with committed_factory() as session:
        for key, status in (
            ("recorded", OutboundStatus.SCHEDULED),
            ("stale", OutboundStatus.SENDING),
        ):
            session.add(
                OutboundMessage(
                    channel="email",
                    to=TO,
                    subject="s",
                    body="b",
                    kind=OutboundKind.COLLECTION,
                    status=status,
                    send_after=NOW,
                    sent_at=NOW,
                    idempotency_key=key,
                )
            )
        session.commit()
    later = NOW + timedelta(seconds=settings.job_lease_seconds + 60)
    assert send_due(committed_factory, settings, transport=_NoSms(), now=later) == 0  # type: ignore[arg-type]
    with committed_factory() as session:
        statuses = dict(
            session.execute(select(OutboundMessage.idempotency_key, OutboundMessage.status))
            .tuples()
            .all()
        )
    assert statuses == {"recorded": OutboundStatus.SCHEDULED, "stale": OutboundStatus.SENDING}


def test_an_opt_out_by_name_stops_the_next_email(session: Session) -> None:
    """The path a chat "stop emailing me" or an agent uses: the address in any spelling."""
    settings = email_settings()
    assert not optout.is_opted_out(session, TO)
    assert optout.opt_out_address(session, settings, " Maria.Garcia@Example.com")
    assert not optout.opt_out_address(session, settings, TO)  # already
    assert optout.is_opted_out(session, "MARIA.GARCIA@example.com")
    assert not optout.is_opted_out(session, "not an address")
    row = _send(session, settings, OutboxTransport())
    assert (row.status, row.error) == (OutboundStatus.BLOCKED, "opted_out")
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.kind == "email.opted_out"))
    assert event.data["source"] == "request"
    with pytest.raises(ValueError, match="email address"):
        optout.opt_out_address(session, settings, "nobody")
