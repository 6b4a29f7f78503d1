"""HTTP hardening for every response (SPEC §12), as pure ASGI middleware.

- Security headers: every HTML page gets a Content-Security-Policy that allows only this
  origin's scripts, styles, images and connections, no plugins, no framing
  (`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for older browsers), a
  Referrer-Policy, and `nosniff`; HSTS is added when the public URL is https. The widget script
  is meant to be loaded by other sites, so it gets only `nosniff` (its own route sets CORP).
- Body caps: a request whose declared or actual body exceeds the limit is refused with 413
  before the application reads it, so two large requests cannot hold the process's memory.
  The account upload (`/api/admin/accounts/import`, `/console/admin/upload`) gets the upload
  limit and streams to disk.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATHS = ("/api/admin/accounts/import", "/console/admin/upload")


def content_security_policy(host: str, secure: bool) -> str:
    ws = f"{'wss' if secure else 'ws'}://{host}" if host else ""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # The widget builds its styles in a shadow root at run time.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            f"connect-src 'self' {ws}".strip(),
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _v in headers}
                content_type = next(
                    (v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), ""
                )
                extra: list[tuple[bytes, bytes]] = [(b"x-content-type-options", b"nosniff")]
                if content_type.startswith("text/html"):
                    extra += [
                        (
                            b"content-security-policy",
                            content_security_policy(host, self.https).encode(),
                        ),
                        (b"x-frame-options", b"DENY"),
                        (b"referrer-policy", b"strict-origin-when-cross-origin"),
                    ]
                if self.https:
                    extra.append(
                        (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
                    )
                headers += [(k, v) for k, v in extra if k not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_upload_bytes if scope.get("path", "") in UPLOAD_PATHS else self.max_bytes
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0

        async def counting_receive() -> Message:
            # A chunked body is counted as it arrives; past the limit the app's read fails with
            # 413 (FastAPI passes HTTPException through its body parsing unchanged).
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, _too_large_text(limit))
            return message

        await self.app(scope, counting_receive, send)


def _too_large_text(limit: int) -> str:
    return f"The request body is larger than {limit} bytes."


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {"error": {"code": "request_too_large", "message": _too_large_text(limit)}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})
