"""Read-only JSON API over the console's data: escalations, conversations, accounts.

Authenticated by the console session cookie (any role) or an admin's bearer token. It changes
nothing, so it needs no CSRF token; it never returns verification hashes or birth dates.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from api.console_auth import ApiReaderDep
from api.deps import SessionFactoryDep
from parley import console

router = APIRouter(prefix="/api/console", tags=["console"])


@router.get("/queue")
def get_queue(factory: SessionFactoryDep, _login: ApiReaderDep) -> dict[str, Any]:
    with factory() as session:
        items = console.queue(session)
    return {"items": [item.__dict__ for item in items]}


@router.get("/escalations")
def get_escalations(
    factory: SessionFactoryDep,
    _login: ApiReaderDep,
    status: Literal["open", "claimed", "resolved"] | None = None,
) -> dict[str, Any]:
    with factory() as session:
        return {"escalations": console.list_escalations(session, status)}


@router.get("/conversations/{conversation_id}")
def get_conversation(
    conversation_id: str, factory: SessionFactoryDep, _login: ApiReaderDep
) -> dict[str, Any]:
    with factory() as session:
        view = console.conversation_view(session, conversation_id)
        conversation = view.conversation
        return {
            "id": conversation.id,
            "channel": conversation.channel,
            "status": conversation.status,
            "verified": conversation.verified_at is not None,
            "held_by": view.holder,
            "created_at": conversation.created_at,
            "account": view.account,
            "messages": [
                {
                    "id": m.id,
                    "at": m.created_at,
                    "direction": m.direction,
                    "sender": m.sender,
                    "text": m.text,
                    "intent": m.intent,
                    "confidence": m.confidence,
                    "delivery_status": m.delivery_status,
                }
                for m in view.messages
            ],
            "notes": [
                {
                    "id": n.id,
                    "at": n.created_at,
                    "by": view.usernames.get(n.user_id),
                    "text": n.text,
                }
                for n in view.notes
            ],
            "escalations": [console.escalation_dict(e, view.usernames) for e in view.escalations],
            "negotiation": [
                {"at": e.created_at, "kind": e.kind, "actor": e.actor, "terms": e.terms}
                for e in view.negotiation
            ],
            "audit": [
                {"at": a.created_at, "kind": a.kind, "actor": a.actor, "data": a.data}
                for a in view.audit
            ],
        }


@router.get("/accounts/{account_ref}")
def get_account(
    account_ref: str, factory: SessionFactoryDep, _login: ApiReaderDep
) -> dict[str, Any]:
    with factory() as session:
        return console.account_view(session, account_ref)
