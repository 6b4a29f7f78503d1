"""Read-only JSON API over the console's data: escalations, conversations, accounts.

Authenticated by the console session cookie (any role) or an admin's bearer token. It changes
nothing, so it needs no CSRF token; its typed responses (`api.schemas.console`) never carry
verification hashes or birth dates.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from api.console_auth import ApiReaderDep
from api.deps import SessionDep, SettingsDep
from api.schemas.common import DOCUMENTED_AUTH, errors
from api.schemas.console import (
    AccountOut,
    ConversationOut,
    EscalationOut,
    EscalationsOut,
    QueueItemOut,
    QueueOut,
)
from parley.console import queue as work_queue
from parley.console import views
from parley.tables import EscalationStatus

MAX_PER_PAGE = 200

router = APIRouter(
    prefix="/api/console",
    tags=["console"],
    dependencies=DOCUMENTED_AUTH,
    responses=errors(401),
)


@router.get("/queue", response_model=QueueOut)
def get_queue(
    session: SessionDep,
    settings: SettingsDep,
    login: ApiReaderDep,
    reason: Annotated[str | None, Query(description="An escalation reason code")] = None,
    channel: Annotated[str | None, Query(description="web or sms")] = None,
    status: Annotated[
        str | None, Query(description="queued (waiting for a person) or human (held by one)")
    ] = None,
    assigned: Annotated[str | None, Query(description="mine or unassigned")] = None,
    q: Annotated[str | None, Query(description="Account, debtor name or phone")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = work_queue.PER_PAGE,
) -> QueueOut:
    """The console's queue, paged: conversations waiting for (or held by) a person, most urgent
    reason first, then the longest waiting, with the same filters and search as the queue page
    (unknown filter values mean "all"); `counts` is the whole queue per reason."""
    filters = work_queue.QueueFilters.parse(
        reason=reason, channel=channel, status=status, assigned=assigned, search=q, page=page
    )
    config = work_queue.load_queue_config(settings.queue_config_path)
    found = work_queue.queue_page(
        session, filters, user_id=login.user_id, config=config, per_page=per_page
    )
    return QueueOut(
        items=[QueueItemOut.model_validate(asdict(row)) for row in found.rows],
        total=found.total,
        page=found.page,
        pages=found.pages,
        per_page=found.per_page,
        counts=found.counts,
    )


@router.get("/escalations", response_model=EscalationsOut)
def get_escalations(
    session: SessionDep,
    _login: ApiReaderDep,
    status: EscalationStatus | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = views.ESCALATIONS_PER_PAGE,
) -> EscalationsOut:
    """Escalations, newest first, paged; `status` filters (open, claimed, resolved)."""
    found = views.list_escalations(session, status, page=page, per_page=per_page)
    return EscalationsOut(
        escalations=[EscalationOut.of(e, found.usernames) for e in found.rows],
        total=found.total,
        page=found.page,
        pages=found.pages,
        per_page=found.per_page,
    )


@router.get(
    "/conversations/{conversation_id}", response_model=ConversationOut, responses=errors(404)
)
def get_conversation(
    conversation_id: str, session: SessionDep, _login: ApiReaderDep
) -> ConversationOut:
    """One conversation's full record: transcript with the bot's reading, notes, escalations,
    negotiation and audit trail."""
    return ConversationOut.of(views.conversation_view(session, conversation_id))


@router.get("/accounts/{account_ref}", response_model=AccountOut, responses=errors(404))
def get_account(account_ref: str, session: SessionDep, _login: ApiReaderDep) -> AccountOut:
    """An account with its conversations and escalations."""
    return AccountOut.of_view(views.account_view(session, account_ref))
