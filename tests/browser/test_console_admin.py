"""The console's admin pages in a real browser on an API server of their own (no bot needed; SPEC §3, §15): a bad
account CSV shows its line-numbered report and imports nothing, a good one imports; an admin
creates and disables a user (who is then logged out); roles hide and refuse the pages; axe-core
finds nothing serious on them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from parley.tables import Account, User
from tests.browser.conftest import ConsoleApi
from tests.support.browser import log_in

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
HEADER = (
    "account_id,first_name,last_name,date_of_birth,ssn_last4,zip,phone,email,timezone,creditor,"
    "original_creditor,account_last4,description,principal,interest,fees,payments_credits,"
    "itemization_date,policy"
)


def row(ref: str, dob: str = "1980-01-02", zip_code: str = "30301") -> str:
    return (
        f"{ref},Ada,Upload,{dob},1111,{zip_code},,,America/New_York,Acme Capital,Acme Card,1111,"
        "Credit card balance,100.00,0.00,0.00,0.00,2025-01-01,default"
    )


def count(db: sessionmaker[Session], prefix: str) -> int:
    with db() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Account)
                .where(Account.account_ref.like(f"{prefix}%"))
            )
            or 0
        )


def axe_serious(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document)).violations.map(v => ({
             id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target).slice(0, 5)}))"""
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def test_bad_csv_shows_the_line_numbered_report_and_imports_nothing(
    console_page: Callable[..., Page],
    console_api_user: Callable[[str], str],
    console_api: ConsoleApi,
    tmp_path: Path,
) -> None:
    page = console_page()
    log_in(page, console_api_user("admin"))
    page.click("nav.main-nav >> text=Import")
    expect(page).to_have_url(re.compile(r"/console/admin/import$"))
    assert axe_serious(page) == []
    bad = tmp_path / "portfolio.csv"
    bad.write_text(
        "\n".join(
            [HEADER, row("UP-1"), row("UP-2", dob="1980-02-31"), row("UP-3", zip_code="3030")]
        )
        + "\n"
    )
    page.set_input_files("#import-file", str(bad))
    page.click("#import-form button[type=submit]")
    expect(page.locator("#import-result")).to_have_text(
        "portfolio.csv: 2 errors; nothing was imported"
    )
    errors = page.locator("#import-errors li")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("Line 3:")
    expect(errors.nth(0)).to_contain_text("date_of_birth")
    expect(errors.nth(1)).to_contain_text("Line 4:")
    assert count(console_api.db, "UP-") == 0, "a file with a bad row imports nothing"
    assert axe_serious(page) == []

    good = tmp_path / "fixed.csv"
    good.write_text("\n".join([HEADER, row("UP-1"), row("UP-2"), row("UP-3")]) + "\n")
    page.set_input_files("#import-file", str(good))
    page.click("#import-form button[type=submit]")
    expect(page.locator("#import-result")).to_have_text("Imported fixed.csv")
    expect(page.locator("#import-report")).to_contain_text("3 accounts created, 0 updated.")
    assert count(console_api.db, "UP-") == 3


def test_admin_creates_and_disables_a_user(
    console_page: Callable[..., Page],
    console_api_user: Callable[[str], str],
    console_api: ConsoleApi,
) -> None:
    admin = console_page()
    log_in(admin, console_api_user("admin"))
    admin.goto("/console/admin/users")
    assert axe_serious(admin) == []
    admin.fill("#new-username", "casey.b")
    admin.fill("#new-display", "Casey")
    admin.select_option("#new-role", "agent")
    admin.fill("#new-password", "casey's long password")
    admin.click("#user-form button[type=submit]")
    expect(admin.locator("#users-done")).to_have_text("Created casey.b.")
    user_row = admin.locator("tr[data-user='casey.b']")
    expect(user_row).to_contain_text("Casey")
    expect(user_row).to_contain_text("Agent")

    casey = console_page()
    log_in(casey, "casey.b", "casey's long password")
    expect(casey).to_have_url(re.compile(r"/console/queue$"))
    expect(casey.locator("nav.main-nav")).not_to_contain_text("Users")

    user_row.get_by_role("button", name="Disable casey.b").click()
    expect(admin.locator("#users-done")).to_have_text("Disabled casey.b.")
    expect(admin.locator("tr[data-user='casey.b']")).to_have_attribute("data-active", "no")
    with console_api.db() as session:
        stored = session.scalars(select(User).where(User.username == "casey.b")).one()
        assert not stored.active
    casey.goto("/console/queue")
    expect(casey).to_have_url(re.compile(r"/console/login$"))  # logged out at once
    log_in(casey, "casey.b", "casey's long password")
    expect(casey.locator("#login-error")).to_be_visible()


def test_admin_pages_are_refused_to_agents(
    console_page: Callable[..., Page], console_api_user: Callable[[str], str]
) -> None:
    agent = console_page()
    log_in(agent, console_api_user("agent"))
    expect(agent.locator("nav.main-nav")).not_to_contain_text("Import")
    for path in ("/console/admin/import", "/console/admin/users"):
        response = agent.goto(path)
        assert response is not None and response.status == 403, path
        expect(agent.locator("#error-message")).to_contain_text("does not allow")
