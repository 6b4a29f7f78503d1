"""Canned replies (SPEC §15): a supervisor saves `shortcut -> text`; an agent types `/shortcut`
in the reply box and the text is inserted (by the page's script, so it can be edited before
sending). A reply that is exactly `/shortcut` is expanded on the server too, so the debtor never
receives a bare shortcut even without the script.
"""

from __future__ import annotations

import re
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.console.users import LoginSession, require
from parley.core.errors import InvalidRequest, NotFound
from parley.records.audit import Kind, record, user_actor
from parley.tables import CannedReply

SHORTCUT: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_TEXT: Final = 1600  # an agent reply's limit


def list_replies(session: Session) -> list[CannedReply]:
    return list(session.scalars(select(CannedReply).order_by(CannedReply.shortcut)))


def _require(actor: LoginSession) -> None:
    require(actor, "manage_canned")


def normalise(shortcut: str) -> str:
    """`/Payment-Link ` -> `payment-link`; raises InvalidRequest when it cannot be one."""
    name = shortcut.strip().lstrip("/").lower()
    if not SHORTCUT.match(name):
        raise InvalidRequest(
            "invalid_shortcut",
            "A shortcut is 1 to 32 lowercase letters, digits, '-' or '_' (typed as /shortcut).",
        )
    return name


def save(session: Session, actor: LoginSession, shortcut: str, text: str) -> CannedReply:
    """Create the canned reply, or replace the text of the one with this shortcut."""
    _require(actor)
    name = normalise(shortcut)
    body = text.strip()
    if not body or len(body) > MAX_TEXT:
        raise InvalidRequest("invalid_canned_text", f"The text needs 1 to {MAX_TEXT} characters.")
    reply = session.scalars(select(CannedReply).where(CannedReply.shortcut == name)).first()
    if reply is None:
        reply = CannedReply(shortcut=name, text=body, updated_by_user_id=actor.user_id)
        session.add(reply)
    else:
        reply.text = body
        reply.updated_by_user_id = actor.user_id
    session.flush()
    record(session, Kind.CANNED_REPLY_SAVED, actor=user_actor(actor.username), shortcut=name)
    return reply


def delete(session: Session, actor: LoginSession, shortcut: str) -> None:
    _require(actor)
    name = shortcut.strip().lstrip("/").lower()
    reply = session.scalars(select(CannedReply).where(CannedReply.shortcut == name)).first()
    if reply is None:
        raise NotFound("canned_not_found", "No canned reply with that shortcut.")
    session.delete(reply)
    record(session, Kind.CANNED_REPLY_DELETED, actor=user_actor(actor.username), shortcut=name)


def expand(session: Session, text: str) -> str:
    """A reply that is exactly `/shortcut` becomes its text; anything else is unchanged. An
    unknown shortcut is refused rather than sent to the debtor as it is."""
    stripped = text.strip()
    if not stripped.startswith("/") or " " in stripped or "\n" in stripped:
        return text
    name = stripped[1:].lower()
    if not SHORTCUT.match(name):
        return text
    reply = session.scalars(select(CannedReply).where(CannedReply.shortcut == name)).first()
    if reply is None:
        raise InvalidRequest(
            "unknown_shortcut", f"There is no canned reply /{name}. Type the reply instead."
        )
    return reply.text
