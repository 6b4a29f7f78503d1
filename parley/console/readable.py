"""Words a person reads instead of the codes the database stores (SPEC §10: "readable labels
everywhere — no internal codes, payloads or data dumps").

One table for every code the dashboard, the account page and the exports show, so a code never
leaks onto a page because one template forgot to translate it. An unknown code (a value a newer
release wrote) is turned into words from the code itself rather than shown raw.
"""

from __future__ import annotations

from typing import Final

LABELS: Final[dict[str, str]] = {
    # escalation reasons (SPEC §10)
    "human_requested": "Asked for a person",
    "dispute": "Dispute",
    "bankruptcy": "Bankruptcy",
    "attorney": "Represented by an attorney",
    "cease_communication": "Asked to stop contact",
    "hardship": "Hardship",
    "wrong_number": "Wrong number",
    "verification_locked": "Identity check locked",
    "bot_failure": "Bot could not help",
    # dispute kinds and other sub-reasons
    "not_mine": "Not mine",
    "already_paid": "Already paid",
    "wrong_amount": "Wrong amount",
    "fraud": "Fraud or identity theft",
    "taken_over": "Taken over from the bot",
    # escalation and conversation statuses
    "open": "Open",
    "claimed": "Claimed",
    "resolved": "Resolved",
    "bot": "With the bot",
    "queued": "Waiting for a person",
    "human": "Held by a person",
    "closed": "Closed",
    # console outcomes (parley.console.work.OUTCOMES)
    "handed_back": "Handed back to the bot",
    "dispute_upheld": "Dispute upheld",
    "dispute_rejected": "Dispute rejected",
    "validation_sent": "Validation information sent",
    "bankruptcy_confirmed": "Bankruptcy confirmed",
    "attorney_contact_recorded": "Attorney contact recorded",
    "cease_honoured": "Stop-contact request honoured",
    "hardship_arranged": "Hardship arrangement made",
    "wrong_number_confirmed": "Wrong number confirmed",
    "no_response": "No response",
    "other": "Other",
    # plans, installments, promises, links, ledger
    "full": "Pay in full",
    "settlement": "Settlement",
    "installments": "Installment plan",
    "agreed": "Agreed, not yet paid",
    "active": "Paying",
    "completed": "Completed",
    "broken": "Broken",
    "cancelled": "Cancelled",
    "scheduled": "Scheduled",
    "charging": "Charging",
    "paid": "Paid",
    "failed": "Failed",
    "kept": "Kept",
    "payment": "Payment",
    "weekly": "Weekly",
    "biweekly": "Every two weeks",
    "monthly": "Monthly",
    "stripe": "Stripe checkout",
    "local": "Local demo checkout",
    # channels and outbound messages (SPEC §7, §14)
    "web": "Web chat",
    "sms": "SMS",
    "email": "Email",
    "sending": "Sending",
    "sent": "Sent",
    "outbox": "In the local outbox",
    "blocked": "Blocked",
    "agent": "Agent",
    "confirmation": "Confirmation",
    "reminder": "Reminder",
    "notice": "Notice",
    "collection": "Collection message",
    "opted_out": "the number opted out",
    "collection_paused": "collection is paused",
    "no_convenient_time": "no convenient time to send",
    # message senders
    "debtor": "Debtor",
    "system": "System",
    # legal review (parley.console.priority)
    "legal_review": "In legal review",
    "withdrawn": "Taken out of legal review",
}

# Audit event kinds as a person would say them (parley.records.audit.Kind).
EVENTS: Final[dict[str, str]] = {
    "accounts.imported": "Account loaded from a file",
    "account.phone_flagged": "Phone flagged for review (wrong number)",
    "account.legal_review": "Moved to legal review",
    "account.legal_review_withdrawn": "Taken out of legal review",
    "conversation.started": "Conversation started",
    "message.redacted": "Card or SSN digits removed from a message",
    "verification.succeeded": "Identity verified",
    "verification.failed": "Identity check failed",
    "verification.refused": "Identity check refused",
    "verification.locked": "Identity check locked",
    "verification.expired": "Verified session expired",
    "disclosure.debt_collector": "Debt-collector disclosure given",
    "escalation.opened": "Sent to the human queue",
    "collection.paused": "Collection paused",
    "collection.resumed": "Collection resumed",
    "plan.agreed": "Plan agreed",
    "plan.rescheduled": "Plan rescheduled",
    "plan.completed": "Plan completed",
    "plan.broken": "Plan broken",
    "plan.payment_link_requested": "Payment link requested",
    "promise.recorded": "Promise to pay recorded",
    "payment.link_created": "Payment link created",
    "payment.link_failed": "Payment link could not be created",
    "payment.link_resent": "Payment link re-sent",
    "payment.checkout_failed": "Checkout failed",
    "ledger.payment": "Payment posted",
    "ledger.settlement": "Settlement remainder forgiven",
    "sms.opted_out": "Opted out of SMS",
    "sms.opted_in": "Opted back in to SMS",
    "sms.blocked": "SMS blocked",
    "sms.deferred": "SMS held for a convenient hour",
    "sms.sending": "SMS sending",
    "sms.sent": "SMS sent",
    "sms.outbox": "SMS put in the local outbox",
    "sms.failed": "SMS failed",
    "console.claim": "Claimed in the console",
    "console.take_over": "Taken over in the console",
    "console.reply": "Agent replied",
    "console.note": "Internal note added",
    "console.hand_back": "Handed back to the bot",
    "console.close": "Closed in the console",
    "console.export": "Exported",
}


def label(code: object) -> str:
    """The words for a code; an unknown code is spelled out from itself ("new_thing" ->
    "New thing") so nothing raw reaches a page. None and "" read as a dash."""
    if code is None or code == "":
        return "—"
    text = str(code)
    known = LABELS.get(text)
    if known is not None:
        return known
    return text.replace("_", " ").replace(".", " ").strip().capitalize()


def event_label(kind: str) -> str:
    """An audit event kind in words."""
    return EVENTS.get(kind) or label(kind)


# Keys of audit data that are not worth a person's attention on the account page.
_QUIET_KEYS: Final = frozenset({"kind", "escalation_ids", "previous_holder"})


def _value_words(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        if ":" in value and " " not in value:  # "sms:outbox" -> "SMS, in the local outbox"
            channel, _, status = value.partition(":")
            return f"{label(channel)}, {label(status).lower()}"
        return label(value) if value in LABELS else value
    if isinstance(value, (list, tuple)):
        return ", ".join(_value_words(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{label(k).lower()} {_value_words(v)}" for k, v in value.items())
    return str(value)


def details(data: dict[str, object] | None) -> str:
    """An audit event's data as a short line of words ("plan #3 · link #5 · mode: Local demo
    checkout"), never a dict's repr."""
    parts: list[str] = []
    for key, value in (data or {}).items():
        if key in _QUIET_KEYS or value is None or value == "" or value == []:
            continue
        if key.endswith("_id") and isinstance(value, (int, str)) and not isinstance(value, bool):
            parts.append(f"{label(key[:-3]).lower()} #{value}")
        else:
            parts.append(f"{label(key).lower()}: {_value_words(value)}")
    return " · ".join(parts)
