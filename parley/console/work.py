"""What the supervisor console does (SPEC §10): the queue, a conversation's full record, and the
work on it — claim, reply on the debtor's channel, internal notes, hand back to the bot, close
with an outcome, resume collection — each checked against the actor's role and audited.

The web layer only authenticates and renders; every rule lives here, so the HTML console and the
JSON API cannot disagree. Every change writes an `AuditEvent` whose actor is `user:<name>`.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.console import canned
from parley.console.users import LoginSession, can, require
from parley.console.views import holder_id
from parley.conversations.state import get_conversation
from parley.core.clock import utcnow
from parley.core.db import locked
from parley.core.errors import Conflict, InvalidRequest, NotFound
from parley.core.settings import Settings
from parley.escalations.queue import open_escalation
from parley.escalations.reasons import PAUSING_REASONS
from parley.outreach.send import send_sms
from parley.records.audit import Kind, record, user_actor
from parley.records.redaction import redact
from parley.tables import (
    ACTIVE_ESCALATION,
    Account,
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Escalation,
    EscalationReason,
    EscalationStatus,
    Message,
    Note,
    OutboundKind,
    Sender,
    User,
)

OUTCOMES: Final = (
    "resolved",
    "dispute_upheld",
    "dispute_rejected",
    "validation_sent",
    "bankruptcy_confirmed",
    "attorney_contact_recorded",
    "cease_honoured",
    "hardship_arranged",
    "wrong_number_confirmed",
    "no_response",
    "other",
)
MAX_REPLY: Final = 1600
MAX_NOTE: Final = 4000


def display_name(session: Session, actor: LoginSession) -> str:
    """The name the debtor sees on this user's replies: their display name, else the username."""
    user = session.get(User, actor.user_id)
    name = (user.display_name or "").strip() if user is not None else ""
    return (name or actor.username)[:64]


def _audit(
    session: Session,
    actor: LoginSession,
    kind: Kind,
    conversation: Conversation | None = None,
    account_id: int | None = None,
    **data: Any,
) -> None:
    record(
        session,
        kind,
        actor=user_actor(actor.username),
        conversation_id=conversation.id if conversation else None,
        account_id=account_id if account_id is not None else _account_id(conversation),
        **data,
    )


def _account_id(conversation: Conversation | None) -> int | None:
    return conversation.account_id if conversation is not None else None


def _active(session: Session, conversation: Conversation) -> list[Escalation]:
    return list(
        session.scalars(
            select(Escalation)
            .where(
                Escalation.conversation_id == conversation.id,
                Escalation.status.in_(ACTIVE_ESCALATION),
            )
            .order_by(Escalation.id)
        )
    )


def claim(
    session: Session, actor: LoginSession, conversation_id: str, *, take_over: bool = False
) -> Conversation:
    """Take the conversation: the bot stops answering and the actor holds it.

    Claiming is atomic: the conversation row is locked before anything is read
    (`parley.core.db.locked`), so of two people claiming at once one wins and the other is told
    it is taken. Taking one that another user holds needs the
    `take_over` permission *and* asking for it (`take_over=True`): a plain claim never silently
    takes a chat from a colleague. Claiming a bot conversation with no escalation opens one
    (`human_requested`, sub-reason `taken_over`) so every human-held chat is on record."""
    require(actor, "claim")
    conversation = locked(session, Conversation, conversation_id)
    if conversation is None:
        raise NotFound("conversation_not_found", "No such chat session.")
    if conversation.status == ConversationStatus.CLOSED:
        raise Conflict("conversation_closed", "This conversation is closed.")
    active = _active(session, conversation)
    holder = holder_id(active)
    if holder == actor.user_id and conversation.status == ConversationStatus.HUMAN:
        return conversation
    if holder is not None and holder != actor.user_id:
        if not can(actor.role, "take_over"):
            raise Conflict("held_by_other", "Another team member holds this conversation.")
        if not take_over:
            raise Conflict(
                "held_by_other",
                "Another team member has just claimed this conversation. "
                "Reload it, and use Take over if you mean to take it from them.",
            )
    if not active:
        escalation, _created = open_escalation(
            session,
            conversation,
            EscalationReason.HUMAN_REQUESTED,
            "taken_over",
            f"Taken over from the bot by {actor.username}.",
        )
        active = [escalation]
    for escalation in active:
        escalation.status = EscalationStatus.CLAIMED
        escalation.assigned_user_id = actor.user_id
    conversation.status = ConversationStatus.HUMAN
    _audit(
        session,
        actor,
        Kind.CONSOLE_CLAIM if holder is None else Kind.CONSOLE_TAKE_OVER,
        conversation,
        escalation_ids=[e.id for e in active],
        previous_holder=holder,
    )
    return conversation


