"""What the supervisor console does (SPEC §10): the queue, a conversation's full record, and the
work on it — claim, reply on the debtor's channel, internal notes, hand back to the bot, close
with an outcome, resume collection — each checked against the actor's role and audited.

The web layer only authenticates and renders; every rule lives here, so the HTML console and the
JSON API cannot disagree. Every change writes an `AuditEvent` whose actor is `user:<name>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parley.errors import NotFound, ParleyError
from parley.escalations import PAUSING_REASONS, open_escalation
from parley.models import (
    Account,
    AuditEvent,
    Conversation,
    Escalation,
    Message,
    NegotiationEvent,
    Note,
    User,
    utcnow,
)
from parley.redaction import redact
from parley.users import LoginSession, can

ACTIVE: Final = ("open", "claimed")
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
QUEUE_LIMIT: Final = 500


class Forbidden(ParleyError):
    status_code = 403


class Conflict(ParleyError):
    status_code = 409


@dataclass(frozen=True)
class QueueItem:
    """One conversation waiting for (or held by) a person, as the queue shows it."""

    conversation_id: str
    channel: str
    status: str
    reason: str
    sub_reason: str | None
    reasons: list[str]
    priority: int
    waiting_since: datetime
    summary: str
    assigned_to: str | None
    account_ref: str | None
    collection_paused: bool
    last_message: str | None


@dataclass
class ConversationView:
    """Everything the console shows about one conversation (never verification hashes)."""

    conversation: Conversation
    account: dict[str, Any] | None
    messages: list[Message]
    notes: list[Note]
    escalations: list[Escalation]
    audit: list[AuditEvent]
    negotiation: list[NegotiationEvent]
    holder: str | None
    usernames: dict[int, str] = field(default_factory=dict)

    @property
    def pausing_open(self) -> bool:
        return any(e.status in ACTIVE and e.reason in PAUSING_REASONS for e in self.escalations)


def require(actor: LoginSession, permission: str) -> None:
    """Refuse with 403 unless the actor's role holds `permission` (checked server-side)."""
    if not can(actor.role, permission):
        raise Forbidden("forbidden", "Your role does not allow this action.")


def _actor(actor: LoginSession) -> str:
    return f"user:{actor.username}"


def _audit(
    session: Session,
    actor: LoginSession,
    kind: str,
    conversation: Conversation | None = None,
    account_id: int | None = None,
    **data: Any,
) -> None:
    session.add(
        AuditEvent(
            kind=kind,
            actor=_actor(actor),
            conversation_id=conversation.id if conversation else None,
            account_id=account_id if account_id is not None else _account_id(conversation),
            data=data,
        )
    )


def _account_id(conversation: Conversation | None) -> int | None:
    return conversation.account_id if conversation is not None else None


def _usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()
    return {row[0]: row[1] for row in rows}


