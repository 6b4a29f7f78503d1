"""The queue at scale in a real browser (Chromium) on an API server of their own (no bot needed; SPEC §10, §15): 500+
escalations paged 50 at a time with at least 20 rows on a 1440×900 screen, counts, filters,
search, claim and assignment, a canned reply inserted with /shortcut, keyboard shortcuts,
readable labels in the transcript, axe-core, no horizontal overflow on a phone, and screenshots
at three sizes under var/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from devstack.stack import ROOT
from parley.tables import Conversation, Escalation, Message, NegotiationEvent, utcnow
from tests.browser.conftest import ConsoleApi
from tests.support.browser import log_in
from tests.support.queue import make_account, seed_queue

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
SIZES = {"1440x900": (1440, 900), "1024x768": (1024, 768), "375x667": (375, 667)}
SEEDED = 520


@pytest.fixture(scope="module")
def busy(console_api: ConsoleApi) -> list[str]:
    """520 waiting conversations (accounts Q-0000 … Q-0519) in the console API's database."""
    with console_api.db.begin() as session:
        seeded = seed_queue(session, SEEDED, now=utcnow() - timedelta(minutes=5))
        return seeded.conversation_ids


@pytest.fixture(scope="module")
def transcript_id(console_api: ConsoleApi) -> str:
    """A conversation as the bot leaves it: buttons offered, a payload pressed, a proposal in
    the negotiation record, an agent's reply."""
    at = utcnow() - timedelta(minutes=40)
    with console_api.db.begin() as session:
        account = make_account(session, "TR-0001", "Rosa", "Delgado", "+14155550999")
        session.flush()
        conversation = Conversation(
            channel="web", account_id=account.id, status="queued", verified_at=at, created_at=at
        )
        session.add(conversation)
        session.flush()
        lines: list[tuple[str, str, dict[str, Any]]] = [
            (
                "bot",
                "Thanks, you're verified. What would you like to do?",
                {
                    "buttons": [
                        {"title": "My balance", "payload": "/ask_balance"},
                        {"title": "Talk to a person", "payload": "/request_human"},
                    ]
                },
            ),
            ("debtor", "/ask_balance", {"intent": "ask_balance", "confidence": 0.99}),
            ("bot", "Your balance is $100.00 with Acme.", {}),
            ("debtor", "can i do 20 a month", {"intent": "offer_payment", "confidence": 0.91}),
            (
                "bot",
                "I can offer 5 monthly payments of $20.00. Shall I set this up?",
                {
                    "buttons": [
                        {"title": "Yes", "payload": "/affirm"},
                        {"title": "Talk to a person", "payload": "/request_human"},
                    ]
                },
            ),
            ("debtor", "/request_human", {"intent": "request_human", "confidence": 1.0}),
            ("system", "A team member will reply here soon.", {}),
        ]
        for n, (sender, text, extra) in enumerate(lines):
            session.add(
                Message(
                    conversation_id=conversation.id,
                    direction="inbound" if sender == "debtor" else "outbound",
                    sender=sender,
                    text=text,
                    created_at=at + timedelta(seconds=20 * n),
                    **extra,
                )
            )
        payments = [{"due": f"2026-0{m}-15", "amount_cents": 2000} for m in range(1, 6)]
        session.add(
            NegotiationEvent(
                account_id=account.id,
                conversation_id=conversation.id,
                kind="offer",
                actor="bot",
                terms={
                    "state": {"stage": "offered", "settlement_round": 0, "pending": None},
                    "awaiting": "confirmation",
                    "proposal": {
                        "kind": "installments",
                        "frequency": "monthly",
                        "total_cents": 10000,
                        "payments": payments,
                    },
                },
                policy_name="default",
                policy_values={"balance_cents": 10000},
                created_at=at + timedelta(seconds=90),
            )
        )
        session.add(
            Escalation(
                conversation_id=conversation.id,
                account_id=account.id,
                reason="human_requested",
                summary="Asked for a person after a plan was offered.",
                priority=40,
                created_at=at + timedelta(seconds=120),
                updated_at=at + timedelta(seconds=120),
            )
        )
        return conversation.id


