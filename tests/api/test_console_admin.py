"""The console's queue page, canned replies and admin over HTTP: the account import endpoint
(raw CSV and multipart, all or nothing, line-numbered report), the upload page, users, the
configuration in force and the outbox; roles and CSRF checked by the server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from devstack.stack import free_port
from parley.console import users
from parley.core.settings import Settings
from parley.tables import Account, OutboundMessage, User
from tests.support.console import PASSWORD, login
from tests.support.queue import seed_queue

SECRET = "k" * 40
DEMO = Path(__file__).parents[2] / "config" / "demo-accounts.csv"
HEADER = DEMO.read_text(encoding="utf-8").splitlines()[0]
GOOD_ROW = DEMO.read_text(encoding="utf-8").splitlines()[1]


@pytest.fixture
def client(db_url: str, committed_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    dead = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        DATABASE_URL=db_url,
        PARLEY_RASA_URL=dead,
        PARLEY_ACTION_SERVER_URL=dead,
        PARLEY_SECRET_KEY=SECRET,
    )
    with committed_factory.begin() as session:
        for name, role in (("agent1", "agent"), ("super1", "supervisor"), ("admin1", "admin")):
            users.create_user(session, name, PASSWORD, role)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def visible(html: str) -> str:
    """The text a person reads: tags, attributes, scripts and styles left out."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def accounts(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Account)) or 0)


def bad_csv() -> str:
    """Two good rows and two bad ones (lines 3 and 5)."""
    rows = DEMO.read_text(encoding="utf-8").splitlines()
    bad_dob = rows[2].replace("1972-11-02", "1972-13-40")
    bad_zip = rows[4].replace(",77002,", ",7700,")
    return "\n".join([HEADER, rows[1], bad_dob, rows[3], bad_zip]) + "\n"