def queue(session: Session) -> list[QueueItem]:
    """Conversations with an open or claimed escalation: most urgent reason first, then the one
    waiting longest. One row per conversation, showing its most urgent escalation."""
    escalations = list(
        session.scalars(
            select(Escalation)
            .where(Escalation.status.in_(ACTIVE))
            .order_by(Escalation.priority.desc(), Escalation.created_at)
            .limit(QUEUE_LIMIT)
        )
    )
    by_conversation: dict[str, list[Escalation]] = {}
    for escalation in escalations:
        by_conversation.setdefault(escalation.conversation_id, []).append(escalation)
    if not by_conversation:
        return []
    conversations = {
        c.id: c
        for c in session.scalars(select(Conversation).where(Conversation.id.in_(by_conversation)))
    }
    account_ids = {c.account_id for c in conversations.values() if c.account_id is not None}
    accounts = (
        {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(account_ids)))}
        if account_ids
        else {}
    )
    last_ids: dict[str, int] = {
        row[0]: row[1]
        for row in session.execute(
            select(Message.conversation_id, func.max(Message.id))
            .where(Message.conversation_id.in_(by_conversation), Message.sender == "debtor")
            .group_by(Message.conversation_id)
        )
    }
    last_texts: dict[str, str] = (
        {
            row[0]: row[1]
            for row in session.execute(
                select(Message.conversation_id, Message.text).where(
                    Message.id.in_(list(last_ids.values()))
                )
            )
        }
        if last_ids
        else {}
    )
    names = _usernames(
        session, {e.assigned_user_id for e in escalations if e.assigned_user_id is not None}
    )
    items: list[QueueItem] = []
    for conversation_id, group in by_conversation.items():
        conversation = conversations[conversation_id]
        top = group[0]  # already ordered by priority, then age
        account = accounts.get(conversation.account_id) if conversation.account_id else None
        assigned = next((e.assigned_user_id for e in group if e.assigned_user_id), None)
        items.append(
            QueueItem(
                conversation_id=conversation_id,
                channel=conversation.channel,
                status=conversation.status,
                reason=top.reason,
                sub_reason=top.sub_reason,
                reasons=sorted({e.reason for e in group}),
                priority=top.priority,
                waiting_since=min(e.created_at for e in group),
                summary=top.summary,
                assigned_to=names.get(assigned) if assigned else None,
                account_ref=account.account_ref if account else None,
                collection_paused=bool(account and account.collection_paused),
                last_message=last_texts.get(conversation_id),
            )
        )
    items.sort(key=lambda item: (-item.priority, item.waiting_since))
    return items


def account_summary(account: Account) -> dict[str, Any]:
    """The account as the console and the API show it: no verification hashes, no birth date."""
    return {
        "account_ref": account.account_ref,
        "name": f"{account.first_name} {account.last_name}",
        "phone": account.phone,
        "email": account.email,
        "timezone": account.timezone,
        "creditor": account.creditor,
        "original_creditor": account.original_creditor,
        "account_last4": account.account_last4,
        "description": account.description,
        "balance_cents": account.balance_cents,
        "principal_cents": account.principal_cents,
        "interest_cents": account.interest_cents,
        "fees_cents": account.fees_cents,
        "payments_credits_cents": account.payments_credits_cents,
        "itemization_date": account.itemization_date.isoformat(),
        "policy": account.policy,
        "collection_paused": account.collection_paused,
    }


def _conversation(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("conversation_not_found", "No such conversation.")
    return conversation


def conversation_view(session: Session, conversation_id: str) -> ConversationView:
    """The full record of one conversation: transcript with the bot's understanding of each
    debtor turn, notes, escalations, audit trail and negotiation so far."""
    conversation = _conversation(session, conversation_id)
    account = session.get(Account, conversation.account_id) if conversation.account_id else None
    messages = list(
        session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        )
    )
    notes = list(
        session.scalars(
            select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id)
        )
    )
    escalations = list(
        session.scalars(
            select(Escalation)
            .where(Escalation.conversation_id == conversation_id)
            .order_by(Escalation.id)
        )
    )
    audit_filter = AuditEvent.conversation_id == conversation_id
    if account is not None:
        audit_filter = audit_filter | (
            (AuditEvent.account_id == account.id) & AuditEvent.kind.like("collection.%")
        )
    audit = list(session.scalars(select(AuditEvent).where(audit_filter).order_by(AuditEvent.id)))
    negotiation = list(
        session.scalars(
            select(NegotiationEvent)
            .where(NegotiationEvent.conversation_id == conversation_id)
            .order_by(NegotiationEvent.id)
        )
    )
    user_ids = {n.user_id for n in notes}
    for escalation in escalations:
        user_ids.update(
            uid
            for uid in (escalation.assigned_user_id, escalation.resolved_by_user_id)
            if uid is not None
        )
    names = _usernames(session, user_ids)
    holder_id = _holder_id(escalations)
    return ConversationView(
        conversation=conversation,
        account=account_summary(account) if account else None,
        messages=messages,
        notes=notes,
        escalations=escalations,
        audit=audit,
        negotiation=negotiation,
        holder=names.get(holder_id) if holder_id else None,
        usernames=names,
    )