def axe_serious(page: Page) -> list[dict[str, Any]]:
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make browser-js` runs `npm ci` in tests/browser")
    page.add_script_tag(path=str(AXE))
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document)).violations.map(v => ({
             id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target).slice(0, 5)}))"""
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def no_horizontal_overflow(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"{page.url}: {width}px wide in a {viewport}px viewport"


def rows(page: Page) -> Any:
    return page.locator("tr.queue-item")


def total_of(page: Page) -> int:
    text = page.locator("#queue-result").inner_text()
    found = re.match(r"(\d+) conversation", text)
    assert found, text
    return int(found[1])


def test_500_escalations_paged_with_20_rows_on_screen_and_filters_and_search(
    console_page: Callable[..., Page], console_api_user: Callable[[str], str], busy: list[str]
) -> None:
    page = console_page(1440, 900)
    log_in(page, console_api_user("agent"))
    expect(page).to_have_url(re.compile(r"/console/queue$"))
    expect(rows(page)).to_have_count(50)
    total = total_of(page)
    assert total >= SEEDED
    on_screen = page.evaluate(
        """() => [...document.querySelectorAll('tr.queue-item')]
             .filter(r => { const b = r.getBoundingClientRect(); return b.top >= 0 && b.bottom <= innerHeight; })
             .length"""
    )
    assert on_screen >= 20, f"only {on_screen} rows fit on a 1440x900 screen"
    # Readable labels, waiting time in minutes, debtor names.
    first = rows(page).first
    expect(first.locator(".reason")).to_have_text(re.compile(r"^(Bankruptcy|Attorney)$"))
    expect(first.locator(".wait")).to_have_text(re.compile(r"^\d+ (min|h \d\d min)|\d+ d \d+ h"))
    expect(first.locator(".debtor .name")).to_have_text(re.compile(r"^Debtor\d+ Family\d$"))
    assert "cease_communication" not in page.locator("main").inner_text()

    # Paging: next, and the last page has the rest.
    page.click("#page-next")
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(rows(page)).to_have_count(50)
    pages = -(-total // 50)
    page.goto(f"/console/queue?page={pages}")
    expect(rows(page)).to_have_count(total - 50 * (pages - 1))
    expect(page.locator("#page-next")).to_have_count(0)

    # Counts per reason, and the filter they link to.
    page.goto("/console/queue")
    chip = page.locator(".count[data-reason='bankruptcy']")
    expect(chip).to_contain_text("Bankruptcy")
    count = int(chip.locator("b").inner_text())
    assert count >= SEEDED // 9
    chip.click()
    expect(page).to_have_url(re.compile(r"reason=bankruptcy"))
    assert total_of(page) == count
    reasons = rows(page).evaluate_all("rs => [...new Set(rs.map(r => r.dataset.reason))]")
    assert reasons == ["bankruptcy"]
    # A select applies at once: a channel on top of the reason (seeded bankruptcies are web
    # chats, so SMS leaves none of them).
    page.select_option("#filter-channel", "web")
    expect(page).to_have_url(re.compile(r"channel=web"))
    expect(rows(page).first).to_be_visible()
    channels = rows(page).evaluate_all("rs => [...new Set(rs.map(r => r.cells[3].innerText))]")
    assert channels == ["Web chat"]
    page.select_option("#filter-channel", "sms")
    expect(page).to_have_url(re.compile(r"channel=sms"))
    seeded_sms = page.locator("tr.queue-item", has_text="Q-")
    expect(seeded_sms).to_have_count(0)
    # Search by reference, by name and by phone as typed.
    for query, ref in (
        ("Q-0017", "Q-0017"),
        ("debtor218 family1", "Q-0218"),
        ("(415) 555-0321", "Q-0321"),
    ):
        page.goto("/console/queue")
        page.fill("#queue-search", query)
        page.press("#queue-search", "Enter")
        expect(rows(page)).to_have_count(1)
        expect(rows(page).first).to_contain_text(ref)
    page.fill("#queue-search", "nobody-by-this-name")
    page.press("#queue-search", "Enter")
    expect(page.locator("#queue-result")).to_have_text("Nothing matches these filters.")


def test_keyboard_shortcuts_move_open_search_and_help(
    console_page: Callable[..., Page], console_api_user: Callable[[str], str], busy: list[str]
) -> None:
    page = console_page(1440, 900)
    log_in(page, console_api_user("agent"))
    expect(rows(page)).to_have_count(50)
    page.keyboard.press("j")
    expect(rows(page).nth(0)).to_have_class(re.compile(r"\bselected\b"))
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(rows(page).nth(2)).to_have_class(re.compile(r"\bselected\b"))
    page.keyboard.press("k")
    second = rows(page).nth(1)
    expect(second).to_have_class(re.compile(r"\bselected\b"))
    expect(page.locator("tr.queue-item.selected")).to_have_count(1)
    wanted = second.get_attribute("data-conversation")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/console/conversations/{wanted}$"))
    page.go_back()
    expect(rows(page)).to_have_count(50)
    page.locator("h1").click()  # focus back on the page, not a row
    page.keyboard.press("/")
    expect(page.locator("#queue-search")).to_be_focused()
    page.keyboard.type("j")  # typed into the search, not a shortcut
    expect(page.locator("#queue-search")).to_have_value("j")
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Next / previous conversation")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_claim_from_the_queue_assign_and_take_over_only_for_supervisors(
    console_page: Callable[..., Page],
    console_api_user: Callable[[str], str],
    busy: list[str],
    console_api: ConsoleApi,
) -> None:
    agent_name, other_name = console_api_user("agent"), console_api_user("agent")
    agent = console_page()
    log_in(agent, agent_name)
    agent.goto("/console/queue?q=Q-0044")
    row = rows(agent).first
    row.locator("button.claim").click()
    expect(agent).to_have_url(re.compile(r"/console/queue\?q=Q-0044$"))
    expect(rows(agent).first.locator(".assigned")).to_have_text(agent_name)
    expect(rows(agent).first.locator("button")).to_have_count(0)  # nothing an agent can do
    conversation_id = busy[44]
    with console_api.db() as session:
        held = session.scalars(
            select(Escalation).where(Escalation.conversation_id == conversation_id)
        ).one()
        assert held.status == "claimed"
    supervisor = console_page()
    log_in(supervisor, console_api_user("supervisor"))
    supervisor.goto("/console/queue?q=Q-0044")
    expect(rows(supervisor).first.get_by_role("button", name="Take over")).to_be_visible()

    # A supervisor assigns a waiting conversation; it is then in the agent's "mine".
    target = busy[45]
    supervisor.goto(f"/console/conversations/{target}")
    supervisor.select_option("#assign-to", other_name)
    supervisor.click("#assign-form button[type=submit]")
    expect(supervisor.locator("#assignee")).to_have_text(other_name)
    other = console_page()
    log_in(other, other_name)
    other.goto("/console/queue?assigned=mine")
    expect(rows(other)).to_have_count(1)
    expect(rows(other).first).to_have_attribute("data-conversation", target)
    other.goto(f"/console/conversations/{target}")
    expect(other.locator("#assign-form")).to_have_count(0)  # agents do not assign


def test_a_canned_reply_is_inserted_with_its_shortcut_and_sent(
    console_page: Callable[..., Page],
    console_api_user: Callable[[str], str],
    busy: list[str],
    console_api: ConsoleApi,
) -> None:
    supervisor = console_page()
    log_in(supervisor, console_api_user("supervisor"))
    supervisor.goto("/console/canned")
    text = "Our team is here Monday to Friday, 8am to 8pm Eastern."
    supervisor.fill("#canned-shortcut", "hours")
    supervisor.fill("#canned-text", text)
    supervisor.click("#canned-form button[type=submit]")
    expect(supervisor.locator("tr[data-shortcut='hours']")).to_contain_text(text)

    agent = console_page()
    log_in(agent, console_api_user("agent"))
    web = next(cid for i, cid in enumerate(busy[60:90], 60) if i % 3 != 0)  # a web chat
    agent.goto(f"/console/conversations/{web}")
    box = agent.locator("#reply-text")
    box.click()
    agent.keyboard.type("Hello! /hours")
    agent.keyboard.press("Tab")
    expect(box).to_have_value(f"Hello! {text}")
    expect(box).to_be_focused()
    agent.click("#reply-form button[type=submit]")
    expect(agent.locator("#transcript .msg.from-agent").last).to_contain_text(f"Hello! {text}")
    with console_api.db() as session:
        sent = session.scalars(
            select(Message).where(Message.conversation_id == web, Message.sender == "agent")
        ).one()
        assert sent.text == f"Hello! {text}" and "/hours" not in sent.text


def test_transcript_reads_as_words_not_codes(
    console_page: Callable[..., Page], console_api_user: Callable[[str], str], transcript_id: str
) -> None:
    page = console_page()
    log_in(page, console_api_user("supervisor"))
    page.goto(f"/console/conversations/{transcript_id}")
    transcript = page.locator("#transcript")
    debtor = transcript.locator(".msg.from-debtor .text")
    expect(debtor.nth(0)).to_have_text("My balance")
    expect(debtor.nth(2)).to_have_text("Talk to a person")
    expect(transcript).not_to_contain_text("/request_human")
    expect(transcript.locator(".offered .chip").first).to_have_text("My balance")
    negotiation = page.locator("ul.negotiation")
    expect(negotiation).to_contain_text(
        "Bot offered: installment plan, $100.00 in total, 5 payments of $20.00 monthly"
    )
    expect(negotiation).not_to_contain_text("{")
    expect(page.locator("#outcome option").first).to_have_text("Resolved")
    expect(page.locator("ul.escalations")).to_contain_text("Asked for a person")
    assert "human_requested" not in page.locator("main").inner_text()


@pytest.mark.parametrize("size", list(SIZES))
def test_screenshots_axe_and_phone_width(
    size: str,
    console_page: Callable[..., Page],
    console_api_user: Callable[[str], str],
    busy: list[str],
    transcript_id: str,
) -> None:
    width, height = SIZES[size]
    page = console_page(width, height)
    log_in(page, console_api_user("supervisor"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pages = {
        "queue": "/console/queue",
        "transcript": f"/console/conversations/{transcript_id}",
    }
    for name, path in pages.items():
        page.goto(path)
        expect(page.locator("main h1").first).to_be_visible()
        no_horizontal_overflow(page)
        page.screenshot(path=str(SCREENSHOTS / f"console-{name}-{size}.png"))
        assert axe_serious(page) == [], (name, size)
    if size == "1440x900":
        for path in (
            "/console/canned",
            "/console/admin/outbox",
            "/console/admin/config",
        ):
            page.goto(path)
            no_horizontal_overflow(page)
            assert axe_serious(page) == [], path