def test_import_endpoint_raw_csv_with_bearer_token_then_idempotent(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    token = users.api_token_for(SECRET, "admin1")
    body = DEMO.read_bytes()
    response = client.post(
        "/api/admin/accounts/import",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    lines = len(DEMO.read_text(encoding="utf-8").splitlines()) - 1
    assert report == {
        "ok": True,
        "file": "upload.csv",
        "created": lines,
        "updated": 0,
        "errors": [],
    }
    assert accounts(committed_factory) == lines
    again = client.post(
        "/api/admin/accounts/import",
        content=body,
        headers={"Authorization": f"Bearer {token}", "X-File-Name": "../../demo.csv"},
    )
    assert again.json()["updated"] == lines and again.json()["file"] == "demo.csv"
    assert accounts(committed_factory) == lines


def test_import_endpoint_bad_file_imports_nothing_and_numbers_the_lines(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    csrf = login(client, "admin1")
    response = client.post(
        "/api/admin/accounts/import",
        files={"file": ("portfolio.csv", bad_csv().encode(), "text/csv")},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 422
    report = response.json()
    assert report["ok"] is False and report["file"] == "portfolio.csv"
    assert report["created"] == 0 and report["updated"] == 0
    assert [e["line"] for e in report["errors"]] == [3, 5]
    assert "date_of_birth" in report["errors"][0]["reason"]
    assert "zip" in report["errors"][1]["reason"]
    assert accounts(committed_factory) == 0, "all or nothing"
    not_utf8 = client.post(
        "/api/admin/accounts/import",
        content=(HEADER + "\n").encode() + GOOD_ROW.encode("utf-8").replace(b"Maria", b"Mar\xeda"),
        headers={"X-CSRF-Token": csrf, "Content-Type": "text/csv"},
    )
    assert not_utf8.status_code == 422
    assert not_utf8.json()["errors"] == [{"line": 2, "reason": "file is not UTF-8 text"}]
    empty = client.post("/api/admin/accounts/import", content=b"", headers={"X-CSRF-Token": csrf})
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "empty_file"
    assert accounts(committed_factory) == 0


def test_import_endpoint_refuses_non_admins_no_csrf_and_bad_tokens(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    body = DEMO.read_bytes()
    anonymous = client.post("/api/admin/accounts/import", content=body)
    assert anonymous.status_code == 403  # no session and no CSRF token
    forged = client.post(
        "/api/admin/accounts/import",
        content=body,
        headers={"Authorization": "Bearer admin1.0000"},
    )
    assert forged.status_code == 401
    supervisor_token = users.api_token_for(SECRET, "super1")
    not_admin = client.post(
        "/api/admin/accounts/import",
        content=body,
        headers={"Authorization": f"Bearer {supervisor_token}"},
    )
    assert not_admin.status_code == 401  # API tokens are for admins only
    csrf = login(client, "super1")
    supervisor = client.post(
        "/api/admin/accounts/import", content=body, headers={"X-CSRF-Token": csrf}
    )
    assert supervisor.status_code == 403
    client.cookies.clear()
    login(client, "admin1")
    no_csrf = client.post("/api/admin/accounts/import", content=body)
    assert no_csrf.status_code == 403
    assert accounts(committed_factory) == 0


def test_upload_page_shows_the_line_numbered_report(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    csrf = login(client, "admin1")
    page = client.get("/console/admin/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    bad = client.post(
        "/console/admin/upload",
        data={"csrf_token": csrf},
        files={"file": ("portfolio.csv", bad_csv().encode(), "text/csv")},
    )
    assert bad.status_code == 422
    assert "nothing was imported" in bad.text
    assert "Line 3:" in bad.text and "Line 5:" in bad.text
    assert accounts(committed_factory) == 0
    good = client.post(
        "/console/admin/upload",
        data={"csrf_token": csrf},
        files={"file": ("demo.csv", DEMO.read_bytes(), "text/csv")},
    )
    assert good.status_code == 200 and "Imported demo.csv" in good.text
    assert accounts(committed_factory) > 0


def test_admin_pages_are_for_their_roles(client: TestClient) -> None:
    login(client, "agent1")
    for path in (
        "/console/admin/import",
        "/console/admin/users",
        "/console/admin/config",
        "/console/admin/outbox",
    ):
        assert client.get(path).status_code == 403, path
    queue = client.get("/console/queue").text
    assert "/console/admin/users" not in queue and "/console/admin/outbox" not in queue
    client.cookies.clear()
    login(client, "super1")
    assert client.get("/console/admin/config").status_code == 200
    assert client.get("/console/admin/outbox").status_code == 200
    assert client.get("/console/admin/users").status_code == 403
    assert client.get("/console/admin/import").status_code == 403


def test_users_create_disable_enable_reset_over_the_console(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    csrf = login(client, "admin1")
    created = client.post(
        "/console/admin/users",
        data={
            "csrf_token": csrf,
            "username": "Sam.Lee",
            "password": "a long enough password",
            "role": "agent",
            "display_name": "Sam",
        },
    )
    assert created.status_code == 200 and "Created sam.lee" in created.text
    duplicate = client.post(
        "/console/admin/users",
        data={"csrf_token": csrf, "username": "sam.lee", "password": "x" * 12, "role": "agent"},
    )
    assert duplicate.status_code == 422 and "already exists" in duplicate.text
    other = TestClient(client.app)
    login(other, "sam.lee", "a long enough password")
    assert other.get("/console/queue").status_code == 200
    disabled = client.post("/console/admin/users/sam.lee/disable", data={"csrf_token": csrf})
    assert "Disabled sam.lee" in disabled.text
    assert other.get("/console/queue", follow_redirects=False).status_code == 303
    client.post("/console/admin/users/sam.lee/enable", data={"csrf_token": csrf})
    reset = client.post(
        "/console/admin/users/sam.lee/password",
        data={"csrf_token": csrf, "password": "the new long password"},
    )
    assert "New password set for sam.lee" in reset.text
    third = TestClient(client.app)
    login(third, "sam.lee", "the new long password")
    with committed_factory() as session:
        user = session.scalars(select(User).where(User.username == "sam.lee")).one()
        assert user.active and user.display_name == "Sam" and user.role == "agent"
    self_disable = client.post("/console/admin/users/admin1/disable", data={"csrf_token": csrf})
    assert self_disable.status_code == 422


def test_config_page_shows_policies_and_queue_targets(client: TestClient) -> None:
    login(client, "super1")
    page = client.get("/console/admin/config").text
    assert 'data-policy="default"' in page and 'data-policy="medical"' in page
    assert "$25.00" in page and "Stop contact" in page
    assert "cease_communication" not in page


def test_outbox_lists_local_mode_messages_paged(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    with committed_factory.begin() as session:
        for i in range(60):
            session.add(
                OutboundMessage(
                    to="+14155550101", body=f"reminder {i}", kind="reminder", status="outbox"
                )
            )
        session.add(OutboundMessage(to="+1415", body="sent one", kind="agent", status="sent"))
    login(client, "super1")
    first = client.get("/console/admin/outbox").text
    # The count names the outbox only (not the sent one). Not "61" anywhere before "message":
    # the page's random CSRF token held "61" once in a fresh-clone CI run.
    assert "61 messages" not in first and "60 messages" in first
    assert "reminder 59" in first and "reminder 9<" not in first and "sent one" not in first
    second = client.get("/console/admin/outbox?page=2").text
    assert "reminder 9<" in second and "page 2 of 2" in second
    everything = client.get("/console/admin/outbox?all=1").text
    assert "61 messages" in everything and "sent one" in everything


def test_queue_page_filters_search_and_pages(
    client: TestClient, committed_factory: sessionmaker[Session]
) -> None:
    with committed_factory.begin() as session:
        seed_queue(session, 120)
    login(client, "agent1")
    page = client.get("/console/queue").text
    assert page.count('class="queue-item"') == 50
    assert "120 conversations" in page and "page 1 of 3" in page
    shown = visible(page)
    assert "Stop contact" in shown and "Asked for a person" in shown
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", shown), "no snake_case codes on the page"
    last = client.get("/console/queue?page=3").text
    assert last.count('class="queue-item"') == 20
    search = client.get("/console/queue", params={"q": "Debtor17 "}).text
    assert search.count('class="queue-item"') == 1 and "Q-0017" in search
    rows = client.get("/console/queue/rows", params={"reason": "dispute", "channel": "sms"})
    assert rows.status_code == 200
    assert all(
        'data-reason="dispute"' in line
        for line in rows.text.splitlines()
        if 'class="queue-item"' in line
    )
    # Agents see Claim; Take over only where a supervisor could use it.
    assert "Take over" not in page


def test_canned_replies_managed_by_supervisors(client: TestClient) -> None:
    csrf = login(client, "agent1")
    refused = client.post(
        "/console/canned", data={"csrf_token": csrf, "shortcut": "hi", "text": "Hello"}
    )
    assert refused.status_code == 403
    client.cookies.clear()
    csrf = login(client, "super1")
    saved = client.post(
        "/console/canned", data={"csrf_token": csrf, "shortcut": "/hi", "text": "Hello there"}
    )
    assert saved.status_code == 200 and 'data-shortcut="hi"' in saved.text
    gone = client.post("/console/canned/hi/delete", data={"csrf_token": csrf})
    assert 'data-shortcut="hi"' not in gone.text
