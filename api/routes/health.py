"""Readiness of every component the API depends on (SPEC §12)."""

from __future__ import annotations

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(state: StateDep) -> JSONResponse:
    checks: dict[str, str] = {"api": "ok"}
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        checks["database"] = "unavailable"
    checks["rasa"] = "ok" if state.bot.ready() else "unavailable"
    try:
        url = state.settings.action_server_url.rstrip("/") + "/health"
        ok = httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        ok = False
    checks["actions"] = "ok" if ok else "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "components": checks},
        status_code=200 if ready else 503,
    )
