"""PARLEY_SMTP_URL and the other email settings: what each form means, and every bad value
refused at start-up with a message naming the problem and never the password."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from parley.core.settings import Settings
from parley.email.smtp_url import SmtpConfig, SmtpUrlError, parse_smtp_url

PRODUCTION: dict[str, Any] = {
    "PARLEY_ENV": "production",
    "PARLEY_SECRET_KEY": "s" * 40,
    "DATABASE_URL": "postgresql://parley@db/parley",
    "PARLEY_RASA_TOKEN": "r" * 40,
}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://user%40corp:p%40ss%2Fw@mail.example:587?starttls=true",
            SmtpConfig("mail.example", 587, False, True, "user@corp", "p@ss/w"),
        ),
        ("smtps://u:p@mail.example", SmtpConfig("mail.example", 465, True, False, "u", "p")),
        ("smtp://127.0.0.1:1025", SmtpConfig("127.0.0.1", 1025, False, False, None, None)),
        ("smtp://relay.example", SmtpConfig("relay.example", 25)),
        ("smtp://relay.example?starttls=false", SmtpConfig("relay.example", 25)),
    ],
)
def test_the_url_forms(url: str, expected: SmtpConfig) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://mail.example", "must start with smtp:// or smtps://"),
        ("mail.example:25", "must start with smtp:// or smtps://"),
        ("smtp://", "has no host"),
        ("smtp://u:secretpw@mail.example:99999", "invalid port"),
        ("smtp://u:secretpw@mail.example:twenty", "invalid port"),
        ("smtp://mail.example:0", "invalid port"),
        ("smtp://mail.example?tls=yes", "unknown option(s) ['tls']"),
        ("smtp://mail.example?starttls=maybe", "starttls must be true or false"),
        ("smtps://mail.example?starttls=true", "already TLS"),
        ("smtp://mail.example/relay", "no path"),
        ("smtp://:secretpw@mail.example", "password but no user name"),
    ],
)
def test_a_bad_url_is_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(SmtpUrlError) as refused:
        parse_smtp_url(url)
    assert reason in str(refused.value)
    assert "secretpw" not in str(refused.value)
    with pytest.raises(ValidationError) as at_start:
        Settings(PARLEY_SMTP_URL=url, PARLEY_EMAIL_FROM="c@parley.example")
    assert reason in str(at_start.value) and "secretpw" not in str(at_start.value)


def test_an_smtp_url_needs_a_sender() -> None:
    with pytest.raises(ValidationError, match="PARLEY_EMAIL_FROM is needed"):
        Settings(PARLEY_SMTP_URL="smtp://u:secretpw@127.0.0.1:1025")


@pytest.mark.parametrize("sender", ["collections", "a@b.c, d@e.f", "Name <c@localhost>", "x\n@y.z"])
def test_a_bad_sender_is_refused(sender: str) -> None:
    with pytest.raises(ValidationError, match="PARLEY_EMAIL_FROM"):
        Settings(PARLEY_EMAIL_FROM=sender)


def test_a_bad_unsubscribe_inbox_is_refused() -> None:
    with pytest.raises(ValidationError, match="PARLEY_EMAIL_UNSUBSCRIBE_MAILTO"):
        Settings(PARLEY_EMAIL_UNSUBSCRIBE_MAILTO="Unsubscribe <u@parley.example>")


def test_production_email_is_on_exactly_when_smtp_is_configured() -> None:
    assert not Settings(**PRODUCTION).email_channel_enabled
    configured = Settings(
        **PRODUCTION,
        PARLEY_SMTP_URL="smtps://u:p@mail.example",
        PARLEY_EMAIL_FROM="Parley <c@parley.example>",
    )
    assert configured.email_channel_enabled
    assert Settings().email_channel_enabled  # local mode: the outbox
    assert not Settings(PARLEY_EMAIL_ENABLED="false").email_channel_enabled


def test_production_fails_fast_when_email_is_enabled_without_smtp() -> None:
    with pytest.raises(ValidationError, match="PARLEY_SMTP_URL is not set"):
        Settings(**PRODUCTION, PARLEY_EMAIL_ENABLED="true")


def test_production_refuses_plain_smtp_to_a_remote_relay() -> None:
    sender = {"PARLEY_EMAIL_FROM": "c@parley.example"}
    with pytest.raises(ValidationError, match="smtps:// or \\?starttls=true") as refused:
        Settings(**PRODUCTION, PARLEY_SMTP_URL="smtp://u:secretpw@mail.example:587", **sender)
    assert "secretpw" not in str(refused.value)
    Settings(**PRODUCTION, PARLEY_SMTP_URL="smtp://mail.example:587?starttls=true", **sender)
    Settings(**PRODUCTION, PARLEY_SMTP_URL="smtp://127.0.0.1:25", **sender)  # a local relay
