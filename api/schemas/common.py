"""Shapes shared by every API route: the one error body (api/app.py's handlers answer every
expected failure with it) and the console's authentication schemes, so the OpenAPI document
says how to call the API."""

from __future__ import annotations

from typing import Any

from fastapi import Security
from fastapi.security import APIKeyCookie, HTTPBearer
from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `not_found`.")
    message: str = Field(description="A message safe to show to a person.")
    details: list[ErrorDetail] | None = Field(
        None, description="Per-field problems of an invalid request."
    )


class ErrorOut(BaseModel):
    """Every expected failure: `{"error": {"code": ..., "message": ...}}`."""

    error: ErrorBody


def errors(*codes: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for these status codes, each with the error body."""
    text = {
        400: "Bad request",
        401: "Not authenticated",
        403: "Refused (role, origin or CSRF)",
        404: "Not found",
        409: "Conflict",
        413: "Request too large",
        422: "Invalid request",
        429: "Too many requests",
        503: "A dependency is unavailable",
    }
    return {
        code: {"model": ErrorOut, "description": described.get(f"e{code}", text.get(code, ""))}
        for code in codes
    }


# Documented security schemes (the checks themselves are in api.console_auth): an admin's
# bearer token from `parley users token NAME`, or the console's session cookie.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="adminToken",
    description="An admin's API token: `parley users token NAME` (revoked by rotating "
    "PARLEY_SECRET_KEY).",
)
cookie_scheme = APIKeyCookie(
    name="parley_console",
    auto_error=False,
    scheme_name="consoleSession",
    description="The console's login session cookie (any role). Requests that change "
    "something also need the session's CSRF token in `X-CSRF-Token`.",
)
DOCUMENTED_AUTH = [Security(bearer_scheme), Security(cookie_scheme)]
