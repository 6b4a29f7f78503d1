"""The debtor's copies of their documents (SPEC §14): the validation notice and the written
agreement, each as a printable page and, with `?format=pdf`, as a PDF.

The link is the credential (`parley.documents.links`): a token that does not verify answers
404 like an unknown document, so a guess learns nothing about which accounts or plans exist. The
pages are private: never cached, never indexed, no referrer sent onwards.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep, SettingsDep
from parley.core.errors import NotFound
from parley.documents import links, notices
from parley.documents.agreement import agreement_document
from parley.documents.layout import Document
from parley.documents.notice_wording import notice_document
from parley.documents.render import to_html, to_pdf
from parley.tables import Account, NoticeChannel, PaymentPlan

router = APIRouter(prefix="/documents", tags=["documents"], include_in_schema=False)
Format = Literal["html", "pdf"]
PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


def _not_found() -> NotFound:
    return NotFound("not_found", "This document link is not valid.")


def _respond(document: Document, format: Format) -> Response:
    if format == "pdf":
        return Response(
            to_pdf(document),
            media_type="application/pdf",
            headers={
                **PRIVATE,
                "Content-Disposition": f'inline; filename="{document.filename}.pdf"',
            },
        )
    return HTMLResponse(to_html(document, pdf_url="?format=pdf"), headers=PRIVATE)


@router.get("/notice/{token}")
def validation_notice(
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    format: Format = Query("html"),
) -> Response:
    """The account's validation notice as it was provided (opening it provides it, if nothing
    had recorded that yet)."""
    account_id = links.read_token(settings, "notice", token)
    account = session.get(Account, account_id) if account_id is not None else None
    if account is None:
        raise _not_found()
    notice = notices.provide_notice(session, settings, account, NoticeChannel.LINK)
    return _respond(notice_document(notice.content), format)


@router.get("/agreement/{token}")
def agreement(
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    format: Format = Query("html"),
) -> Response:
    """The written agreement of one plan or settlement."""
    plan_id = links.read_token(settings, "agreement", token)
    plan = session.get(PaymentPlan, plan_id) if plan_id is not None else None
    if plan is None:
        raise _not_found()
    return _respond(agreement_document(session, settings, plan), format)
