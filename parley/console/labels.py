"""The words the console shows for the codes the system stores (SPEC §10, §15: "readable labels
everywhere — no internal codes, payloads or data dumps").

Codes stay codes in the database, the JSON API and the exports; only what a person reads goes
through here. An unknown code (a newer release's, say) is shown as words, never as `snake_case`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from parley.core.money import format_cents

REASONS: Final[dict[str, str]] = {
    "dispute": "Dispute",
    "bankruptcy": "Bankruptcy",
    "attorney": "Attorney",
    "cease_communication": "Stop contact",
    "hardship": "Hardship",
    "human_requested": "Asked for a person",
    "verification_locked": "Verification locked",
    "bot_failure": "Bot could not help",
    "wrong_number": "Wrong number",
}

SUB_REASONS: Final[dict[str, str]] = {
    "not_mine": "not mine",
    "already_paid": "already paid",
    "wrong_amount": "wrong amount",
    "fraud": "fraud / identity theft",
    "other": "other",
    "taken_over": "taken over from the bot",
}

OUTCOMES: Final[dict[str, str]] = {
    "resolved": "Resolved",
    "dispute_upheld": "Dispute upheld",
    "dispute_rejected": "Dispute rejected",
    "validation_sent": "Validation information sent",
    "bankruptcy_confirmed": "Bankruptcy confirmed",
    "attorney_contact_recorded": "Attorney contact recorded",
    "cease_honoured": "Stop-contact request honoured",
    "hardship_arranged": "Hardship arrangement made",
    "wrong_number_confirmed": "Wrong number confirmed",
    "no_response": "No response from the debtor",
    "other": "Other",
    "handed_back": "Handed back to the bot",
}

CONVERSATION_STATUSES: Final[dict[str, str]] = {
    "bot": "With the bot",
    "queued": "Waiting",
    "human": "With a person",
    "closed": "Closed",
}

ESCALATION_STATUSES: Final[dict[str, str]] = {
    "open": "Waiting",
    "claimed": "Claimed",
    "resolved": "Resolved",
}

CHANNELS: Final[dict[str, str]] = {"web": "Web chat", "sms": "SMS"}

SENDERS: Final[dict[str, str]] = {
    "debtor": "Debtor",
    "bot": "Bot",
    "agent": "Team",
    "system": "Automatic",
}

ROLES: Final[dict[str, str]] = {"agent": "Agent", "supervisor": "Supervisor", "admin": "Admin"}

AUDIT_KINDS: Final[dict[str, str]] = {
    "conversation.started": "Conversation started",
    "message.redacted": "Card or SSN redacted from a message",
    "verification.succeeded": "Identity verified",
    "verification.failed": "Identity check failed",
    "verification.refused": "Identity check refused",
    "verification.locked": "Verification locked",
    "verification.expired": "Verification expired",
    "disclosure.debt_collector": "Debt-collector disclosure given",
    "escalation.opened": "Sent to the queue",
    "collection.paused": "Collection paused",
    "collection.resumed": "Collection resumed",
    "plan.agreed": "Plan agreed",
    "plan.rescheduled": "Plan rescheduled",
    "plan.completed": "Plan completed",
    "plan.broken": "Plan broken",
    "promise.recorded": "Promise to pay recorded",
    "payment.link_created": "Payment link sent",
    "payment.link_failed": "Payment link failed",
    "ledger.payment": "Payment posted",
    "ledger.settlement": "Settlement posted",
    "sms.opted_out": "Opted out of SMS",
    "sms.opted_in": "Opted back in to SMS",
    "sms.blocked": "SMS blocked by a rule",
    "sms.deferred": "SMS held for quiet hours",
    "sms.sent": "SMS sent",
    "sms.outbox": "SMS to the outbox (local mode)",
    "sms.failed": "SMS failed",
    "console.claim": "Claimed",
    "console.take_over": "Taken over",
    "console.assign": "Assigned",
    "console.reply": "Replied",
    "console.note": "Note added",
    "console.hand_back": "Handed back to the bot",
    "console.close": "Closed",
}

NEGOTIATION_ACTORS: Final[dict[str, str]] = {"bot": "Bot", "debtor": "Debtor", "agent": "Team"}

NEGOTIATION_KINDS: Final[dict[str, str]] = {
    "offer": "offered",
    "counteroffer": "counter-offered",
    "accept": "accepted",
    "counter": "proposed",
    "reject": "rejected",
    "confirm": "confirmed",
    "decline": "declined",
    "escalate": "asked for a review",
    "request": "asked for",
    "promise": "promised",
    "reschedule": "rescheduled",
}

PLAN_KINDS: Final[dict[str, str]] = {
    "full": "payment in full",
    "settlement": "settlement",
    "installments": "installment plan",
}

FREQUENCIES: Final[dict[str, str]] = {
    "weekly": "weekly",
    "biweekly": "every two weeks",
    "monthly": "monthly",
}

# Negotiation terms worth showing, in reading order; everything else stays in the record.
_TERM_KEYS: Final = (
    "kind",
    "total_cents",
    "amount_cents",
    "installment_cents",
    "installments",
    "count",
    "frequency",
    "first_date",
    "due",
    "from",
    "to",
    "percent",
)


def words(code: str | None) -> str:
    """An unknown code as words: `some_new_code` -> "Some new code"."""
    if not code:
        return ""
    text = str(code).replace(".", " ").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _label(table: Mapping[str, str], code: object) -> str:
    key = str(code) if code is not None else ""
    return table.get(key) or words(key)


def reason(code: object) -> str:
    return _label(REASONS, code)


def sub_reason(code: object) -> str:
    return _label(SUB_REASONS, code).lower() if code else ""


def outcome(code: object) -> str:
    return _label(OUTCOMES, code)


def conversation_status(code: object) -> str:
    return _label(CONVERSATION_STATUSES, code)


def escalation_status(code: object) -> str:
    return _label(ESCALATION_STATUSES, code)


def channel(code: object) -> str:
    return _label(CHANNELS, code)


def sender(code: object) -> str:
    return _label(SENDERS, code)


def role(code: object) -> str:
    return _label(ROLES, code)


def audit_kind(code: object) -> str:
    return _label(AUDIT_KINDS, code)


def _term(key: str, value: Any) -> str | None:
    if value is None or value is False or value == "":
        return None
    if key.endswith("_cents") and isinstance(value, int):
        money = format_cents(value)
        return {
            "total_cents": f"{money} in total",
            "installment_cents": f"{money} per payment",
        }.get(key, money)
    if key == "kind":
        return PLAN_KINDS.get(str(value), words(str(value)).lower())
    if key == "frequency":
        return FREQUENCIES.get(str(value), str(value))
    if key in ("installments", "count") and isinstance(value, int):
        return f"{value} payments"
    if key in ("first_date", "due"):
        return f"{'first payment' if key == 'first_date' else 'due'} {value}"
    if key in ("from", "to"):
        return f"{key} {value}"
    if key == "percent":
        return f"{value}% of the balance"
    return None


def _proposal(proposal: Mapping[str, Any]) -> str:
    """A stored proposal (`engine.Proposal.to_dict`): kind, total, schedule."""
    parts = [PLAN_KINDS.get(str(proposal.get("kind")), words(str(proposal.get("kind"))).lower())]
    if isinstance(proposal.get("total_cents"), int):
        parts.append(f"{format_cents(proposal['total_cents'])} in total")
    payments = proposal.get("payments") or []
    if isinstance(payments, list) and payments:
        first = payments[0] if isinstance(payments[0], Mapping) else {}
        amount = first.get("amount_cents")
        if len(payments) > 1 and isinstance(amount, int):
            frequency = FREQUENCIES.get(str(proposal.get("frequency")), "")
            parts.append(f"{len(payments)} payments of {format_cents(amount)} {frequency}".strip())
        if first.get("due"):
            due = first["due"]
            parts.append(f"first payment {due}" if len(payments) > 1 else f"due {due}")
    return ", ".join(parts)


def negotiation_terms(terms: Mapping[str, Any] | None) -> str:
    """The terms of an offer or decision in a few words, e.g. "installment plan, $300.00 in
    total, 6 payments of $50.00 monthly, first payment 2026-12-15" — never a dict."""
    if not terms:
        return ""
    proposal = terms.get("proposal")
    if isinstance(proposal, Mapping):
        return _proposal(proposal)
    offer = terms.get("offer")
    source: Mapping[str, Any] = offer if isinstance(offer, Mapping) else terms
    parts = [_term(key, source.get(key)) for key in _TERM_KEYS if key in source]
    if isinstance(source.get("down_payment_cents"), int):
        parts.append(f"{format_cents(source['down_payment_cents'])} down")
    if source.get("lump_sum"):
        parts.append("in one payment")
    return ", ".join(part for part in parts if part)


