"""The embeddable widget in a real browser (Chromium), embedded with one script tag in pages
served from origins other than the API's, against the shared running stack (SPEC §7, §4):
verification and the balance by typing and by quick replies, a reload and a second tab keeping
the conversation, an agent's reply arriving live over the WebSocket, the origin allowlist,
portal tokens, an axe-core accessibility check, and a phone-sized viewport.

Each test that talks about an account uses its own (WID-1 … WID-8 in tests/e2e/accounts.csv).
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from devstack.stack import ROOT, Stack, free_port
from parley.tables import Account, Conversation
from parley.verification import portal_tokens
from tests.support.browser import log_in
from tests.support.portal import PORTAL_TOKEN_AUDIENCE, PORTAL_TOKEN_SECRET

pytestmark = pytest.mark.stack

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
TITLE = "Acme help"


class _PortalPage(BaseHTTPRequestHandler):
    """A stand-in for a customer's site: one page with the widget's script tag."""

    api_url = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        query = parse_qs(urlsplit(self.path).query)
        token = query.get("token", [""])[0]
        attrs = f' data-portal-token="{html.escape(token)}"' if token else ""
        api = html.escape(self.api_url)
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Acme account portal</title></head><body><main><h1>Acme account portal</h1>"
            "<p>Your statements and documents.</p></main>"
            f'<script src="{api}/widget.js" data-server="{api}" data-title="{TITLE}" '
            f'data-color="#0f3d5e"{attrs}></script></body></html>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@pytest.fixture(scope="module")
def sites(stack: Stack, widget_page_origin: str) -> Iterator[dict[str, str]]:
    """Two embedding sites: `allowed` (on the stack's allowlist) and `foreign` (not)."""
    handler = type("PortalPage", (_PortalPage,), {"api_url": stack.api_url})
    servers = {
        "allowed": ThreadingHTTPServer(("127.0.0.1", urlsplit(widget_page_origin).port), handler),
        "foreign": ThreadingHTTPServer(("127.0.0.1", free_port()), handler),
    }
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {name: f"http://127.0.0.1:{s.server_address[1]}" for name, s in servers.items()}
    for server in servers.values():
        server.shutdown()
        server.server_close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    contexts: list[BrowserContext] = []

    def _new(**options: Any) -> BrowserContext:
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield _new
    for context in contexts:
        context.close()


def open_page(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.on("pageerror", lambda exc: print(f"page error on {page.url}: {exc}"))
    page.goto(url)
    return page


def launcher(page: Page) -> Locator:
    return page.get_by_role("button", name=f"Open chat: {TITLE}")


def chat_log(page: Page) -> Locator:
    return page.get_by_role("log", name="Conversation")


def open_chat(page: Page) -> None:
    launcher(page).click()
    expect(page.get_by_role("dialog", name=TITLE)).to_be_visible()


def say(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def stored_session(page: Page, api_url: str) -> str | None:
    value = page.evaluate(
        "(key) => { const v = JSON.parse(localStorage.getItem(key) || '{}'); return v.id || null }",
        f"parley-widget:{api_url}",
    )
    assert value is None or isinstance(value, str)
    return value


def conversation_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Conversation)) or 0)


def token_for(ref: str, *, now: datetime | None = None, secret: str = PORTAL_TOKEN_SECRET) -> str:
    return portal_tokens.issue(secret, ref, audience=PORTAL_TOKEN_AUDIENCE, now=now)


