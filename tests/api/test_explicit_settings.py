"""Settings are an argument, never a hidden global: an app built with explicit settings uses
them for a console SMS reply, a payment link and a policy lookup, whatever the environment says
(and reading the environment's settings during the test is an error)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from devstack.stack import free_port
from devstack.twilio_standin import (
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    TEST_FROM_NUMBER,
    TwilioStandIn,
    twilio_standin,
)
from parley.console import users
from parley.core import settings as settings_module
from parley.core.db import transaction
from parley.core.settings import Settings, get_settings
from parley.escalations.queue import open_escalation
from parley.negotiation import dialogue
from parley.negotiation.agreements import request_payment_link
from parley.outreach.send import send_due
from parley.tables import Account, Conversation, OutboundMessage, PaymentPlan
from tests.support.accounts import make_account
from tests.support.console import PASSWORD, login
from tests.support.payment_plans import make_plan

EXPLICIT_URL = "https://explicit.example"
POLICIES = """
policies:
  default:
    min_installment: "77.00"
    max_installments: 60
    max_plan_days: 2000
    frequencies: [monthly]
    first_payment_within_days: 30
"""


@pytest.fixture
def environment_says_otherwise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An environment whose settings all differ, and any read of them fails the test."""
    monkeypatch.setenv("PARLEY_PUBLIC_URL", "https://environment.example")
    monkeypatch.setenv("PARLEY_POLICIES", str(tmp_path / "no-such-policies.yml"))
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()

    def refuse() -> Settings:
        raise AssertionError("the environment's settings were read")

    monkeypatch.setattr(settings_module, "get_settings", refuse)
    yield
    get_settings.cache_clear()


@pytest.fixture
def twilio() -> Iterator[TwilioStandIn]:
    with twilio_standin() as running:
        yield running


def explicit(db_url: str, twilio: TwilioStandIn, policies: Path) -> Settings:
    dead = f"http://127.0.0.1:{free_port()}"
    return Settings(
        DATABASE_URL=db_url,
        PARLEY_PUBLIC_URL=EXPLICIT_URL,
        PARLEY_SECRET_KEY="e" * 40,
        PARLEY_RASA_URL=dead,
        PARLEY_ACTION_SERVER_URL=dead,
        PARLEY_JOBS_INTERVAL_SECONDS=0,
        PARLEY_POLICIES=str(policies),
        TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=TEST_AUTH_TOKEN,
        TWILIO_FROM_NUMBER=TEST_FROM_NUMBER,
        PARLEY_TWILIO_API_URL=twilio.url,
    )


def test_console_reply_payment_link_and_policy_use_the_apps_settings(
    environment_says_otherwise: None,
    db_url: str,
    committed_factory: sessionmaker[Session],
    twilio: TwilioStandIn,
    tmp_path: Path,
) -> None:
    policies = tmp_path / "policies.yml"
    policies.write_text(POLICIES)
    settings = explicit(db_url, twilio, policies)

    # A console SMS reply goes through the app's Twilio account (the environment has none).
    phone = "+14155550188"
    with transaction(committed_factory) as session:
        users.create_user(session, "agent7", PASSWORD, "agent")
        account = make_account(account_ref="EXPL-1", phone=phone)
        session.add(account)
        session.flush()
        conversation = Conversation(channel="sms", phone=phone, account_id=account.id)
        session.add(conversation)
        session.flush()
        open_escalation(session, conversation, "human_requested")
        conversation_id = conversation.id
    # The public URL is https, so the console cookies are Secure: the client speaks https too.
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        csrf = login(client, "agent7")
        response = client.post(
            f"/console/conversations/{conversation_id}/reply",
            data={"csrf_token": csrf, "text": "Hello from the team."},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
    with committed_factory() as session:
        row = session.scalars(select(OutboundMessage)).one()
        send_after = row.send_after
    if row.status == "scheduled":  # quiet hours where the debtor is: the job sends it later
        send_due(committed_factory, settings, now=send_after + timedelta(seconds=1))
    [sent] = twilio.sent
    assert sent.params["From"] == TEST_FROM_NUMBER
    assert sent.params["Body"].startswith("Hello from the team.")
    assert sent.params["StatusCallback"] == f"{EXPLICIT_URL}/sms/twilio/status"

    # A payment link is built on the app's public URL.
    plan_id = make_plan(committed_factory)
    with transaction(committed_factory) as session:
        plan = session.get(PaymentPlan, plan_id)
        assert plan is not None
        text = request_payment_link(session, settings, plan)
    assert text is not None and f"{EXPLICIT_URL}/pay/" in text

    # The negotiation reads the app's policies file (the environment's does not exist).
    with transaction(committed_factory) as session:
        debtor = session.scalars(select(Account).where(Account.account_ref == "EXPL-1")).one()
        chat = Conversation(channel="web", account_id=debtor.id)
        session.add(chat)
        session.flush()
        turn = dialogue.take_turn(
            session, settings, chat, debtor, "offer", "i can do $30 a month", True
        )
    assert turn.kind in ("summary", "hardship")
    assert "$77.00" in turn.explanation


def test_the_collector_statement_is_never_blank_and_always_says_debt_collector() -> None:
    import pytest
    from pydantic import ValidationError

    from parley.core.settings import DEFAULT_COLLECTOR_STATEMENT, Settings

    assert Settings(PARLEY_COLLECTOR_STATEMENT="").collector_statement == (
        DEFAULT_COLLECTOR_STATEMENT
    )
    assert Settings(PARLEY_COLLECTOR_STATEMENT="Acme is a Debt Collector.").collector_statement
    with pytest.raises(ValidationError, match="debt collector"):
        Settings(PARLEY_COLLECTOR_STATEMENT="Acme says hello.")
