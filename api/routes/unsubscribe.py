"""Email unsubscribe (SPEC §14, RFC 8058; docs/email.md).

`GET /unsubscribe/{token}` is where the link in an email's footer leads: a page naming the
(masked) address with one button. The GET changes nothing, because mail scanners and link
previews fetch every link in a message. `POST /unsubscribe/{token}` opts the address out: it is
both the page's button and the one-click request mail clients send from the
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` header, so it needs no cookie, no CSRF token
and no particular body, and it answers directly (RFC 8058 forbids a redirect). Both are
idempotent; a token Parley never issued gets a 404 page that says so and changes nothing.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import SessionDep, SettingsDep
from api.rendering import templates
from parley.email import optout
from parley.tables import EmailOptOut, OptOutSource

router = APIRouter(tags=["email"], include_in_schema=False)


def masked(address: str) -> str:
    """`m***@example.com`: enough for the reader to recognise their address, not enough for
    someone shown the page over their shoulder to learn it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _page(
    request: Request, company: str, state: str, row: EmailOptOut | None, status: int = 200
) -> HTMLResponse:
    return templates().TemplateResponse(
        request,
        "unsubscribe.html",
        {
            "company": company,
            "state": state,
            "address": masked(row.address) if row is not None else "",
            "token": row.token if row is not None else "",
        },
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    row = optout.by_token(session, token)
    if row is None:
        return _page(request, settings.company_name, "invalid", None, 404)
    return _page(request, settings.company_name, "done" if row.opted_out else "confirm", row)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    row = optout.by_token(session, token)
    if row is None:
        return _page(request, settings.company_name, "invalid", None, 404)
    optout.opt_out(session, row, OptOutSource.UNSUBSCRIBE_LINK)
    return _page(request, settings.company_name, "done", row)