def _active(session: Session, conversation: Conversation) -> list[Escalation]:
    return list(
        session.scalars(
            select(Escalation)
            .where(Escalation.conversation_id == conversation.id, Escalation.status.in_(ACTIVE))
            .order_by(Escalation.id)
        )
    )


def _holder_id(escalations: list[Escalation]) -> int | None:
    return next(
        (e.assigned_user_id for e in escalations if e.status == "claimed" and e.assigned_user_id),
        None,
    )


def claim(session: Session, actor: LoginSession, conversation_id: str) -> Conversation:
    """Take the conversation: the bot stops answering and the actor holds it. Taking one that
    another user holds needs `take_over`. Claiming a bot conversation with no escalation opens
    one (`human_requested`, sub-reason `taken_over`) so every human-held chat is on record."""
    require(actor, "claim")
    conversation = _conversation(session, conversation_id)
    if conversation.status == "closed":
        raise Conflict("conversation_closed", "This conversation is closed.")
    active = _active(session, conversation)
    holder = _holder_id(active)
    if holder == actor.user_id and conversation.status == "human":
        return conversation
    if holder is not None and holder != actor.user_id and not can(actor.role, "take_over"):
        raise Conflict("held_by_other", "Another team member holds this conversation.")
    if not active:
        escalation, _created = open_escalation(
            session,
            conversation,
            "human_requested",
            "taken_over",
            f"Taken over from the bot by {actor.username}.",
        )
        active = [escalation]
    for escalation in active:
        escalation.status = "claimed"
        escalation.assigned_user_id = actor.user_id
    conversation.status = "human"
    _audit(
        session,
        actor,
        "console.claim" if holder is None else "console.take_over",
        conversation,
        escalation_ids=[e.id for e in active],
        previous_holder=holder,
    )
    return conversation


def reply(session: Session, actor: LoginSession, conversation_id: str, text: str) -> Message:
    """Write to the debtor on their channel: the web chat receives it live from the stored
    message; SMS goes through `parley.outbound.send_sms` (opt-out and quiet hours applied).
    Replying to a conversation nobody holds claims it first."""
    require(actor, "reply")
    body = text.strip()
    if not body or len(body) > MAX_REPLY:
        raise ParleyError("invalid_reply", f"A reply needs 1 to {MAX_REPLY} characters.")
    conversation = claim(session, actor, conversation_id)
    cleaned = redact(body)
    message = Message(
        conversation_id=conversation.id,
        direction="outbound",
        sender="agent",
        text=cleaned.text,
        redacted=cleaned.changed,
    )
    session.add(message)
    session.flush()
    delivery: str = "web"
    if conversation.channel == "sms":
        delivery = _send_sms(session, conversation, cleaned.text, message)
    _audit(session, actor, "console.reply", conversation, message_id=message.id, delivery=delivery)
    return message


def _send_sms(session: Session, conversation: Conversation, text: str, message: Message) -> str:
    """Hand the reply to the SMS outbound path; its status (sent, outbox, scheduled, blocked)
    is copied onto the stored message so the console shows what happened."""
    if not conversation.phone:
        raise Conflict("no_phone", "This SMS conversation has no phone number.")
    try:
        from parley.outbound import send_sms
    except ImportError as exc:  # the SMS module ships separately
        raise ParleyError(
            "sms_unavailable", "SMS delivery is not available.", status_code=503
        ) from exc
    outbound = send_sms(
        session,
        conversation.phone,
        text,
        "agent",
        conversation_id=conversation.id,
        account_id=conversation.account_id,
    )
    status = str(getattr(outbound, "status", "") or "queued")
    message.delivery_status = status[:32]
    return f"sms:{status}"