def test_verify_and_ask_the_balance_by_typing_and_quick_reply_then_reload_and_second_tab(
    sites: dict[str, str], new_context: Callable[..., BrowserContext], stack: Stack
) -> None:
    context = new_context()
    page = open_page(context, sites["allowed"])
    expect(launcher(page)).to_be_visible()
    assert page.locator("#parley-chat").evaluate("host => host.shadowRoot !== null")
    open_chat(page)
    log = chat_log(page)
    expect(log).to_contain_text("verify your identity")
    say(page, "Wexler 06/01/1981 30306")
    expect(log).to_contain_text("you're verified")

    # A quick reply sends its payload and shows its title.
    page.get_by_role("group", name="Quick replies").get_by_role("button", name="My balance").click()
    expect(log.locator(".msg.debtor").last).to_have_text(re.compile(r"My balance$"))
    expect(log).to_contain_text("Your balance is $410.00")
    expect(log).not_to_contain_text("/ask_balance")
    # Typing works too.
    say(page, "how much do I owe")
    expect(log.locator(".msg.bot", has_text="$410.00")).to_have_count(2)
    session_id = stored_session(page, stack.api_url)
    assert session_id

    # A reload keeps the conversation (and the open panel), with who said what.
    page.reload()
    log = chat_log(page)
    expect(log.locator(".msg.bot", has_text="$410.00")).to_have_count(2)
    expect(log.locator(".msg.debtor", has_text="how much do I owe")).to_have_count(1)
    assert stored_session(page, stack.api_url) == session_id

    # A second tab of the same browser continues the same conversation.
    other = open_page(context, sites["allowed"])
    open_chat(other)
    expect(chat_log(other)).to_contain_text("you're verified")
    say(other, "what is my balance")
    expect(chat_log(other).locator(".msg.bot", has_text="$410.00")).to_have_count(3)
    assert stored_session(other, stack.api_url) == session_id
    # ...and the first tab follows it.
    expect(chat_log(page).locator(".msg.bot", has_text="$410.00")).to_have_count(3)


def test_the_payment_link_is_a_link_and_messages_show_their_time(
    sites: dict[str, str], new_context: Callable[..., BrowserContext]
) -> None:
    """SPEC §7 / issue 15: the payment link is a link (a button-styled anchor that opens the
    page), never text to copy; each message carries its time; the last quick replies go once
    answered."""
    page = open_page(new_context(), sites["allowed"])
    open_chat(page)
    log = chat_log(page)
    say(page, "Wyndham 06/06/1986 30306")
    expect(log).to_contain_text("you're verified")
    say(page, "i can pay it all today")
    expect(log).to_contain_text("Shall I set this up?")
    page.get_by_role("group", name="Quick replies").get_by_role("button", name="Yes").click()
    link = log.get_by_role("link", name="Open secure payment page")
    expect(link).to_have_count(1)
    href = link.get_attribute("href") or ""
    assert "/pay/" in href and href.startswith("http"), href
    assert link.get_attribute("target") == "_blank"
    assert "noopener" in (link.get_attribute("rel") or "")
    expect(log).not_to_contain_text("/pay/")  # the address is the link's, not text to copy
    times = log.locator(".msg.bot").evaluate_all("ns => ns.map(n => n.getAttribute('data-at'))")
    assert times and all(re.search(r"\d:\d\d", t or "") for t in times), times


def test_an_agents_reply_from_the_console_arrives_live(
    sites: dict[str, str],
    new_context: Callable[..., BrowserContext],
    new_page: Callable[[], Page],
    console_user: Callable[[str], str],
    stack: Stack,
) -> None:
    page = open_page(new_context(), sites["allowed"])
    open_chat(page)
    say(page, "Winterbottom 06/03/1983 30306")
    log = chat_log(page)
    expect(log).to_contain_text("you're verified")
    say(page, "can i talk to a real person")
    expect(log).to_contain_text("team member")
    session_id = stored_session(page, stack.api_url)
    page.evaluate("window.__noReload = true")

    agent = new_page()
    log_in(agent, console_user("agent"))
    agent.goto(f"/console/conversations/{session_id}")
    agent.click("#claim")
    expect(agent.locator("#conversation-status")).to_have_attribute("data-status", "human")
    reply = "Hi Wren, this is Sam from the accounts team."
    agent.fill("#reply-text", reply)
    agent.click("#reply-form button[type=submit]")

    expect(log.locator(".msg.agent")).to_have_text(re.compile(re.escape(reply) + "$"))
    expect(page.get_by_role("status")).to_have_text("You're chatting with a team member.")
    assert page.evaluate("window.__noReload") is True, "it arrived without a reload"

    # After a reload the reply is still there, once, marked as the team member's.
    page.reload()
    expect(chat_log(page).locator(".msg.agent")).to_have_count(1)
    expect(chat_log(page).locator(".msg.agent")).to_contain_text("Team member:")