def negotiation_line(actor: object, kind: object, terms: Mapping[str, Any] | None) -> str:
    """One negotiation event as a sentence: "Bot offered: settlement, $900.00 in total"."""
    who = _label(NEGOTIATION_ACTORS, actor)
    did = NEGOTIATION_KINDS.get(str(kind), words(str(kind)).lower())
    described = negotiation_terms(terms)
    return f"{who} {did}: {described}" if described else f"{who} {did}"


def button_title(text: str, offered: Sequence[Mapping[str, Any]] | None) -> str:
    """What a debtor's message shows when it is a button payload (`/request_human`, sent by an
    older client or typed): the title of the button the bot offered with that payload, else
    the payload as words. Ordinary text is returned unchanged."""
    stripped = text.strip()
    if not stripped.startswith("/") or " " in stripped:
        return text
    for button in offered or ():
        if str(button.get("payload", "")).strip() == stripped:
            return str(button.get("title") or words(stripped.lstrip("/")))
    command = stripped.lstrip("/").split("{", 1)[0]
    return words(command) if command else text


def transcript_texts(messages: Sequence[Any]) -> dict[int, str]:
    """What each message of a transcript shows, by message id: a debtor's button payload as the
    title of the button the bot had just offered; every other message as stored."""
    shown: dict[int, str] = {}
    offered: Sequence[Mapping[str, Any]] | None = None
    for message in messages:
        if str(message.sender) == "debtor":
            shown[message.id] = button_title(message.text, offered)
        else:
            shown[message.id] = message.text
            if str(message.sender) == "bot":
                offered = message.buttons or None
    return shown
