"""The console over HTTP (no bot needed): login, CSRF, roles, the work on a conversation, the
read-only JSON API. The escalations are opened with the same `parley` code the actions use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from devstack.stack import free_port
from parley.console import users
from parley.conversations import live
from parley.conversations import turns as messaging
from parley.core.db import transaction
from parley.core.settings import Settings
from parley.escalations.queue import open_escalation, pause_collection
from parley.tables import Account, AuditEvent, Conversation, Escalation, Message, utcnow
from tests.support.console import CSRF, PASSWORD, login
from tests.support.queue import seed_queue


@pytest.fixture
def client(db_url: str, committed_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        DATABASE_URL=db_url,
        PARLEY_RASA_URL=dead,
        PARLEY_ACTION_SERVER_URL=dead,
        PARLEY_SECRET_KEY="k" * 40,
    )
    with committed_factory.begin() as session:
        for name, role in (("agent1", "agent"), ("super1", "supervisor"), ("admin1", "admin")):
            users.create_user(session, name, PASSWORD, role)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def dispute(committed_factory: sessionmaker[Session], phone: str | None = None) -> str:
    """A verified web conversation whose debtor disputed: queued, collection paused."""
    with committed_factory.begin() as session:
        account = session.scalars(select(Account)).first()
        if account is None:
            account = Account(
                account_ref=f"T-{free_port()}",
                first_name="Tess",
                last_name="Tester",
                last_name_key="tester",
                dob_hash="x",
                zip_hash="y",
                creditor="Acme",
                original_creditor="Acme Card",
                account_last4="1234",
                description="Card",
                principal_cents=10000,
                interest_cents=0,
                fees_cents=0,
                payments_credits_cents=0,
                itemization_date=date(2025, 1, 1),
            )
            session.add(account)
            session.flush()
        conversation = Conversation(channel="web", account_id=account.id)
        conversation.verified_at = utcnow()
        session.add(conversation)
        session.flush()
        session.add(
            Message(
                conversation_id=conversation.id,
                direction="inbound",
                sender="debtor",
                text="this is not my debt",
                intent="dispute",
                confidence=0.93,
            )
        )
        pause_collection(session, account, "dispute")
        open_escalation(session, conversation, "dispute", "not_mine", "Reason: dispute.")
        return conversation.id


def test_login_page_and_wrong_password_says_nothing_specific(client: TestClient) -> None:
    page = client.get("/console/login")
    token = CSRF.search(page.text)
    assert token
    bad_password = client.post(
        "/console/login",
        data={"username": "agent1", "password": "wrong password!", "csrf_token": token[1]},
    )
    token2 = CSRF.search(bad_password.text)
    assert token2
    bad_name = client.post(
        "/console/login",
        data={"username": "nobody", "password": PASSWORD, "csrf_token": token2[1]},
    )
    assert bad_password.status_code == bad_name.status_code == 401
    assert "Invalid username or password." in bad_password.text
    assert "Invalid username or password." in bad_name.text
    assert "parley_console" not in client.cookies


def test_login_without_csrf_is_refused(client: TestClient) -> None:
    client.get("/console/login")
    response = client.post("/console/login", data={"username": "agent1", "password": PASSWORD})
    assert response.status_code == 403
    assert "parley_console" not in client.cookies


def test_session_cookie_flags(client: TestClient) -> None:
    page = client.get("/console/login")
    token = CSRF.search(page.text)
    assert token
    response = client.post(
        "/console/login",
        data={"username": "agent1", "password": PASSWORD, "csrf_token": token[1]},
        follow_redirects=False,
    )
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("parley_console=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")


def test_pages_need_login(client: TestClient) -> None:
    assert client.get("/console/queue", follow_redirects=False).headers["location"] == (
        "/console/login"
    )
    assert client.get("/api/console/escalations").status_code == 401
    assert client.post("/console/conversations/x/claim").status_code == 403


def test_queue_claim_reply_note_and_transcript(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    conversation_id = dispute(committed_factory)
    csrf = login(client, "agent1")
    queue = client.get("/console/queue/rows")
    assert conversation_id in queue.text and "Dispute" in queue.text and "(not mine)" in queue.text
    assert "not_mine" not in queue.text, "codes are shown as words"
    page = client.get(f"/console/conversations/{conversation_id}")
    assert "this is not my debt" in page.text
    assert "dispute 0.93" in page.text, "the bot's understanding is shown per turn"

    # No CSRF token: refused, nothing happens.
    refused = client.post(f"/console/conversations/{conversation_id}/claim")
    assert refused.status_code == 403
    wrong = client.post(
        f"/console/conversations/{conversation_id}/claim", headers={"X-CSRF-Token": "nope"}
    )
    assert wrong.status_code == 403
    with committed_factory() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.status == "queued"

    def post(path: str, **data: str) -> int:
        response = client.post(
            f"/console/conversations/{conversation_id}/{path}",
            data={"csrf_token": csrf, **data},
            follow_redirects=False,
        )
        return response.status_code

    assert post("claim") == 303
    assert post("reply", text="Hi, I'm Sam. I've paused everything while I look into it.") == 303
    assert post("notes", text="Debtor sounds sure; request validation docs.") == 303
    with committed_factory() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.status == "human"
        kinds = session.scalars(
            select(AuditEvent.kind)
            .where(AuditEvent.conversation_id == conversation_id, AuditEvent.actor == "user:agent1")
            .order_by(AuditEvent.id)
        ).all()
        assert kinds == ["console.claim", "console.reply", "console.note"]
        update = live.chat_updates(session, conversation_id, 0)
        assert [text for _id, text in update.messages] == [
            "Hi, I'm Sam. I've paused everything while I look into it."
        ]
    # The debtor's transcript has the agent's reply but never the note.
    transcript = client.get(f"/api/chat/sessions/{conversation_id}/messages").json()
    texts = [m["text"] for m in transcript["messages"]]
    assert "Hi, I'm Sam. I've paused everything while I look into it." in texts
    assert not any("validation docs" in t for t in texts)
    assert transcript["status"] == "human"


def test_agent_cannot_do_what_only_a_supervisor_may(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    conversation_id = dispute(committed_factory)
    csrf = login(client, "agent1")
    for path, data in (
        ("close", {"outcome": "dispute_upheld"}),
        ("hand-back", {}),  # a dispute paused collection: supervisors resolve it
        ("hand-back", {"lift_pause": "true"}),
    ):
        response = client.post(
            f"/console/conversations/{conversation_id}/{path}",
            data={"csrf_token": csrf, **data},
            follow_redirects=False,
        )
        assert response.status_code == 403, (path, data)
    with committed_factory() as session:
        account = session.scalars(select(Account)).one()
        assert account.collection_paused
        escalation = session.scalars(select(Escalation)).one()
        assert escalation.status == "open"


def test_supervisor_closes_with_outcome_and_lifts_pause(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    conversation_id = dispute(committed_factory)
    csrf = login(client, "super1")
    response = client.post(
        f"/console/conversations/{conversation_id}/close",
        data={"csrf_token": csrf, "outcome": "dispute_rejected", "lift_pause": "true"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with committed_factory() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.status == "closed"
        escalation = session.scalars(select(Escalation)).one()
        assert (escalation.status, escalation.outcome) == ("resolved", "dispute_rejected")
        assert not session.scalars(select(Account)).one().collection_paused
        actors = set(session.scalars(select(AuditEvent.actor)).all())
        assert "user:super1" in actors


def test_hand_back_returns_to_bot_but_keeps_pause(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    conversation_id = dispute(committed_factory)
    csrf = login(client, "super1")
    response = client.post(
        f"/console/conversations/{conversation_id}/hand-back",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with committed_factory() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.status == "bot"
        assert session.scalars(select(Account)).one().collection_paused


def test_queued_messages_skip_the_bot_and_reach_the_console(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    conversation_id = dispute(committed_factory)
    # The bot is unreachable here: a queued conversation must not need it.
    response = client.post(
        f"/api/chat/sessions/{conversation_id}/messages", json={"text": "hello? anyone?"}
    )
    assert response.status_code == 200
    # Never silent (SPEC §7): a short note that a person will answer, and when...
    [note] = response.json()["messages"]
    assert "a team member will reply here" in note["text"]
    assert response.json()["status"] == "queued"
    # ...at most every few minutes, so a second line gets no second note.
    again = client.post(
        f"/api/chat/sessions/{conversation_id}/messages", json={"text": "hello??"}
    ).json()
    assert again == {"messages": [], "status": "queued"}
    login(client, "agent1")
    assert "hello? anyone?" in client.get(f"/console/conversations/{conversation_id}").text
    assert "hello??" in client.get("/console/queue/rows").text  # the latest line


def test_read_only_api_with_cookie_or_admin_token(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    conversation_id = dispute(committed_factory)
    token = users.api_token_for("k" * 40, "admin1")
    bearer = {"Authorization": f"Bearer {token}"}
    escalations = client.get("/api/console/escalations", headers=bearer)
    assert escalations.status_code == 200
    assert [(e["reason"], e["sub_reason"]) for e in escalations.json()["escalations"]] == [
        ("dispute", "not_mine")
    ]
    detail = client.get(f"/api/console/conversations/{conversation_id}", headers=bearer).json()
    assert detail["messages"][0]["intent"] == "dispute"
    ref = detail["account"]["account_ref"]
    account = client.get(f"/api/console/accounts/{ref}", headers=bearer)
    assert account.status_code == 200
    body = account.text
    for secret_field in ("dob_hash", "zip_hash", "ssn4_hash", "date_of_birth"):
        assert secret_field not in body
    assert account.json()["collection_paused"] is True
    # A supervisor's token is not accepted; a supervisor's session cookie is.
    not_admin = {"Authorization": f"Bearer {users.api_token_for('k' * 40, 'super1')}"}
    assert client.get("/api/console/escalations", headers=not_admin).status_code == 401
    login(client, "super1")
    queue = client.get("/api/console/queue")
    assert queue.status_code == 200
    body = queue.json()
    assert (body["total"], body["page"], body["pages"], body["counts"]) == (1, 1, 1, {"dispute": 1})
    [item] = body["items"]
    assert (item["conversation_id"], item["reason"], item["sub_reason"]) == (
        conversation_id,
        "dispute",
        "not_mine",
    )
    assert client.get("/api/console/accounts/NOPE").status_code == 404


def test_start_conversation_then_take_over_from_bot_needs_no_escalation(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    with committed_factory.begin() as session:
        conversation = Conversation(channel="web")
        session.add(conversation)
        session.flush()
        conversation_id = conversation.id
    csrf = login(client, "agent1")
    response = client.post(
        f"/console/conversations/{conversation_id}/claim",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with committed_factory() as session:
        rows, status = messaging.transcript(session, conversation_id)
    assert status == "human" and rows == []
    with committed_factory() as session:
        escalation = session.scalars(select(Escalation)).one()
        assert (escalation.reason, escalation.sub_reason) == ("human_requested", "taken_over")


def test_reply_on_sms_goes_through_the_outbound_path(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    from parley.tables import OutboundMessage, PhoneOptOut

    with committed_factory.begin() as session:
        conversation = Conversation(channel="sms", phone="+14045550123")
        session.add(conversation)
        session.flush()
        conversation_id = conversation.id
        blocked = Conversation(channel="sms", phone="+14045550199")
        session.add(blocked)
        session.add(PhoneOptOut(phone="+14045550199", opted_out=True, source="keyword"))
        session.flush()
        blocked_id = blocked.id
    csrf = login(client, "agent1")
    for target in (conversation_id, blocked_id):
        response = client.post(
            f"/console/conversations/{target}/reply",
            data={"csrf_token": csrf, "text": "Hello from the team."},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
    with committed_factory() as session:
        sent = session.scalars(
            select(OutboundMessage).where(OutboundMessage.conversation_id == conversation_id)
        ).one()
        assert (sent.kind, sent.to) == ("agent", "+14045550123")
        assert sent.body.startswith("Hello from the team.")
        refused = session.scalars(
            select(OutboundMessage).where(OutboundMessage.conversation_id == blocked_id)
        ).one()
        assert refused.status == "blocked", "an opted-out number gets nothing"
        stored = session.scalars(
            select(Message).where(Message.conversation_id == blocked_id, Message.sender == "agent")
        ).one()
        assert stored.delivery_status == "blocked"


def test_the_json_queue_and_escalations_are_paged_with_the_queue_pages_filters(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    """SPEC §15 at scale: the read-only API pages like the console (120 conversations)."""
    with transaction(committed_factory) as session:
        seeded = seed_queue(session, 120)
    bearer = {"Authorization": f"Bearer {users.api_token_for('k' * 40, 'admin1')}"}
    first = client.get("/api/console/queue", headers=bearer).json()
    assert (first["total"], first["pages"], first["per_page"], len(first["items"])) == (
        120,
        3,
        50,
        50,
    )
    last = client.get("/api/console/queue?page=3", headers=bearer).json()
    assert len(last["items"]) == 20
    seen = {
        i["conversation_id"]
        for p in (1, 2, 3)
        for i in client.get(f"/api/console/queue?page={p}", headers=bearer).json()["items"]
    }
    assert seen == set(seeded.conversation_ids)  # every one once, across the pages
    ordered = [(-i["priority"], i["waiting_since"]) for i in first["items"]]
    assert ordered == sorted(ordered)  # most urgent first, then the longest waiting
    assert sum(first["counts"].values()) == 120
    dispute = client.get("/api/console/queue?reason=dispute&per_page=200", headers=bearer).json()
    assert dispute["total"] == first["counts"]["dispute"] == len(dispute["items"])
    assert {i["reason"] for i in dispute["items"]} == {"dispute"}
    found = client.get("/api/console/queue?q=Q-0007", headers=bearer).json()
    assert [i["account_ref"] for i in found["items"]] == ["Q-0007"]
    past_the_end = client.get("/api/console/queue?page=99", headers=bearer).json()
    assert past_the_end["page"] == 3 and past_the_end["items"] == last["items"]
    assert client.get("/api/console/queue?per_page=500", headers=bearer).status_code == 422
    assert client.get("/api/console/queue?page=0", headers=bearer).status_code == 422

    escalations = client.get("/api/console/escalations?per_page=40", headers=bearer).json()
    assert (escalations["total"], escalations["pages"], len(escalations["escalations"])) == (
        120,
        3,
        40,
    )
    ids = [e["id"] for e in escalations["escalations"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    third = client.get("/api/console/escalations?per_page=40&page=3", headers=bearer).json()
    assert max(e["id"] for e in third["escalations"]) < min(ids)