def test_a_page_on_a_foreign_origin_cannot_open_a_session(
    sites: dict[str, str],
    new_context: Callable[..., BrowserContext],
    stack: Stack,
    stack_db: sessionmaker[Session],
) -> None:
    before = conversation_count(stack_db)
    page = open_page(new_context(), sites["foreign"])
    open_chat(page)  # the script itself loads anywhere; the API refuses the page
    expect(chat_log(page).locator(".msg.error")).to_contain_text("not available")
    assert conversation_count(stack_db) == before
    assert stored_session(page, stack.api_url) is None

    # Nor can it listen to someone else's chat over the WebSocket (not covered by CORS).
    allowed = open_page(new_context(), sites["allowed"])
    open_chat(allowed)
    expect(chat_log(allowed)).to_contain_text("verify your identity")
    victim = stored_session(allowed, stack.api_url)
    ws_url = stack.api_url.replace("http", "ws", 1) + f"/api/chat/sessions/{victim}/ws"
    code = page.evaluate(
        """(url) => new Promise((resolve) => {
             const ws = new WebSocket(url);
             ws.onmessage = () => resolve("got a frame");
             ws.onclose = (e) => resolve(e.code);
           })""",
        ws_url,
    )
    assert code == 4403


def test_portal_tokens_expired_and_forged_are_refused_a_valid_one_starts_verified(
    sites: dict[str, str],
    new_context: Callable[..., BrowserContext],
    stack: Stack,
    stack_db: sessionmaker[Session],
) -> None:
    before = conversation_count(stack_db)
    old = datetime.now(timezone.utc) - timedelta(minutes=20)
    expired = token_for("WID-2", now=old)
    page = open_page(new_context(), f"{sites['allowed']}/?{urlencode({'token': expired})}")
    open_chat(page)
    expect(chat_log(page).locator(".msg.error")).to_contain_text("sign-in link has expired")
    expect(page.get_by_role("button", name="Continue without signing in")).to_be_visible()

    forged = token_for("WID-2", secret="not-the-portal-secret-0123456789abcdef")
    page = open_page(new_context(), f"{sites['allowed']}/?{urlencode({'token': forged})}")
    open_chat(page)
    expect(chat_log(page).locator(".msg.error")).to_contain_text("sign-in link is not valid")
    assert conversation_count(stack_db) == before
    assert stored_session(page, stack.api_url) is None

    page = open_page(
        new_context(), f"{sites['allowed']}/?{urlencode({'token': token_for('WID-2')})}"
    )
    open_chat(page)
    log = chat_log(page)
    expect(log).to_contain_text("How can I help you today?")
    expect(log).not_to_contain_text("verify your identity")
    page.get_by_role("group", name="Quick replies").get_by_role("button", name="My balance").click()
    expect(log).to_contain_text("Your balance is $420.00")
    with stack_db() as session:
        conversation = session.get(Conversation, stored_session(page, stack.api_url))
        assert conversation is not None and conversation.verified_at is not None
        account = session.get(Account, conversation.account_id)
        assert account is not None and account.account_ref == "WID-2"