def reply(
    session: Session, settings: Settings, actor: LoginSession, conversation_id: str, text: str
) -> Message:
    """Write to the debtor on their channel: the web chat receives it live from the stored
    message; SMS goes through `parley.outreach.send.send_sms` (opt-out and quiet hours applied).
    Replying to a conversation nobody holds claims it first."""
    require(actor, "reply")
    body = canned.expand(session, text).strip()
    if not body or len(body) > MAX_REPLY:
        raise InvalidRequest("invalid_reply", f"A reply needs 1 to {MAX_REPLY} characters.")
    conversation = claim(session, actor, conversation_id)
    cleaned = redact(body)
    message = Message(
        conversation_id=conversation.id,
        direction=Direction.OUTBOUND,
        sender=Sender.AGENT,
        text=cleaned.text,
        redacted=cleaned.changed,
        sender_name=display_name(session, actor),
    )
    session.add(message)
    session.flush()
    delivery = "web"
    if conversation.channel == Channel.SMS:
        if not conversation.phone:
            raise Conflict("no_phone", "This SMS conversation has no phone number.")
        outbound = send_sms(
            session,
            settings,
            conversation.phone,
            cleaned.text,
            OutboundKind.AGENT,
            conversation_id=conversation.id,
            account_id=conversation.account_id,
        )
        # The outcome (sent, outbox, scheduled, blocked) is shown on the message in the console.
        message.delivery_status = str(outbound.status)[:32]
        delivery = f"sms:{outbound.status}"
    _audit(
        session, actor, Kind.CONSOLE_REPLY, conversation, message_id=message.id, delivery=delivery
    )
    return message


def add_note(session: Session, actor: LoginSession, conversation_id: str, text: str) -> Note:
    """An internal note: shown in the console only, never in the debtor's transcript."""
    require(actor, "note")
    body = text.strip()
    if not body or len(body) > MAX_NOTE:
        raise InvalidRequest("invalid_note", f"A note needs 1 to {MAX_NOTE} characters.")
    conversation = get_conversation(session, conversation_id)
    note = Note(conversation_id=conversation.id, user_id=actor.user_id, text=redact(body).text)
    session.add(note)
    session.flush()
    _audit(session, actor, Kind.CONSOLE_NOTE, conversation, note_id=note.id)
    return note


def _resolve(
    session: Session,
    actor: LoginSession,
    conversation: Conversation,
    outcome: str,
    lift_pause: bool,
) -> list[Escalation]:
    active = _active(session, conversation)
    if any(e.reason in PAUSING_REASONS for e in active):
        require(actor, "resolve_paused")
    if lift_pause:
        require(actor, "lift_pause")
    holder = holder_id(active)
    if holder is not None and holder != actor.user_id:
        require(actor, "take_over")
    now = utcnow()
    for escalation in active:
        escalation.status = EscalationStatus.RESOLVED
        escalation.resolved_at = now
        escalation.resolved_by_user_id = actor.user_id
        escalation.outcome = outcome
    if lift_pause and conversation.account_id is not None:
        account = session.get(Account, conversation.account_id)
        if account is not None:
            _resume(session, actor, account, conversation)
    return active


def hand_back(
    session: Session, actor: LoginSession, conversation_id: str, *, lift_pause: bool = False
) -> Conversation:
    """Return the conversation to the bot: the debtor's next message is answered by it. An
    escalation that paused collection needs a supervisor; the pause itself stays unless a
    supervisor lifts it, so the bot still offers nothing."""
    require(actor, "hand_back")
    conversation = get_conversation(session, conversation_id)
    if conversation.status == ConversationStatus.CLOSED:
        raise Conflict("conversation_closed", "This conversation is closed.")
    resolved = _resolve(session, actor, conversation, "handed_back", lift_pause)
    conversation.status = ConversationStatus.BOT
    _audit(
        session,
        actor,
        Kind.CONSOLE_HAND_BACK,
        conversation,
        escalation_ids=[e.id for e in resolved],
        lift_pause=lift_pause,
    )
    return conversation


def close(
    session: Session,
    actor: LoginSession,
    conversation_id: str,
    outcome: str,
    *,
    lift_pause: bool = False,
) -> Conversation:
    """Close the conversation with an outcome (supervisors); the pause is kept unless lifted."""
    require(actor, "close")
    if outcome not in OUTCOMES:
        raise InvalidRequest("invalid_outcome", f"Outcome must be one of: {', '.join(OUTCOMES)}.")
    conversation = get_conversation(session, conversation_id)
    if conversation.status == ConversationStatus.CLOSED:
        raise Conflict("conversation_closed", "This conversation is already closed.")
    resolved = _resolve(session, actor, conversation, outcome, lift_pause)
    conversation.status = ConversationStatus.CLOSED
    _audit(
        session,
        actor,
        Kind.CONSOLE_CLOSE,
        conversation,
        outcome=outcome,
        escalation_ids=[e.id for e in resolved],
        lift_pause=lift_pause,
    )
    return conversation


def _resume(
    session: Session, actor: LoginSession, account: Account, conversation: Conversation | None
) -> None:
    if not account.collection_paused:
        return
    account.collection_paused = False
    _audit(session, actor, Kind.COLLECTION_RESUMED, conversation, account_id=account.id)


def resume_collection(session: Session, actor: LoginSession, account_ref: str) -> Account:
    """Lift an account's collection pause outside a resolution (supervisors)."""
    require(actor, "lift_pause")
    account = session.scalars(select(Account).where(Account.account_ref == account_ref)).first()
    if account is None:
        raise NotFound("account_not_found", "No such account.")
    _resume(session, actor, account, None)
    return account
