"""The database models, one module per SPEC section; everything is re-exported here so the
rest of the code imports `from parley.models import ...` without knowing the split."""

from parley.models.accounts import Account
from parley.models.base import Base, TimestampMixin, UTCDateTime, new_id, utcnow
from parley.models.console import ConsoleSession, Note, Role, User
from parley.models.conversations import (
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    Sender,
)
from parley.models.escalations import (
    ACTIVE_ESCALATION,
    Escalation,
    EscalationReason,
    EscalationStatus,
)
from parley.models.negotiation import (
    LIVE_PLAN,
    Actor,
    Installment,
    InstallmentStatus,
    NegotiationEvent,
    NegotiationEventKind,
    PaymentPlan,
    PlanKind,
    PlanStatus,
    Promise,
    PromiseStatus,
)
from parley.models.outreach import (
    OptOutSource,
    OutboundKind,
    OutboundMessage,
    OutboundStatus,
    PhoneOptOut,
)
from parley.models.payments import (
    ChargeStatus,
    EventSource,
    InstallmentCharge,
    LedgerEntry,
    LedgerKind,
    LinkMode,
    LinkStatus,
    PaymentLink,
    ProcessedEvent,
)
from parley.models.records import AuditEvent
from parley.models.verification import (
    PortalTokenUse,
    VerificationAttempt,
    VerificationAttemptTarget,
    VerificationLock,
)

__all__ = [
    "ACTIVE_ESCALATION",
    "LIVE_PLAN",
    "Account",
    "Actor",
    "AuditEvent",
    "Base",
    "Channel",
    "ChargeStatus",
    "ConsoleSession",
    "Conversation",
    "ConversationStatus",
    "Direction",
    "Escalation",
    "EscalationReason",
    "EscalationStatus",
    "EventSource",
    "Installment",
    "InstallmentCharge",
    "InstallmentStatus",
    "LedgerEntry",
    "LedgerKind",
    "LinkMode",
    "LinkStatus",
    "Message",
    "NegotiationEvent",
    "NegotiationEventKind",
    "Note",
    "OptOutSource",
    "OutboundKind",
    "OutboundMessage",
    "OutboundStatus",
    "PaymentLink",
    "PaymentPlan",
    "PhoneOptOut",
    "PlanKind",
    "PlanStatus",
    "PortalTokenUse",
    "ProcessedEvent",
    "Promise",
    "PromiseStatus",
    "Role",
    "Sender",
    "TimestampMixin",
    "UTCDateTime",
    "User",
    "VerificationAttempt",
    "VerificationAttemptTarget",
    "VerificationLock",
    "new_id",
    "utcnow",
]