def add_note(session: Session, actor: LoginSession, conversation_id: str, text: str) -> Note:
    """An internal note: shown in the console only, never in the debtor's transcript."""
    require(actor, "note")
    body = text.strip()
    if not body or len(body) > MAX_NOTE:
        raise ParleyError("invalid_note", f"A note needs 1 to {MAX_NOTE} characters.")
    conversation = _conversation(session, conversation_id)
    note = Note(conversation_id=conversation.id, user_id=actor.user_id, text=redact(body).text)
    session.add(note)
    session.flush()
    _audit(session, actor, "console.note", conversation, note_id=note.id)
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
    holder = _holder_id(active)
    if holder is not None and holder != actor.user_id:
        require(actor, "take_over")
    now = utcnow()
    for escalation in active:
        escalation.status = "resolved"
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
    conversation = _conversation(session, conversation_id)
    if conversation.status == "closed":
        raise Conflict("conversation_closed", "This conversation is closed.")
    resolved = _resolve(session, actor, conversation, "handed_back", lift_pause)
    conversation.status = "bot"
    _audit(
        session,
        actor,
        "console.hand_back",
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
        raise ParleyError("invalid_outcome", f"Outcome must be one of: {', '.join(OUTCOMES)}.")
    conversation = _conversation(session, conversation_id)
    if conversation.status == "closed":
        raise Conflict("conversation_closed", "This conversation is already closed.")
    resolved = _resolve(session, actor, conversation, outcome, lift_pause)
    conversation.status = "closed"
    _audit(
        session,
        actor,
        "console.close",
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
    _audit(session, actor, "collection.resumed", conversation, account_id=account.id)


def resume_collection(session: Session, actor: LoginSession, account_ref: str) -> Account:
    """Lift an account's collection pause outside a resolution (supervisors)."""
    require(actor, "lift_pause")
    account = session.scalars(select(Account).where(Account.account_ref == account_ref)).first()
    if account is None:
        raise NotFound("account_not_found", "No such account.")
    _resume(session, actor, account, None)
    return account


def account_view(session: Session, account_ref: str) -> dict[str, Any]:
    """An account with its conversations and escalations, for the read-only API."""
    account = session.scalars(select(Account).where(Account.account_ref == account_ref)).first()
    if account is None:
        raise NotFound("account_not_found", "No such account.")
    conversations = list(
        session.scalars(
            select(Conversation)
            .where(Conversation.account_id == account.id)
            .order_by(Conversation.created_at)
        )
    )
    escalations = list(
        session.scalars(
            select(Escalation).where(Escalation.account_id == account.id).order_by(Escalation.id)
        )
    )
    return {
        **account_summary(account),
        "conversations": [
            {"id": c.id, "channel": c.channel, "status": c.status, "created_at": c.created_at}
            for c in conversations
        ],
        "escalations": [escalation_dict(e) for e in escalations],
    }


def escalation_dict(escalation: Escalation, names: dict[int, str] | None = None) -> dict[str, Any]:
    names = names or {}
    return {
        "id": escalation.id,
        "conversation_id": escalation.conversation_id,
        "reason": escalation.reason,
        "sub_reason": escalation.sub_reason,
        "summary": escalation.summary,
        "status": escalation.status,
        "priority": escalation.priority,
        "outcome": escalation.outcome,
        "assigned_to": names.get(escalation.assigned_user_id or 0),
        "resolved_by": names.get(escalation.resolved_by_user_id or 0),
        "created_at": escalation.created_at,
        "resolved_at": escalation.resolved_at,
    }


def list_escalations(session: Session, status: str | None = None) -> list[dict[str, Any]]:
    """Escalations, newest first (optionally one status), for the read-only API."""
    query = select(Escalation).order_by(Escalation.id.desc()).limit(QUEUE_LIMIT)
    if status is not None:
        query = query.where(Escalation.status == status)
    rows = list(session.scalars(query))
    ids = {uid for e in rows for uid in (e.assigned_user_id, e.resolved_by_user_id) if uid}
    names = _usernames(session, ids)
    return [escalation_dict(e, names) for e in rows]
