"""The audit trail (SPEC §9): one way to record what happened, with the kinds it may be.

Every change a person or a rule makes writes one `AuditEvent` through `record`, in the caller's
transaction, so the record and the change commit (or roll back) together. Events carry ids and
reasons, never personal data beyond ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from parley.core.clock import utcnow
from parley.core.enums import StrEnum
from parley.tables import AuditEvent


class Kind(StrEnum):
    ACCOUNTS_IMPORTED = "accounts.imported"
    ACCOUNT_PHONE_FLAGGED = "account.phone_flagged"
    ACCOUNT_LEGAL_REVIEW = "account.legal_review"
    ACCOUNT_LEGAL_REVIEW_WITHDRAWN = "account.legal_review_withdrawn"
    CONVERSATION_STARTED = "conversation.started"
    MESSAGE_REDACTED = "message.redacted"
    VERIFICATION_SUCCEEDED = "verification.succeeded"
    VERIFICATION_FAILED = "verification.failed"
    VERIFICATION_REFUSED = "verification.refused"
    VERIFICATION_LOCKED = "verification.locked"
    DISCLOSURE = "disclosure.debt_collector"
    ESCALATION_OPENED = "escalation.opened"
    COLLECTION_PAUSED = "collection.paused"
    COLLECTION_RESUMED = "collection.resumed"
    PLAN_AGREED = "plan.agreed"
    PLAN_RESCHEDULED = "plan.rescheduled"
    PROMISE_RECORDED = "promise.recorded"
    PROMISE_KEPT = "promise.kept"
    PROMISE_BROKEN = "promise.broken"
    OUTREACH_PAUSED = "outreach.paused"
    OUTREACH_RESUMED = "outreach.resumed"
    VERIFICATION_EXPIRED = "verification.expired"
    PLAN_COMPLETED = "plan.completed"
    PLAN_BROKEN = "plan.broken"
    PLAN_LINK_REQUESTED = "plan.payment_link_requested"
    PAYMENT_LINK_CREATED = "payment.link_created"
    PAYMENT_LINK_FAILED = "payment.link_failed"
    PAYMENT_LINK_RESENT = "payment.link_resent"
    PAYMENT_CHECKOUT_FAILED = "payment.checkout_failed"
    LEDGER_PAYMENT = "ledger.payment"
    LEDGER_SETTLEMENT = "ledger.settlement"
    SMS_OPTED_OUT = "sms.opted_out"
    SMS_OPTED_IN = "sms.opted_in"
    SMS_BLOCKED = "sms.blocked"
    SMS_DEFERRED = "sms.deferred"
    SMS_SENDING = "sms.sending"
    SMS_SENT = "sms.sent"
    SMS_OUTBOX = "sms.outbox"
    SMS_FAILED = "sms.failed"
    EMAIL_OPTED_OUT = "email.opted_out"
    EMAIL_BLOCKED = "email.blocked"
    EMAIL_SENT = "email.sent"
    EMAIL_OUTBOX = "email.outbox"
    EMAIL_FAILED = "email.failed"
    EMAIL_INTERRUPTED = "email.interrupted"
    USER_CREATED = "user.created"
    CONSOLE_LOGIN = "console.login"
    CONSOLE_LOGIN_FAILED = "console.login_failed"
    CONSOLE_LOGIN_REFUSED = "console.login_refused"
    CONSOLE_CLAIM = "console.claim"
    CONSOLE_TAKE_OVER = "console.take_over"
    CONSOLE_REPLY = "console.reply"
    CONSOLE_NOTE = "console.note"
    CONSOLE_HAND_BACK = "console.hand_back"
    CONSOLE_CLOSE = "console.close"
    CONSOLE_EXPORT = "console.export"
    CONSOLE_ASSIGN = "console.assign"
    CANNED_REPLY_SAVED = "console.canned_saved"
    CANNED_REPLY_DELETED = "console.canned_deleted"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    USER_PASSWORD_RESET = "user.password_reset"  # noqa: S105 - an event name


SYSTEM = "system"


def user_actor(username: str) -> str:
    """How a console user is named as the actor of an event."""
    return f"user:{username}"


def record(
    session: Session,
    event_kind: Kind,
    /,
    *,
    actor: str = SYSTEM,
    conversation_id: str | None = None,
    account_id: int | None = None,
    at: datetime | None = None,
    **data: Any,
) -> AuditEvent:
    """Add one audit event to the caller's transaction and return it; `data` are JSON values."""
    event = AuditEvent(
        kind=Kind(event_kind).value,
        actor=actor,
        conversation_id=conversation_id,
        account_id=account_id,
        data=data,
        created_at=at or utcnow(),
    )
    session.add(event)
    return event
