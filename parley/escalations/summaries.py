"""What the agent reads first about an escalation (SPEC §10): one paragraph saying why, what the
debtor said (already redacted), who it is and what came before. One builder for every reason;
a hardship review from the negotiation adds what the debtor said they can pay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.conversations.state import verified_account
from parley.core.money import format_cents
from parley.negotiation.schedules import SPOKEN
from parley.tables import Account, Channel, Conversation, EscalationReason, NegotiationEvent

MAX_QUOTE = 400


def summary(
    session: Session,
    conversation: Conversation,
    reason: EscalationReason,
    sub_reason: str | None,
    said: str,
    *,
    details: tuple[str, ...] = (),
    history: int = 4,
) -> str:
    """The paragraph for the agent; `details` are reason-specific facts placed after the quote."""
    label = f"{reason} ({sub_reason})" if sub_reason else str(reason)
    quote = said.strip()
    if len(quote) > MAX_QUOTE:
        quote = quote[:MAX_QUOTE] + "…"
    parts = [f"Reason: {label}."]
    if quote:
        parts.append(f'The debtor said: "{quote}".')
    parts.extend(details)
    account = verified_account(session, conversation)
    if account is None:
        parts.append("Identity not verified.")
    else:
        parts.append(
            f"Identity verified for account {account.account_ref}; "
            f"balance {format_cents(account.balance_cents)}; policy {account.policy}."
        )
        if account.collection_paused:
            parts.append("Collection is paused.")
        negotiation = negotiation_so_far(session, conversation.id, limit=history)
        if negotiation:
            parts.append(f"Negotiation so far: {negotiation}.")
    if conversation.channel == Channel.SMS and conversation.phone:
        parts.append(f"Channel: SMS from {conversation.phone}.")
    return " ".join(parts)


def hardship_summary(
    session: Session,
    conversation: Conversation,
    account: Account,
    said: str,
    *,
    policy_name: str,
    can_pay: Mapping[str, Any] | None,
    limit: str | None,
    explanation: str,
) -> str:
    """A hardship review opened by the negotiation: what the debtor can pay and which limit of
    the most lenient plan it missed."""
    details = ["The debtor cannot meet the most lenient plan the policy allows."]
    if can_pay:
        details.append(f"They said they can pay {describe_can_pay(can_pay)}.")
    if explanation:
        details.append(f"Limit: {limit}. {explanation}")
    return summary(
        session,
        conversation,
        EscalationReason.HARDSHIP,
        "negotiation",
        said,
        details=tuple(details),
        history=6,
    )


def describe_can_pay(can_pay: Mapping[str, Any]) -> str:
    """`debtor_can_pay` from the engine in words, e.g. "$20.00 monthly after $50.00 down"."""
    amount = can_pay.get("amount_cents")
    frequency = can_pay.get("frequency")
    down = can_pay.get("down_payment_cents")
    text = format_cents(int(amount)) if isinstance(amount, int) else "an unstated amount"
    if isinstance(frequency, str):
        text += f" {SPOKEN.get(frequency, frequency)}"
    if isinstance(down, int) and down:
        text += f" after {format_cents(down)} down"
    return text


def negotiation_so_far(session: Session, conversation_id: str, limit: int = 4) -> str:
    """The last few offers and decisions in plain words."""
    events = list(
        session.scalars(
            select(NegotiationEvent)
            .where(NegotiationEvent.conversation_id == conversation_id)
            .order_by(NegotiationEvent.id.desc())
            .limit(limit)
        )
    )
    parts = []
    for event in reversed(events):
        terms = ", ".join(
            f"{key.removesuffix('_cents')} {_term(key, value)}"
            for key, value in sorted(event.terms.items())
            if isinstance(value, (int, str)) and not isinstance(value, bool)
        )
        parts.append(f"{event.actor} {event.kind}" + (f" ({terms})" if terms else ""))
    return "; ".join(parts)


def _term(key: str, value: int | str) -> str:
    return format_cents(value) if key.endswith("_cents") and isinstance(value, int) else str(value)
