"""Accounts in the console (SPEC §15): search ordered by the priority score, the account page,
re-sending a payment link, recording a promise to pay, pausing outreach and legal review. The
rules and role checks are in `parley.console.accounts` and `parley.console.priority`; this module
renders and redirects."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console_auth import LoginDep, OptionalLoginDep
from api.deps import SessionDep, SettingsDep
from api.rendering import page
from parley.console import accounts, priority
from parley.console.work import require
from parley.core.errors import InvalidRequest
from parley.records.audit import user_actor

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(
    request: Request,
    session: SessionDep,
    login: OptionalLoginDep,
    q: str = "",
) -> Response:
    if login is None:
        return RedirectResponse("/console/login", status_code=303)
    try:
        number = int(request.query_params.get("page", "1"))
    except ValueError:
        number = 1
    results = accounts.search(session, q[: accounts.MAX_QUERY], page=number)
    return page(request, "console/accounts.html", login, results=results)


def _account_url(ref: str, notice: str | None = None) -> str:
    url = f"/console/accounts/{quote(ref, safe='')}"
    return f"{url}?notice={notice}" if notice else url


@router.get("/accounts/{account_ref}", response_class=HTMLResponse)
def account_page(
    request: Request,
    account_ref: str,
    session: SessionDep,
    login: OptionalLoginDep,
    notice: str | None = None,
) -> Response:
    if login is None:
        return RedirectResponse("/console/login", status_code=303)
    view = accounts.account_page(session, account_ref)
    return page(
        request,
        "console/account.html",
        login,
        view=view,
        notice=accounts.NOTICES.get(notice or ""),
    )


@router.post("/accounts/{account_ref}/resend-link")
def resend_link(
    account_ref: str,
    session: SessionDep,
    settings: SettingsDep,
    login: LoginDep,
    plan_id: Annotated[int, Form()] = 0,
) -> Response:
    notice = accounts.resend_link(session, settings, login, account_ref, plan_id)
    return RedirectResponse(_account_url(account_ref, notice), status_code=303)


@router.post("/accounts/{account_ref}/promises")
def record_promise(
    account_ref: str,
    session: SessionDep,
    settings: SettingsDep,
    login: LoginDep,
    amount: Annotated[str, Form(max_length=20)] = "",
    due: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Record a promise to pay the debtor made to a person (agents; SPEC §6, §14)."""
    notice = accounts.record_promise(
        session, settings, login, account_ref, amount=amount, due=due, note=note
    )
    return RedirectResponse(_account_url(account_ref, notice), status_code=303)


@router.post("/accounts/{account_ref}/outreach")
def outreach(
    account_ref: str,
    session: SessionDep,
    login: LoginDep,
    action: Annotated[str, Form(max_length=16)] = "pause",
) -> Response:
    """Pause or resume the account's cadence (supervisors; SPEC §14)."""
    if action not in ("pause", "resume"):
        raise InvalidRequest("invalid_action", "Choose to pause or resume outreach.")
    notice = accounts.set_outreach_paused(session, login, account_ref, paused=action == "pause")
    return RedirectResponse(_account_url(account_ref, notice), status_code=303)


@router.post("/accounts/{account_ref}/legal-review")
def legal_review(
    account_ref: str,
    session: SessionDep,
    login: LoginDep,
    action: Annotated[str, Form(max_length=16)] = "open",
    reason: Annotated[str, Form(max_length=priority.MAX_REASON * 2)] = "",
) -> Response:
    """Move the account to legal review (a reason is required) or take it out (supervisors)."""
    require(login, "legal_review")
    if action not in ("open", "withdraw"):
        raise InvalidRequest("invalid_action", "Choose to open or withdraw the legal review.")
    account = accounts.get_account(session, account_ref)
    priority.set_legal_review(
        session, user_actor(login.username), account, reason, in_review=action == "open"
    )
    notice = "legal_review" if action == "open" else "legal_review_withdrawn"
    return RedirectResponse(_account_url(account_ref, notice), status_code=303)
