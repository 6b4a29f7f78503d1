"""The dashboard, accounts and exports pages over HTTP (api/routes/console_dashboard.py,
console_accounts.py, console_exports.py): rendering from the seeded portfolio, readable labels,
role checks on the server, CSRF, audit of downloads, streamed CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from devstack.stack import free_port
from parley.console import users
from parley.core.settings import Settings
from parley.tables import AuditEvent, Promise
from tests.support.console import PASSWORD, login
from tests.support.console_seed import FORMULA_NAME, seed

RAW_CODES = ("cease_communication", "human_requested", "collection_paused", "opted_out", "{'")


@pytest.fixture
def client(db_url: str, committed_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        DATABASE_URL=db_url,
        PARLEY_RASA_URL=dead,
        PARLEY_ACTION_SERVER_URL=dead,
        PARLEY_SECRET_KEY="k" * 40,
        PARLEY_JOBS_INTERVAL_SECONDS=0,
    )
    with committed_factory.begin() as session:
        for name, role in (("agent1", "agent"), ("super1", "supervisor")):
            users.create_user(session, name, PASSWORD, role)
        seed(session)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_pages_need_a_login(client: TestClient) -> None:
    for path in ("/console/dashboard", "/console/accounts", "/console/accounts/SEED-1"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/login"
    assert client.get("/console/exports/accounts.csv").status_code == 401


def test_dashboard_shows_the_figures_for_the_period(client: TestClient) -> None:
    login(client, "agent1")
    html = client.get("/console/dashboard?start=2026-03-01&end=2026-03-31").text
    assert re.search(r'data-figure="placed"><th scope="row">Placed</th><td class="num">3<', html)
    assert re.search(r'data-figure="collected">.*?\$750\.00', html)
    assert 'data-reason="dispute"><th scope="row">Dispute</th><td class="num">2<' in html
    assert "20 min" in html and "1 h 15 min" in html  # dispute medians
    assert "<svg" in html and 'role="img"' in html and "<desc" in html
    assert "Exports" not in text_of(html)  # an agent may not export
    visible = text_of(html)
    for code in RAW_CODES:
        assert code not in visible, code
    medical = client.get("/console/dashboard?start=2026-03-01&end=2026-03-31&policy=medical").text
    assert re.search(r'data-figure="placed"><th scope="row">Placed</th><td class="num">1<', medical)


def test_dashboard_says_what_is_wrong_with_a_bad_period(client: TestClient) -> None:
    login(client, "agent1")
    response = client.get("/console/dashboard?start=2026-03-31&end=2026-03-01")
    assert response.status_code == 422
    assert "The start date is after the end date." in response.text


def test_search_and_account_page(client: TestClient) -> None:
    login(client, "agent1")
    listing = client.get("/console/accounts?q=seed-").text
    # The page scores at the real time of day, so compare the order with the scores it shows.
    rows = re.findall(r'<tr data-account="(SEED-\d)">\s*<td class="num score">(-?\d+)<', listing)
    assert sorted(ref for ref, _score in rows) == [f"SEED-{n}" for n in range(1, 6)]
    assert rows[-1] == ("SEED-2", "0")  # nothing left to pay: last
    scores = [int(score) for _ref, score in rows[:-1]]
    assert scores == sorted(scores, reverse=True)
    page = client.get("/console/accounts/SEED-3").text
    assert "Collection paused" in page and "$2,000.00" in page
    assert "Dispute" in page and 'id="factors"' in page
    assert "Move to legal review" not in page  # agents may not
    assert "&lt;" not in FORMULA_NAME and "=HYPERLINK" in page  # escaped text, not markup
    visible = text_of(page)
    for code in RAW_CODES:
        assert code not in visible, code
    assert client.get("/console/accounts/NOPE").status_code == 404


def test_legal_review_is_for_supervisors_checked_on_the_server(client: TestClient) -> None:
    csrf = login(client, "agent1")
    refused = client.post(
        "/console/accounts/SEED-4/legal-review",
        data={"csrf_token": csrf, "action": "open", "reason": "x"},
    )
    assert refused.status_code == 403
    client.cookies.clear()
    csrf = login(client, "super1")
    no_csrf = client.post("/console/accounts/SEED-4/legal-review", data={"reason": "x"})
    assert no_csrf.status_code == 403
    blank = client.post(
        "/console/accounts/SEED-4/legal-review",
        data={"csrf_token": csrf, "action": "open", "reason": " "},
    )
    assert blank.status_code == 422 and "Give the reason" in blank.text
    done = client.post(
        "/console/accounts/SEED-4/legal-review",
        data={"csrf_token": csrf, "action": "open", "reason": "Two broken plans"},
    )
    assert done.status_code == 200 and "Account moved to legal review." in done.text
    assert "In legal review since" in done.text and "Two broken plans" in done.text
    exported = client.get("/console/exports/accounts.csv")
    rows = {
        r["account_ref"]: r
        for r in csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")))
    }
    assert rows["SEED-4"]["legal_review"] == "yes"
    assert rows["SEED-4"]["legal_review_reason"] == "Two broken plans"


def test_resend_link_from_the_account_page(client: TestClient) -> None:
    csrf = login(client, "agent1")
    page = client.get("/console/accounts/SEED-1").text
    plan_id = re.search(r'name="plan_id" value="(\d+)"', page)
    assert plan_id
    done = client.post(
        "/console/accounts/SEED-1/resend-link", data={"csrf_token": csrf, "plan_id": plan_id[1]}
    )
    assert done.status_code == 200
    assert "Payment link" in done.text and 'id="notice"' in done.text
    assert "Local demo checkout" in done.text  # the new link is listed
    paused = client.get("/console/accounts/SEED-3").text
    assert "Re-send payment link" not in paused


def test_exports_are_role_checked_audited_and_safe(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    login(client, "agent1")
    assert client.get("/console/exports/accounts.csv").status_code == 403
    client.cookies.clear()
    login(client, "super1")
    for name in ("accounts", "plans", "payments", "promises", "escalations"):
        response = client.get(f"/console/exports/{name}.csv")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
    accounts = client.get("/console/exports/accounts.csv").content.decode("utf-8-sig")
    assert "'" + FORMULA_NAME.replace('"', '""') in accounts
    assert client.get("/console/exports/secrets.csv").status_code == 404
    with committed_factory() as session:
        exported = [
            e.data["export"]
            for e in session.scalars(select(AuditEvent).where(AuditEvent.kind == "console.export"))
        ]
    assert sorted(exported) == sorted(
        ["accounts", "plans", "payments", "promises", "escalations", "accounts"]
    )


def test_transcript_downloads(client: TestClient, committed_factory: sessionmaker[Session]) -> None:
    login(client, "agent1")
    page = client.get("/console/accounts/SEED-5").text
    conversation = re.search(r"/console/conversations/([0-9a-f]+)/transcript\.txt", page)
    assert conversation
    text = client.get(f"/console/conversations/{conversation[1]}/transcript.txt")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert "Debtor: I lost my job" in text.text and "Account: SEED-5" in text.text
    table = client.get(f"/console/conversations/{conversation[1]}/transcript.csv")
    rows = list(csv.DictReader(io.StringIO(table.content.decode("utf-8-sig"))))
    assert rows[0]["sender"] == "Debtor" and rows[0]["text"] == "I lost my job"
    assert client.get(f"/console/conversations/{conversation[1]}/transcript.pdf").status_code == 404
    assert client.get("/console/conversations/nope/transcript.txt").status_code == 404
    with committed_factory() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "console.export")
        ).first()
        assert event is not None and event.conversation_id == conversation[1]


def test_a_promise_made_to_a_person_is_recorded_from_the_account_page(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    """SPEC §14: promises to pay are recorded from chat and from the console; a bad amount or
    day gets a clear error and records nothing; not while collection is paused."""
    csrf = login(client, "agent1")
    assert 'id="promise-form"' in client.get("/console/accounts/SEED-4").text
    today = datetime.now(timezone.utc).date()
    due = (today + timedelta(days=5)).isoformat()

    def promise(ref: str, amount: str, day: str, token: str | None = csrf) -> Response:
        data = {"amount": amount, "due": day, "note": "said on the phone: Friday"}
        if token is not None:
            data["csrf_token"] = token
        return client.post(f"/console/accounts/{ref}/promises", data=data)

    for amount, day, words in (
        ("abc", due, "The amount is not valid"),
        ("0", due, "more than $0.00 and at most the balance"),
        ("999999", due, "at most the balance"),
        ("50", "next friday", "a day like 2026-03-15"),
        ("50", (today - timedelta(days=3)).isoformat(), "today where the debtor is"),
        ("50", (today + timedelta(days=400)).isoformat(), "first-payment limit"),
    ):
        refused = promise("SEED-4", amount, day)
        assert refused.status_code == 422 and words in refused.text, (amount, day)
    assert promise("SEED-4", "50", due, token=None).status_code == 403
    paused = promise("SEED-3", "50", due)
    assert paused.status_code == 409 and "Collection is paused" in paused.text
    assert 'id="promise-form"' not in client.get("/console/accounts/SEED-3").text
    with committed_factory() as session:
        assert session.scalars(select(Promise).where(Promise.note.like("%phone%"))).all() == []

    done = promise("SEED-4", "$50.00", due)
    assert done.status_code == 200 and "Promise recorded" in done.text
    assert f"$50.00 by {due}" in text_of(done.text)
    with committed_factory() as session:
        [made] = session.scalars(select(Promise).where(Promise.note.like("%phone%"))).all()
        assert (made.amount_cents, made.due_date.isoformat(), made.status) == (5000, due, "open")
        assert made.conversation_id is None
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "promise.recorded")
        ).all()
        assert [(a.actor, a.data["promise_id"]) for a in audit] == [("user:agent1", made.id)]
