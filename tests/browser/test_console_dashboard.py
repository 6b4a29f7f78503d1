"""The dashboard, account search, the account page and the exports in a real browser (Debian's
Chromium through Playwright), against the seeded portfolio of tests/support/console_seed.py.

These pages need no bot, so the module runs an API server of its own (uvicorn in a thread, on a
free loopback port, a migrated SQLite file) rather than the shared stack. Checked: the numbers
the dashboard shows against the hand-worked figures, the policy filter, search and paging, the
account page, legal review by a supervisor, CSV and transcript downloads and their contents,
axe-core (no serious or critical violation) on each page, no sideways scrolling on a phone, and
screenshots at 1440x900, 1024x768 and 375x667 under var/screenshots/.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, expect

from api.app import create_app
from devstack.stack import ROOT, free_port
from parley.console import users
from parley.core.db import make_engine, make_session_factory
from parley.core.migrations import upgrade_to_head
from parley.core.settings import Settings
from tests.support.accounts import make_account
from tests.support.browser import PASSWORD, log_in
from tests.support.console_seed import EXPECTED, FORMULA_NAME, seed

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
SIZES = {"1440x900": (1440, 900), "1024x768": (1024, 768), "375x667": (375, 667)}
MARCH = "/console/dashboard?start=2026-03-01&end=2026-03-31"
PAGER_ACCOUNTS = 30


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("console-dashboard")
    url = f"sqlite:///{folder / 'parley.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:
        users.create_user(session, "agent1", PASSWORD, "agent")
        users.create_user(session, "super1", PASSWORD, "supervisor")
        seed(session)
        for n in range(PAGER_ACCOUNTS):
            session.add(make_account(account_ref=f"PAGE-{n:03d}", last_name="Pager"))
    engine.dispose()
    port = free_port()
    dead = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        DATABASE_URL=url,
        PARLEY_RASA_URL=dead,
        PARLEY_ACTION_SERVER_URL=dead,
        PARLEY_JOBS_INTERVAL_SECONDS=0,
        PARLEY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        PARLEY_SECRET_KEY="k" * 40,
    )
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="console-dashboard-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def open_as(browser: Browser, api_url: str) -> Iterator[Callable[[str], Page]]:
    """A logged-in page, each in a browser context of its own (its own cookies)."""
    contexts: list[BrowserContext] = []

    def _open(name: str) -> Page:
        # bypass_csp only so the test can inject axe-core; the pages' own scripts and styles
        # are same-origin and would run under their CSP as they are.
        context = browser.new_context(
            base_url=api_url,
            accept_downloads=True,
            bypass_csp=True,
            viewport={"width": 1440, "height": 900},
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: print(f"page error on {page.url}: {exc}"))
        log_in(page, name)
        expect(page).to_have_url(f"{api_url}/console/queue")
        return page

    yield _open
    for context in contexts:
        context.close()


def axe_serious(page: Page) -> list[object]:
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make browser-js` runs `npm ci` in tests/browser")
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document)).violations.map(v => ({
             id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))"""
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def shoot(page: Page, name: str) -> None:
    """Screenshots at the three sizes; on the phone, nothing may scroll sideways."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {size}"
        if width < 640:  # on a phone the list tables read as cards, not boxes to scroll
            scrolling = page.evaluate(
                """() => Array.from(document.querySelectorAll('.table-wrap'))
                     .filter(w => w.querySelector('table.list'))
                     .filter(w => w.scrollWidth > w.clientWidth + 1)
                     .map(w => w.getAttribute('aria-label'))"""
            )
            assert scrolling == [], f"{name} at {size}: these tables scroll sideways: {scrolling}"
    page.set_viewport_size({"width": 1440, "height": 900})


def figure(page: Page, key: str) -> str:
    return page.locator(f'[data-figure="{key}"] td').inner_text().strip()


def test_dashboard_numbers_filter_accessibility_and_screenshots(
    open_as: Callable[[str], Page],
) -> None:
    page = open_as("super1")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    page.fill("#start", "2026-03-01")
    page.fill("#end", "2026-03-31")
    page.click("#dashboard-filters button[type=submit]")
    expect(page.locator("#period-summary")).to_contain_text("1 March 2026 to 31 March 2026")
    expected = EXPECTED[None]
    for key in ("placed", "contacted", "engaged", "verified", "offered", "agreed", "paying"):
        assert figure(page, key) == str(expected[key]), key
    assert figure(page, "paid_in_full") == "1"
    assert figure(page, "collected") == "$750.00"
    assert figure(page, "promised") == "$350.00"
    assert figure(page, "plans_broken") == "1"
    expect(page.locator("#kpi-self-serve .kpi-value")).to_have_text("50%")
    # The chart draws the same numbers, and says them to a screen reader.
    bar = page.locator('#funnel-chart .bar[data-label="Contacted"]')
    assert bar.get_attribute("data-value") == "4"
    expect(page.locator("#funnel-chart desc")).to_contain_text("Placed: 3; Contacted: 4")
    dispute = page.locator('#escalations-table tr[data-reason="dispute"] td')
    assert dispute.all_inner_texts() == ["2", "2", "0", "20 min", "1 h 15 min"]
    hardship = page.locator('#escalations-table tr[data-reason="hardship"]')
    expect(hardship).to_contain_text("Hardship")
    expect(page.locator("#blocked-by")).to_contain_text("Collection is paused: 1")
    assert "cease_communication" not in page.inner_text("main")
    assert "collection_paused" not in page.inner_text("main")
    # The worklist: A5 first (A1 has a plan, A2 is paid, A3 is paused).
    refs = page.locator("#worklist tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.account)"
    )
    assert refs[0] == "SEED-5" and not {"SEED-1", "SEED-2", "SEED-3"} & set(refs)
    assert not axe_serious(page)
    shoot(page, "console-dashboard")

    page.select_option("#policy", "medical")
    page.click("#dashboard-filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"policy=medical"))
    medical = EXPECTED["medical"]
    for key in ("placed", "contacted", "engaged", "verified"):
        assert figure(page, key) == str(medical[key]), key
    expect(page.locator("#period-summary")).to_contain_text("policy medical")


def test_a_bad_period_is_explained(open_as: Callable[[str], Page]) -> None:
    page = open_as("agent1")
    page.goto("/console/dashboard?start=2026-03-31&end=2026-03-01")
    expect(page.locator("#filter-error")).to_contain_text("The start date is after the end date.")


def test_search_paging_account_page_and_screenshots(open_as: Callable[[str], Page]) -> None:
    page = open_as("agent1")
    page.get_by_role("link", name="Accounts").click()
    page.fill("#q", "lovelace")
    page.press("#q", "Enter")
    expect(page.locator("#result-count")).to_contain_text("1 account match")
    rows = page.locator("#accounts tbody tr")
    expect(rows).to_have_count(1)
    assert not axe_serious(page)

    page.fill("#q", "pager")
    page.press("#q", "Enter")
    expect(page.locator("#result-count")).to_contain_text(f"{PAGER_ACCOUNTS} accounts")
    expect(rows).to_have_count(25)
    first_page = set(rows.evaluate_all("rows => rows.map(r => r.dataset.account)"))
    page.click("#next-page")
    expect(rows).to_have_count(PAGER_ACCOUNTS - 25)
    second_page = set(rows.evaluate_all("rows => rows.map(r => r.dataset.account)"))
    assert not first_page & second_page and len(first_page | second_page) == PAGER_ACCOUNTS
    expect(page.locator(".pager")).to_contain_text("Page 2 of 2")

    page.fill("#q", "SEED-1")
    page.press("#q", "Enter")
    page.get_by_role("link", name="SEED-1").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ada Lovelace")
    expect(page.locator("#balance")).to_have_text("$750.00")
    expect(page.locator("#ledger")).to_contain_text("$250.00")
    expect(page.locator("#plan-1, .plan").first).to_contain_text("Installment plan")
    expect(page.locator(".installments").first).to_contain_text("Paid")
    expect(page.locator("#promises")).to_contain_text("$50.00 by 2026-03-05 — Kept")
    expect(page.locator("#conversations")).to_contain_text("Web chat conversation")
    factors = page.locator("#factors tr[data-factor]")
    expect(factors).to_have_count(6)
    expect(page.locator('#factors tr[data-factor="balance"]')).to_contain_text("$750.00")
    expect(page.locator('#factors tr[data-factor="balance"] td.num')).to_have_text("+7")
    # An agent sees no legal-review form, but can re-send the link.
    expect(page.locator("#legal-form")).to_have_count(0)
    page.locator("button.resend").first.click()
    expect(page.locator("#notice")).to_contain_text("Payment link")
    expect(page.locator("#links")).to_contain_text("Local demo checkout")
    expect(page.locator("#audit")).to_contain_text("Payment link re-sent")
    assert "{'" not in page.inner_text("main")
    assert not axe_serious(page)
    shoot(page, "console-account")


def test_legal_review_by_a_supervisor(open_as: Callable[[str], Page]) -> None:
    page = open_as("super1")
    page.goto("/console/accounts/SEED-5")
    page.fill("#legal-reason", "Balance over $5,000 with no contact")
    page.click("#legal-open")
    expect(page.locator("#notice")).to_have_text("Account moved to legal review.")
    expect(page.locator("#legal-badge")).to_be_visible()
    expect(page.locator("#legal-state")).to_contain_text("Balance over $5,000 with no contact")
    expect(page.locator("#audit")).to_contain_text("Moved to legal review")
    page.goto("/console/dashboard")
    refs = page.locator("#worklist tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.account)"
    )
    assert "SEED-5" not in refs
    page.goto("/console/accounts/SEED-5")
    page.click("#legal-withdraw")
    expect(page.locator("#notice")).to_have_text("Account taken out of legal review.")


def read_download(page: Page, selector: str) -> tuple[str, str]:
    with page.expect_download() as info:
        page.click(selector)
    download = info.value
    path = download.path()
    assert path is not None
    return download.suggested_filename, Path(path).read_bytes().decode("utf-8-sig")


def test_export_downloads_and_contents(open_as: Callable[[str], Page]) -> None:
    page = open_as("super1")
    page.goto(MARCH)
    name, text = read_download(page, 'a[href="/console/exports/accounts.csv"]')
    assert name.startswith("parley-accounts-") and name.endswith(".csv")
    rows = {r["account_ref"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["SEED-1"]["balance"] == "750.00"
    assert rows["SEED-3"]["first_name"] == "'" + FORMULA_NAME  # not a formula any more
    _name, text = read_download(page, 'a[href="/console/exports/escalations.csv"]')
    reasons = [r["reason"] for r in csv.DictReader(io.StringIO(text))]
    assert sorted(reasons) == ["Asked for a person", "Bankruptcy", "Dispute", "Dispute", "Hardship"]
    _name, text = read_download(page, 'a[href="/console/exports/payments.csv"]')
    assert (
        sum(int(r["amount"].replace(".", "")) for r in csv.DictReader(io.StringIO(text))) == 85000
    )

    page.goto("/console/accounts/SEED-5")
    name, text = read_download(page, '#conversations a:has-text("text")')
    assert name.endswith(".txt") and "Debtor: I lost my job" in text
    _name, text = read_download(page, '#conversations a:has-text("CSV")')
    assert next(csv.DictReader(io.StringIO(text)))["text"] == "I lost my job"

    # An agent sees no export links and is refused by the server.
    agent = open_as("agent1")
    agent.goto(MARCH)
    expect(agent.locator("#exports")).to_have_count(0)
    assert agent.request.get("/console/exports/accounts.csv").status == 403
