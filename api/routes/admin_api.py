"""The admin endpoint of SPEC §3: `POST /api/admin/accounts/import`, doing what `parley accounts
import FILE` does — the same validation, the same line-numbered report, all or nothing — by
calling `parley.accounts.importer.import_accounts`.

The body is the CSV itself (`Content-Type: text/csv`) or a multipart form with a `file` field.
Either way it is streamed to a temporary file first (the body limit for this path is
`PARLEY_MAX_UPLOAD_BYTES`), so a large file is never held in memory, and the importer reads it
from disk. Authenticated by an admin's bearer token (`parley users token NAME`) or a console
session with its CSRF token (`X-CSRF-Token` or the form's `csrf_token`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from api.console_auth import require_login
from api.deps import StateDep
from api.schemas.common import DOCUMENTED_AUTH, errors
from api.state import AppState
from parley.accounts.importer import ImportReport, import_accounts
from parley.console.users import LoginSession, can, user_for_api_token
from parley.core.db import transaction
from parley.core.errors import Forbidden, InvalidRequest, NotAuthenticated
from parley.negotiation.policies import load_policies

router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=DOCUMENTED_AUTH)
CHUNK = 1 << 16


class RowErrorOut(BaseModel):
    line: int = Field(description="Line in the file; line 1 is the header.")
    reason: str


class ImportReportOut(BaseModel):
    """What an import did. With errors, nothing was imported (`created` and `updated` are 0)."""

    ok: bool
    file: str
    created: int
    updated: int
    errors: list[RowErrorOut]

    @classmethod
    def of(cls, report: ImportReport) -> ImportReportOut:
        return cls(
            ok=report.ok,
            file=report.file,
            created=report.created,
            updated=report.updated,
            errors=[RowErrorOut(line=e.line, reason=e.reason) for e in report.errors],
        )


async def require_importer(request: Request, state: StateDep) -> LoginSession:
    """An admin: by bearer token, or by console session (CSRF checked by `require_login`)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        login = await asyncio.to_thread(_bearer, state, header[7:].strip())
        if login is None:
            raise NotAuthenticated("invalid_token", "Invalid or expired token.")
    else:
        login = await require_login(request, state)
    if not can(login.role, "import_accounts"):
        raise Forbidden("forbidden", "Only an admin may import accounts.")
    return login


def _bearer(state: AppState, token: str) -> LoginSession | None:
    with state.sessions() as session:
        user = user_for_api_token(session, state.settings.secret_key, token)
        if user is None:
            return None
        return LoginSession(user.id, user.username, user.role, csrf_token="")


ImporterDep = Annotated[LoginSession, Depends(require_importer)]


@contextlib.asynccontextmanager
async def spooled_upload(request: Request) -> AsyncIterator[tuple[Path, str]]:
    """The uploaded CSV on disk and its name, from a raw body or a multipart `file` field;
    the temporary file is removed afterwards."""
    handle, name = tempfile.mkstemp(prefix="parley-import-", suffix=".csv")
    path = Path(name)
    try:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise InvalidRequest("missing_file", "Attach the CSV file as the `file` field.")
            with os.fdopen(handle, "wb") as out:
                await asyncio.to_thread(shutil.copyfileobj, upload.file, out, CHUNK)
            file_name = Path(upload.filename or "upload.csv").name[:200]
        else:
            with os.fdopen(handle, "wb") as out:
                async for chunk in request.stream():
                    out.write(chunk)
            file_name = Path(request.headers.get("x-file-name", "upload.csv")).name[:200]
        if path.stat().st_size == 0:
            raise InvalidRequest("empty_file", "The file is empty.")
        yield path, file_name
    finally:
        path.unlink(missing_ok=True)


def run_import(state: AppState, path: Path, file_name: str) -> ImportReport:
    """One import in one transaction, as the CLI runs it: a report with errors wrote nothing."""
    names = set(load_policies(state.settings.policies_path))
    with transaction(state.sessions) as session:
        return import_accounts(
            session,
            path,
            secret=state.settings.secret_key,
            policy_names=names,
            file_name=file_name,
        )


@router.post(
    "/accounts/import",
    response_model=ImportReportOut,
    summary="Import accounts from a CSV file",
    responses={
        **errors(
            401,
            403,
            413,
            e401="Not logged in, or an invalid token",
            e403="Not an admin, or a missing CSRF token",
            e413="Larger than PARLEY_MAX_UPLOAD_BYTES",
        ),
        422: {"model": ImportReportOut, "description": "Invalid rows; nothing was imported"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
async def import_accounts_endpoint(
    request: Request, state: StateDep, _admin: ImporterDep
) -> JSONResponse:
    """Validate the whole CSV (SPEC §3 columns), then create or update accounts by
    `account_id`. Any invalid row rejects the whole file: the answer is 422 with every error
    and its line number, and nothing is imported. The same rules as `parley accounts import`."""
    async with spooled_upload(request) as (path, file_name):
        report = await asyncio.to_thread(run_import, state, path, file_name)
    body = ImportReportOut.of(report).model_dump()
    return JSONResponse(body, status_code=200 if report.ok else 422)
