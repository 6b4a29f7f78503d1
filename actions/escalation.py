"""`action_escalate`: hand the conversation to the human queue with an honest acknowledgement.

The reason comes from the intent; disputes, bankruptcy, attorney representation and requests to
stop contact pause collection on a known account at once (SPEC §10).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions import texts
from actions.common import Reply, conversation_id, in_transaction, latest_intent, latest_text
from parley import conversations, optout
from parley.escalations import (
    PAUSING_REASONS,
    dispute_kind,
    flag_wrong_number,
    has_open_escalation,
    negotiation_so_far,
    open_escalation,
    pause_collection,
)
from parley.models import Conversation
from parley.money import format_cents

INTENT_REASONS = {
    "request_human": "human_requested",
    "dispute": "dispute",
    "bankruptcy": "bankruptcy",
    "attorney": "attorney",
    "stop_contact": "cease_communication",
    "hardship": "hardship",
    "wrong_number": "wrong_number",
}
MAX_QUOTE = 400


def summary(
    session: Session, conversation: Conversation, reason: str, sub_reason: str | None, said: str
) -> str:
    """One paragraph for the agent: why, what the debtor said (already redacted), who it is."""
    label = f"{reason} ({sub_reason})" if sub_reason else reason
    quote = said.strip()
    if len(quote) > MAX_QUOTE:
        quote = quote[:MAX_QUOTE] + "…"
    parts = [f"Reason: {label}."]
    if quote:
        parts.append(f'The debtor said: "{quote}".')
    account = conversations.verified_account(session, conversation)
    if account is None:
        parts.append("Identity not verified.")
    else:
        parts.append(
            f"Identity verified for account {account.account_ref}; "
            f"balance {format_cents(account.balance_cents)}."
        )
        if account.collection_paused:
            parts.append("Collection is paused.")
        negotiation = negotiation_so_far(session, conversation.id)
        if negotiation:
            parts.append(f"Negotiation so far: {negotiation}.")
    if conversation.channel == "sms" and conversation.phone:
        parts.append(f"Channel: SMS from {conversation.phone}.")
    return " ".join(parts)


def escalate(
    session: Session,
    conversation: Conversation,
    reason: str,
    said: str,
    reply: Reply,
    sub_reason: str | None = None,
) -> None:
    """Open (or find) the escalation, pause collection where required, and acknowledge it."""
    account = conversations.verified_account(session, conversation)
    if reason == "dispute" and sub_reason is None:
        sub_reason = dispute_kind(said)
    if reason in PAUSING_REASONS and account is not None:
        pause_collection(account, reason)
    if reason == "wrong_number":
        flag_wrong_number(session, conversation)
    if reason == "cease_communication" and conversation.channel == "sms" and conversation.phone:
        # "stop texting me" revokes consent to texts (FCC 2024 order) just like STOP does; the
        # gateway sees the opt-out after this turn and sends the confirmation as the last SMS.
        optout.opt_out(session, conversation.phone, "request", "stop_contact", conversation.id)
    _escalation, created = open_escalation(
        session,
        conversation,
        reason,
        sub_reason,
        summary(session, conversation, reason, sub_reason, said),
    )
    verified = account is not None
    if created:
        reply.say(texts.ESCALATION_ACK[reason][verified])
    elif reason in ("human_requested", "bot_failure"):
        reply.say(texts.ALREADY_QUEUED)
    else:
        reply.say(texts.ESCALATION_REPEAT[verified])


class ActionEscalate(Action):
    def name(self) -> str:
        return "action_escalate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        sender = conversation_id(tracker)
        intent, _confidence = latest_intent(tracker)
        reason = INTENT_REASONS.get(intent or "", "human_requested")
        said = latest_text(tracker)

        def work(session: Session) -> Reply:
            reply = Reply()
            conversation = conversations.get_or_create(session, sender)
            if (
                reason == "human_requested"
                and conversation.status in ("queued", "human")
                and has_open_escalation(session, conversation)
            ):
                reply.say(texts.ALREADY_QUEUED)
                return reply
            escalate(session, conversation, reason, said, reply)
            return reply

        return (await in_transaction(work)).send(dispatcher)
