"""Read-only JSON API over the console's data: escalations, conversations, accounts.

Authenticated by the console session cookie (any role) or an admin's bearer token. It changes
nothing, so it needs no CSRF token; its typed responses (`api.schemas.console`) never carry
verification hashes or birth dates.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from api.console_auth import ApiReaderDep
from api.deps import SessionDep
from api.schemas.common import DOCUMENTED_AUTH, errors
from api.schemas.console import (
    AccountOut,
    ConversationOut,
    EscalationOut,
    EscalationsOut,
    QueueItemOut,
    QueueOut,
)
from parley.console import views
from parley.tables import EscalationStatus

router = APIRouter(
    prefix="/api/console",
    tags=["console"],
    dependencies=DOCUMENTED_AUTH,
    responses=errors(401),
)


@router.get("/queue", response_model=QueueOut)
def get_queue(session: SessionDep, _login: ApiReaderDep) -> QueueOut:
    """Conversations waiting for a person, most urgent first."""
    return QueueOut(items=[QueueItemOut(**asdict(item)) for item in views.queue(session)])


@router.get("/escalations", response_model=EscalationsOut)
def get_escalations(
    session: SessionDep, _login: ApiReaderDep, status: EscalationStatus | None = None
) -> EscalationsOut:
    """Escalations, newest first; `status` filters (open, claimed, resolved)."""
    rows, names = views.list_escalations(session, status)
    return EscalationsOut(escalations=[EscalationOut.of(e, names) for e in rows])


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
