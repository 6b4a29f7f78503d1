"""The console and the web chat in a real browser (Chromium), on the running stack (SPEC §10):
login, the live queue, an agent's reply reaching the debtor's chat live, hand-back to the bot,
role checks and CSRF enforced by the server."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from parley.tables import Conversation
from tests.support.browser import csrf_token, log_in

pytestmark = pytest.mark.stack

BAD_LOGIN = "Invalid username or password."


def debtor_says(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def open_demo_and_verify(page: Page, facts: str) -> str:
    """Open the demo chat, verify with `facts`; returns the chat session id."""
    page.goto("/demo")
    expect(page.locator("#log .msg").first).to_be_visible()
    debtor_says(page, facts)
    expect(page.locator("#log")).to_contain_text("you're verified")
    session_id = page.evaluate("sessionStorage.getItem('parley-demo-session')")
    assert isinstance(session_id, str) and session_id
    return session_id


def status_of(stack_db: sessionmaker[Session], conversation_id: str) -> str:
    with stack_db() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.status


def test_wrong_password_is_refused_without_saying_which_part(
    new_page: Callable[[], Page], console_user: Callable[[str], str]
) -> None:
    name = console_user("agent")
    page = new_page()
    log_in(page, name, "not-the-password")
    expect(page.locator("#login-error")).to_have_text(BAD_LOGIN)
    wrong_password = page.content()
    log_in(page, "no-such-user", "not-the-password")
    expect(page.locator("#login-error")).to_have_text(BAD_LOGIN)
    for text in (wrong_password, page.content()):
        lowered = text.lower()
        assert "unknown user" not in lowered and "wrong password" not in lowered
        assert "no such" not in lowered and "does not exist" not in lowered
    assert page.url.endswith("/console/login")
    assert not [c for c in page.context.cookies() if c["name"] == "parley_console"]
    # The right password works.
    log_in(page, name)
    expect(page).to_have_url(re.compile(r"/console/queue$"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "parley_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_dispute_appears_live_and_agent_reply_reaches_the_chat(
    new_page: Callable[[], Page], console_user: Callable[[str], str]
) -> None:
    agent = new_page()
    log_in(agent, console_user("agent"))
    expect(agent).to_have_url(re.compile(r"/console/queue$"))
    # The session's stack holds other suites' escalations, more than one page of them, so the
    # agent watches this debtor's account the way one would on a busy queue: by searching for it.
    # The live refresh must keep the search.
    agent.fill("input[name=q]", "BRW-1")
    agent.press("input[name=q]", "Enter")
    expect(agent).to_have_url(re.compile(r"/console/queue\?.*q=BRW-1"))
    agent.evaluate("window.__noReload = true")

    debtor = new_page()
    session_id = open_demo_and_verify(debtor, "Selwyn 05/12/1958 30317")
    debtor_says(debtor, "this is not my debt")
    expect(debtor.locator("#log")).to_contain_text("paused collection")

    row = agent.locator(f"tr.queue-item[data-conversation='{session_id}']")
    expect(row).to_be_visible(timeout=10_000)
    expect(row).to_contain_text("Dispute")
    expect(row).to_contain_text("not mine")  # words, never the code `not_mine`
    assert agent.evaluate("window.__noReload") is True, "the queue updated without a reload"

    row.locator("a").click()
    expect(agent.locator("#transcript")).to_contain_text("this is not my debt")
    expect(agent.locator("#transcript .nlu").last).to_contain_text("dispute")
    agent.click("#claim")
    expect(agent.locator("#conversation-status")).to_have_attribute("data-status", "human")
    reply = "Hi, this is Sam from the disputes team. I'm looking into it now."
    agent.fill("#reply-text", reply)
    agent.click("#reply-form button[type=submit]")
    expect(agent.locator("#transcript")).to_contain_text(reply)

    expect(debtor.locator("#log .msg.agent")).to_have_text(reply, timeout=10_000)
    expect(debtor.locator("#status")).to_contain_text("team member")


def test_hand_back_resumes_the_bot(
    new_page: Callable[[], Page],
    console_user: Callable[[str], str],
    stack_db: sessionmaker[Session],
) -> None:
    debtor = new_page()
    session_id = open_demo_and_verify(debtor, "Thackeray 05/13/1957 30318")
    debtor_says(debtor, "can i talk to a real person")
    expect(debtor.locator("#log")).to_contain_text("connecting you with a team member")

    agent = new_page()
    log_in(agent, console_user("agent"))
    agent.goto(f"/console/conversations/{session_id}")
    agent.click("#claim")
    agent.fill("#reply-text", "I've checked your account. The assistant can take it from here.")
    agent.click("#reply-form button[type=submit]")
    expect(debtor.locator("#log .msg.agent")).to_contain_text("assistant can take it")

    # While a person holds the chat, the bot does not answer.
    debtor_says(debtor, "ok thanks")
    expect(agent.locator("#transcript")).to_contain_text("ok thanks")
    agent.click("#hand-back")
    expect(agent).to_have_url(re.compile(r"/console/queue$"))
    assert status_of(stack_db, session_id) == "bot"

    debtor_says(debtor, "what's my balance")
    expect(debtor.locator("#log")).to_contain_text("$530.00")


def test_agent_cannot_do_what_only_a_supervisor_may(
    new_page: Callable[[], Page],
    console_user: Callable[[str], str],
    stack_db: sessionmaker[Session],
) -> None:
    debtor = new_page()
    session_id = open_demo_and_verify(debtor, "Upton 05/15/1955 30320")
    debtor_says(debtor, "i already paid this")
    expect(debtor.locator("#log")).to_contain_text("follow up")

    agent = new_page()
    log_in(agent, console_user("agent"))
    agent.goto(f"/console/conversations/{session_id}")
    expect(agent.locator("#close-form")).to_have_count(0)  # not offered, and also refused:
    token = csrf_token(agent)
    base = f"/console/conversations/{session_id}"
    closed = agent.request.post(
        f"{base}/close", form={"csrf_token": token, "outcome": "dispute_rejected"}
    )
    assert closed.status == 403
    lifted = agent.request.post(f"{base}/hand-back", form={"csrf_token": token, "lift_pause": "1"})
    assert lifted.status == 403
    assert status_of(stack_db, session_id) == "queued"

    supervisor = new_page()
    log_in(supervisor, console_user("supervisor"))
    supervisor.goto(base)
    supervisor.select_option("#outcome", "dispute_rejected")
    supervisor.click("#close")
    expect(supervisor).to_have_url(re.compile(r"/console/queue$"))
    assert status_of(stack_db, session_id) == "closed"


def test_request_without_csrf_token_is_refused(
    new_page: Callable[[], Page],
    console_user: Callable[[str], str],
    stack_db: sessionmaker[Session],
) -> None:
    debtor = new_page()
    debtor.goto("/demo")
    expect(debtor.locator("#log .msg").first).to_be_visible()
    debtor_says(debtor, "representative")
    expect(debtor.locator("#log")).to_contain_text("team member")
    session_id = debtor.evaluate("sessionStorage.getItem('parley-demo-session')")

    agent = new_page()
    log_in(agent, console_user("agent"))
    agent.goto(f"/console/conversations/{session_id}")
    url = f"/console/conversations/{session_id}/claim"
    # A logged-in browser session is not enough: no token, or a wrong one, is refused.
    assert agent.request.post(url).status == 403
    assert agent.request.post(url, form={"csrf_token": "forged"}).status == 403
    in_page = agent.evaluate(
        "async (url) => (await fetch(url, {method: 'POST', credentials: 'same-origin'})).status",
        url,
    )
    assert in_page == 403
    assert status_of(stack_db, session_id) == "queued"
    # With the token it works.
    assert agent.request.post(url, form={"csrf_token": csrf_token(agent)}).status == 200
    assert status_of(stack_db, session_id) == "human"
