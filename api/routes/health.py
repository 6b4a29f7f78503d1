"""Readiness of every component the API depends on (SPEC §12)."""

from __future__ import annotations

import asyncio
from typing import Literal

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import StateDep
from api.state import AppState

router = APIRouter(tags=["health"])
Component = Literal["ok", "unavailable"]
# With the in-process engine (PARLEY_BOT_ENGINE=in_process) no message goes to Rasa or the
# action server: they are reported "not_used" and do not decide readiness.
EngineComponent = Literal["ok", "unavailable", "not_used"]


class LiveOut(BaseModel):
    status: Literal["ok"]


class ComponentsOut(BaseModel):
    api: Component
    database: Component
    rasa: EngineComponent
    actions: EngineComponent


class HealthOut(BaseModel):
    status: Component
    components: ComponentsOut


def _database_ok(state: AppState) -> bool:
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
    return True


async def _actions_ok(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            return (await client.get(url.rstrip("/") + "/health")).status_code == 200
    except httpx.HTTPError:
        return False


@router.get("/livez", response_model=LiveOut)
async def livez() -> dict[str, str]:
    """200 while this API process serves requests, whatever its dependencies do: what a load
    balancer routes on (docker/Caddyfile). A missing Rasa shard or action server is answered
    per conversation (apology, failover, a person), not by taking every API process out."""
    return {"status": "ok"}


@router.get(
    "/healthz",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "A component is not ready"}},
)
async def healthz(state: StateDep) -> JSONResponse:
    """200 only when the API, the database, every Rasa shard and the action server are ready
    (SPEC §12), with a status per component either way. With the in-process engine Rasa and
    the action server are `not_used`: the API answers debtors itself."""
    rasa: str
    actions: str
    if state.settings.bot_engine == "in_process":
        database = await asyncio.to_thread(_database_ok, state)
        rasa = actions = "not_used"
    else:
        database, rasa_up, actions_up = await asyncio.gather(
            asyncio.to_thread(_database_ok, state),
            state.bot.ready(),
            _actions_ok(state.settings.action_server_url),
        )
        rasa = "ok" if rasa_up else "unavailable"
        actions = "ok" if actions_up else "unavailable"
    checks = {
        "api": "ok",
        "database": "ok" if database else "unavailable",
        "rasa": rasa,
        "actions": actions,
    }
    ready = all(value in ("ok", "not_used") for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "components": checks},
        status_code=200 if ready else 503,
    )