def test_accessibility_axe_and_keyboard(
    sites: dict[str, str], new_context: Callable[..., BrowserContext]
) -> None:
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make browser-js` runs `npm ci` in tests/browser")
    page = open_page(new_context(), sites["allowed"])
    # Keyboard only: Tab reaches the launcher, Enter opens and focuses the message box.
    page.keyboard.press("Tab")
    expect(launcher(page)).to_be_focused()
    page.keyboard.press("Enter")
    box = page.get_by_role("textbox", name="Message")
    expect(box).to_be_focused()
    expect(launcher(page)).to_be_hidden()
    page.keyboard.type("Wolcott 06/04/1984 30306")
    page.keyboard.press("Enter")
    log = chat_log(page)
    expect(log).to_have_attribute("aria-live", "polite")
    expect(log).to_contain_text("you're verified")
    expect(page.get_by_role("group", name="Quick replies")).to_be_visible()

    page.add_script_tag(path=str(AXE))
    results = page.evaluate(
        """async () => {
             const r = await axe.run(document, {resultTypes: ["violations", "passes"]});
             return {
               violations: r.violations.map(v => ({id: v.id, impact: v.impact,
                 nodes: v.nodes.map(n => n.target)})),
               passes: r.passes.flatMap(p => p.nodes.map(n => n.target)),
             };
           }"""
    )
    serious = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
    # axe looked inside the shadow root (a target there is [[host selector, inner selector]]).
    inside = [t[0] for t in results["passes"] if isinstance(t[0], list)]
    assert any(path[0] == "#parley-chat" and len(path) == 2 for path in inside), results["passes"]

    # Escape closes the panel and gives focus back to the launcher.
    box.focus()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name=TITLE)).to_be_hidden()
    expect(launcher(page)).to_be_focused()


def test_phone_sized_viewport_shows_the_input(
    sites: dict[str, str], new_context: Callable[..., BrowserContext]
) -> None:
    width, height = 375, 667
    context = new_context(
        viewport={"width": width, "height": height}, is_mobile=True, has_touch=True
    )
    page = open_page(context, sites["allowed"])
    open_chat(page)
    expect(chat_log(page)).to_contain_text("verify your identity")
    box = page.get_by_role("textbox", name="Message")
    expect(box).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "widget-phone-375x667.png"))
    bounds = box.bounding_box()
    assert bounds is not None
    assert bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= width
    assert bounds["y"] >= 0 and bounds["y"] + bounds["height"] <= height
    assert bounds["height"] >= 40, "a comfortable touch target"
    send = page.get_by_role("button", name="Send").bounding_box()
    assert send is not None and send["x"] + send["width"] <= width
    # The panel takes the whole screen on a phone.
    panel = page.get_by_role("dialog", name=TITLE).bounding_box()
    assert panel is not None
    assert panel["width"] == pytest.approx(width, abs=1)
    assert panel["height"] == pytest.approx(height, abs=1)


def test_answered_quick_replies_stay_visible_but_cannot_be_pressed_again(
    sites: dict[str, str], new_context: Callable[..., BrowserContext]
) -> None:
    page = open_page(new_context(), sites["allowed"])
    open_chat(page)
    log = chat_log(page)
    say(page, "Wetherby 06/07/1987 30306")
    expect(log).to_contain_text("you're verified")
    offered = page.get_by_role("group", name="Quick replies")
    offered.get_by_role("button", name="My balance").click()
    expect(log).to_contain_text("Your balance is $470.00")
    answered = page.get_by_role("group", name="Choices already answered").first
    chosen = answered.get_by_role("button", name="My balance")
    expect(chosen).to_be_disabled()
    expect(chosen).to_have_attribute("aria-pressed", "true")
    for button in answered.get_by_role("button").all():
        expect(button).to_be_disabled()
    debtor_lines = log.locator(".msg.debtor")
    expect(debtor_lines).to_have_count(2)
    chosen.click(force=True)  # a disabled button does nothing, even when clicked
    expect(debtor_lines).to_have_count(2)
    # After a reload the old choices are still shown, still answered.
    page.reload()
    expect(chat_log(page)).to_contain_text("Your balance is $470.00")
    expect(
        page.get_by_role("group", name="Choices already answered").first.get_by_role(
            "button", name="My balance"
        )
    ).to_be_disabled()


def test_closed_conversation_offers_a_new_chat_and_names_the_agent(
    sites: dict[str, str],
    new_context: Callable[..., BrowserContext],
    new_page: Callable[[], Page],
    console_user: Callable[[str], str],
    stack: Stack,
) -> None:
    page = open_page(new_context(), sites["allowed"])
    open_chat(page)
    log = chat_log(page)
    say(page, "Whitlock 06/08/1988 30306")
    expect(log).to_contain_text("you're verified")
    say(page, "i want to talk to a person")
    expect(log).to_contain_text("team member")
    first_session = stored_session(page, stack.api_url)
    assert first_session

    supervisor = new_page()
    name = console_user("supervisor")
    log_in(supervisor, name)
    supervisor.goto(f"/console/conversations/{first_session}")
    supervisor.click("#claim")
    supervisor.fill("#reply-text", "Hi Wes, I can help with that.")
    supervisor.click("#reply-form button[type=submit]")
    agent_line = log.locator(".msg.agent")
    expect(agent_line).to_contain_text("Hi Wes, I can help with that.")
    expect(agent_line.locator(".who")).to_have_text(f"{name} · Team member")
    supervisor.goto(f"/console/conversations/{first_session}")
    supervisor.select_option("#outcome", "resolved")
    supervisor.click("#close")

    # The close arrives live: the widget says so and offers a fresh conversation.
    expect(page.get_by_role("status")).to_have_text("This conversation is closed.")
    new_chat = log.get_by_role("button", name="Start a new chat")
    expect(new_chat).to_be_visible()
    new_chat.click()
    expect(log).to_contain_text("verify your identity")
    expect(log).not_to_contain_text("Hi Wes")
    second = stored_session(page, stack.api_url)
    assert second and second != first_session
    say(page, "Whitlock 06/08/1988 30306")
    expect(log).to_contain_text("you're verified")
    page.reload()
    expect(chat_log(page)).to_contain_text("you're verified")
    assert stored_session(page, stack.api_url) == second


@pytest.mark.parametrize("size", ["1440x900", "1024x768", "375x667"])
def test_widget_screenshots_and_axe_at_each_size(
    size: str, sites: dict[str, str], new_context: Callable[..., BrowserContext]
) -> None:
    width, height = (int(part) for part in size.split("x"))
    phone = width < 480
    context = new_context(
        viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone
    )
    page = open_page(context, sites["allowed"])
    open_chat(page)
    log = chat_log(page)
    say(page, "Yardley 06/05/1985 30306")
    expect(log).to_contain_text("you're verified")
    page.get_by_role("group", name="Quick replies").get_by_role("button", name="My balance").click()
    expect(log).to_contain_text("Your balance is")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"widget-{size}.png"))
    overflow = page.evaluate("document.documentElement.scrollWidth") <= width
    assert overflow, "no horizontal scrolling"
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document)).violations.map(v => ({id: v.id,
             impact: v.impact, nodes: v.nodes.map(n => n.target)}))"""
    )
    assert [v for v in violations if v["impact"] in ("serious", "critical")] == []


def test_demo_page_looks_like_the_widget_and_passes_axe(
    new_context: Callable[..., BrowserContext], stack: Stack
) -> None:
    # CSP bypassed only so axe-core can be injected into the API's own page.
    context = new_context(
        base_url=stack.api_url, viewport={"width": 1024, "height": 768}, bypass_csp=True
    )
    page = open_page(context, f"{stack.api_url}/demo")
    expect(page.locator("#log .msg").first).to_be_visible()
    header = page.locator(".chat header")
    expect(header).to_be_visible()
    assert header.evaluate("h => getComputedStyle(h).backgroundColor") == "rgb(29, 78, 216)"
    expect(page.locator("#log .msg.bot").first).to_have_attribute("data-at", re.compile(r"\d:\d\d"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "demo-1024x768.png"))
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async () => (await axe.run(document)).violations.map(v => ({id: v.id, impact: v.impact}))"
    )
    assert [v for v in violations if v["impact"] in ("serious", "critical")] == []
