"""The Twilio webhooks (SPEC §7, §12) with real signatures from the twilio library.

Rasa is not running here: the paths tested (signatures, replays, STOP / START / HELP, opted-out
numbers, status callbacks, a bot outage) are the ones that never need the bot.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from api.app import create_app
from devstack.stack import free_port
from parley.conversations import turns
from parley.core.settings import Settings
from parley.outreach import send as outbound
from parley.sms.twilio import SendResult
from parley.tables import (
    Conversation,
    Message,
    OutboundMessage,
    PhoneOptOut,
    ProcessedEvent,
)

TOKEN = "webhook-test-token-0123456789abcdef"  # noqa: S105 - test only
PUBLIC = "https://parley.example"
INBOUND_URL = f"{PUBLIC}/sms/twilio"
STATUS_URL = f"{PUBLIC}/sms/twilio/status"
PHONE = "+14155550199"
STATEMENT = "Reply STOP to opt out"
# 14:00 in Los Angeles on a weekday: inside the window for a 415 number.
NOON_PACIFIC = datetime(2025, 6, 10, 21, 0, tzinfo=timezone.utc)
_sids = itertools.count(1)


def settings_for(db_url: str, **extra: object) -> Settings:
    dead = f"http://127.0.0.1:{free_port()}"
    values: dict[str, object] = {
        "DATABASE_URL": db_url,
        "PARLEY_RASA_URL": dead,
        "PARLEY_ACTION_SERVER_URL": dead,
        "PARLEY_RASA_TIMEOUT": 2,
        "PARLEY_PUBLIC_URL": PUBLIC,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "PARLEY_JOBS_INTERVAL_SECONDS": 0,
        "PARLEY_COMPANY_CONTACT": "help@parley.example or 1-800-555-0100",
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(db_url: str) -> Settings:
    return settings_for(db_url)


@pytest.fixture
def client(settings: Settings, committed_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def inbound_params(body: str, phone: str = PHONE, sid: str | None = None) -> dict[str, str]:
    return {
        "MessageSid": sid or f"SM{next(_sids):032x}",
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
    }


def text(client: TestClient, body: str, phone: str = PHONE, sid: str | None = None) -> list[str]:
    """Send one signed inbound text; the SMS bodies of the TwiML answer."""
    params = inbound_params(body, phone, sid)
    response = client.post(
        "/sms/twilio", data=params, headers={"X-Twilio-Signature": sign(INBOUND_URL, params)}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return [
        m.replace("&amp;", "&").replace("&apos;", "'").replace("&quot;", '"')
        for m in re.findall(r"<Message[^>]*>(.*?)</Message>", response.text, re.S)
    ]


def counts(factory: sessionmaker[Session]) -> tuple[int, int, int]:
    with factory() as session:
        return (
            session.scalar(select(func.count()).select_from(Message)) or 0,
            session.scalar(select(func.count()).select_from(ProcessedEvent)) or 0,
            session.scalar(select(func.count()).select_from(Conversation)) or 0,
        )


def test_valid_signature_is_accepted_and_stored(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    replies = text(client, "HELP")
    assert len(replies) == 1
    assert "Parley Recovery Services" in replies[0]
    assert "help@parley.example or 1-800-555-0100" in replies[0]
    assert replies[0].count(STATEMENT) == 1
    with committed_factory() as session:
        conversation = session.scalars(select(Conversation)).one()
        assert (conversation.channel, conversation.phone) == ("sms", PHONE)
        rows = session.scalars(select(Message).order_by(Message.id)).all()
    assert [(m.direction, m.text) for m in rows] == [("inbound", "HELP"), ("outbound", replies[0])]


def _bad_requests() -> list[tuple[str, dict[str, str] | None]]:
    params = inbound_params("HELP", sid="SMbad")
    return [
        ("missing", None),
        ("wrong", {"X-Twilio-Signature": "bm90LWEtc2lnbmF0dXJl"}),
        ("other token", {"X-Twilio-Signature": sign(INBOUND_URL, params, "another-token")}),
        ("other url", {"X-Twilio-Signature": sign("https://evil.example/sms/twilio", params)}),
        ("other path", {"X-Twilio-Signature": sign(STATUS_URL, params)}),
        ("test host", {"X-Twilio-Signature": sign("http://testserver/sms/twilio", params)}),
        ("tampered", {"X-Twilio-Signature": sign(INBOUND_URL, {**params, "Body": "START"})}),
    ]


@pytest.mark.parametrize(("case", "headers"), _bad_requests(), ids=lambda v: str(v)[:12])
def test_bad_signature_is_403_and_nothing_is_stored(
    client: TestClient,
    committed_factory: sessionmaker[Session],
    case: str,
    headers: dict[str, str] | None,
) -> None:
    params = inbound_params("HELP", sid="SMbad")
    response = client.post("/sms/twilio", data=params, headers=headers or {})
    assert response.status_code == 403, case
    assert "<Message" not in response.text
    assert counts(committed_factory) == (0, 0, 0)
    status = {"MessageSid": "SMx", "MessageStatus": "delivered"}
    response = client.post("/sms/twilio/status", data=status, headers=headers or {})
    assert response.status_code == 403


def test_no_auth_token_means_503_and_nothing_processed(
    db_url: str, committed_factory: sessionmaker[Session]
) -> None:
    settings = settings_for(db_url, TWILIO_AUTH_TOKEN=None)
    assert settings.twilio_auth_token is None
    params = inbound_params("STOP")
    with TestClient(create_app(settings)) as client:
        for headers in ({}, {"X-Twilio-Signature": sign(INBOUND_URL, params)}):
            response = client.post("/sms/twilio", data=params, headers=headers)
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "sms_not_configured"
            status = client.post("/sms/twilio/status", data=params, headers=headers)
            assert status.status_code == 503
    assert counts(committed_factory) == (0, 0, 0)
    with committed_factory() as session:
        assert session.get(PhoneOptOut, PHONE) is None


def test_replayed_message_sid_is_answered_once(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    first = text(client, "HELP", sid="SMreplay")
    again = text(client, "HELP", sid="SMreplay")
    assert len(first) == 1
    assert again == [], "a replay gets an empty <Response/>"
    assert counts(committed_factory) == (2, 1, 1)  # one inbound, one reply


STOP_WORDS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPT OUT"]
VARIANTS = [w.lower() for w in STOP_WORDS] + [w.title() for w in STOP_WORDS] + ["  stop  ", "Stop."]


@pytest.mark.parametrize("word", STOP_WORDS + VARIANTS)
def test_each_stop_word_opts_out_and_nothing_more_is_sent(
    client: TestClient,
    settings: Settings,
    committed_factory: sessionmaker[Session],
    word: str,
) -> None:
    replies = text(client, word)
    assert len(replies) == 1, "exactly one confirmation"
    assert "opted out" in replies[0] and "START" in replies[0]
    with committed_factory() as session:
        opt_out = session.get(PhoneOptOut, PHONE)
        assert opt_out is not None and opt_out.opted_out
    # Nothing more by the webhook: not the bot, not HELP, not a second STOP confirmation.
    for later in ("hello", "HELP", "what do i owe", word, "1"):
        assert text(client, later) == [], later
    # Nothing by the outbound path (agent replies, confirmations, reminders)...
    calls: list[str] = []

    class Recorder:
        def send(self, to: str, body: str) -> SendResult:
            calls.append(to)
            return SendResult("sent", "SMrecorded")

    with committed_factory.begin() as session:
        for kind in ("agent", "confirmation", "reminder"):
            row = outbound.send_sms(
                session, settings, PHONE, "Hi", kind, now=NOON_PACIFIC, transport=Recorder()
            )
            assert row.status == "blocked"
    # ...nor by the job, for a message scheduled before the opt-out and due now.
    with committed_factory.begin() as session:
        session.add(
            OutboundMessage(to=PHONE, body="Reminder", kind="reminder", send_after=NOON_PACIFIC)
        )
    assert (
        outbound.send_due(committed_factory, settings, transport=Recorder(), now=NOON_PACIFIC) == 1
    )
    assert calls == []
    with committed_factory() as session:
        statuses = session.scalars(select(OutboundMessage.status)).all()
    assert set(statuses) == {"blocked"}
    # Every inbound text is on record, answered or not.
    with committed_factory() as session:
        inbound = session.scalars(
            select(Message.text).where(Message.direction == "inbound").order_by(Message.id)
        ).all()
    assert inbound[0] == word and len(inbound) == 6


def test_start_opts_back_in(
    client: TestClient, settings: Settings, committed_factory: sessionmaker[Session]
) -> None:
    text(client, "STOP")
    assert text(client, "HELP") == []
    replies = text(client, "start")
    assert len(replies) == 1 and "opted back in" in replies[0]
    assert replies[0].count(STATEMENT) == 1
    assert len(text(client, "HELP")) == 1
    with committed_factory.begin() as session:
        row = outbound.send_sms(session, settings, PHONE, "Agent here", "agent", now=NOON_PACIFIC)
        assert row.status == "outbox"
        assert row.body == f"Agent here\n{STATEMENT}"
    text(client, "UNSTOP")  # also a START word; already in: still confirmed, still allowed
    with committed_factory() as session:
        opt_out = session.get(PhoneOptOut, PHONE)
        assert opt_out is not None and not opt_out.opted_out


def test_bot_outage_gets_a_short_apology_not_an_error(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    replies = text(client, "hi there")
    assert len(replies) == 1
    assert replies[0].startswith(turns.APOLOGY) and replies[0].count(STATEMENT) == 1
    with committed_factory() as session:
        assert session.scalars(
            select(Message.text).where(Message.direction == "inbound")
        ).all() == ["hi there"]


def test_card_number_by_sms_is_redacted_before_storage(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    text(client, "my card is 4111 1111 1111 1111")
    with committed_factory() as session:
        stored = session.scalars(select(Message.text).where(Message.direction == "inbound")).all()
    assert stored == ["my card is [card number removed]"]


def status_post(client: TestClient, params: dict[str, str], query: str = "") -> int:
    url = STATUS_URL + (f"?{query}" if query else "")
    response = client.post(
        "/sms/twilio/status" + (f"?{query}" if query else ""),
        data=params,
        headers={"X-Twilio-Signature": sign(url, params)},
    )
    return response.status_code


def test_status_callback_updates_reply_and_outbound_messages(
    client: TestClient, settings: Settings, committed_factory: sessionmaker[Session]
) -> None:
    params = inbound_params("HELP")
    response = client.post(
        "/sms/twilio", data=params, headers={"X-Twilio-Signature": sign(INBOUND_URL, params)}
    )
    action = re.search(r'action="([^"]+)"', response.text)
    assert action is not None
    url = action.group(1).replace("&amp;", "&")
    assert url.startswith(STATUS_URL + "?m=")
    query = url.split("?", 1)[1]
    assert status_post(client, {"MessageSid": "SMreply1", "MessageStatus": "sent"}, query) == 200
    assert (
        status_post(client, {"MessageSid": "SMreply1", "MessageStatus": "delivered"}, query) == 200
    )
    # A late "sent" never moves a delivered message back.
    assert status_post(client, {"MessageSid": "SMreply1", "MessageStatus": "sent"}, query) == 200
    with committed_factory() as session:
        reply = session.scalars(select(Message).where(Message.direction == "outbound")).one()
    assert (reply.external_id, reply.delivery_status) == ("SMreply1", "delivered")
    # A REST send is found by its provider id.
    with committed_factory.begin() as session:
        session.add(
            OutboundMessage(to=PHONE, body="x", kind="agent", status="sent", provider_id="SMrest1")
        )
    assert (
        status_post(
            client, {"MessageSid": "SMrest1", "MessageStatus": "undelivered", "ErrorCode": "30003"}
        )
        == 200
    )
    with committed_factory() as session:
        row = session.scalars(select(OutboundMessage)).one()
    assert row.delivery_status == "undelivered"
    # Signed for another query string (someone rewriting m=) is refused.
    params = {"MessageSid": "SMreply1", "MessageStatus": "failed"}
    response = client.post(
        "/sms/twilio/status?m=999",
        data=params,
        headers={"X-Twilio-Signature": sign(STATUS_URL + "?m=1", params)},
    )
    assert response.status_code == 403


def test_carrier_unsubscribe_error_opts_the_number_out(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    with committed_factory.begin() as session:
        session.add(
            OutboundMessage(to=PHONE, body="x", kind="agent", status="sent", provider_id="SMu1")
        )
    params = {"MessageSid": "SMu1", "MessageStatus": "failed", "ErrorCode": "21610"}
    assert status_post(client, params) == 200
    with committed_factory() as session:
        opt_out = session.get(PhoneOptOut, PHONE)
    assert opt_out is not None and opt_out.opted_out and opt_out.source == "carrier"
