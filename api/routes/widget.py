"""The embeddable widget script (`/widget.js`) and, in local mode, a demo portal page.

`widget.js` is a hand-written, dependency-free file (api/static/widget.js, documented in
docs/widget.md). It is cached briefly and revalidated with an ETag, so a deploy reaches every
embedding page within minutes without a versioned URL in their script tags.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import HTMLResponse

from api.deps import AllowedOrigin, SettingsDep
from api.rendering import templates
from parley.core.errors import NotFound
from parley.verification import portal_tokens

HERE = Path(__file__).resolve().parent.parent
WIDGET_JS = HERE / "static" / "widget.js"
DEMO_ACCOUNT_REF = "DEMO-1001"  # Maria Garcia in config/demo-accounts.csv

router = APIRouter(tags=["widget"], include_in_schema=False, dependencies=[AllowedOrigin])


@lru_cache(maxsize=4)
def _script(mtime_ns: int) -> tuple[bytes, str]:
    """The script and its ETag, read again only when the file changes."""
    body = WIDGET_JS.read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@router.get("/widget.js")
def widget_js(if_none_match: Annotated[str | None, Header()] = None) -> Response:
    body, etag = _script(WIDGET_JS.stat().st_mtime_ns)
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=300, must-revalidate",
        # Loaded by <script> from other sites: allowed cross-origin, never sniffed as another type.
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if if_none_match is not None and etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


@router.get("/portal-demo", response_class=HTMLResponse)
def portal_demo(request: Request, settings: SettingsDep) -> HTMLResponse:
    """A pretend creditor portal: the debtor is "signed in", so the page embeds the widget with
    a freshly signed portal token. Local mode only: production has no demo secrets."""
    secret = settings.portal_secret
    if settings.env == "production" or secret is None:
        raise NotFound("not_found", "Not found.")
    token = portal_tokens.issue(secret, DEMO_ACCOUNT_REF, audience=settings.portal_token_audience)
    server = str(request.base_url).rstrip("/")
    return templates().TemplateResponse(
        request,
        "portal-demo.html",
        {"company": settings.company_name, "server": server, "token": token},
        headers={"Cache-Control": "no-store"},
    )
