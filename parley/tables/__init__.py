"""The database tables (SQLAlchemy models), one module per SPEC section; everything is
re-exported here so the rest of the code imports `from parley.tables import ...` without knowing
the split. (Not named `models`: that name is for trained Rasa models, kept out of git.)"""

from parley.tables.accounts import Account
from parley.tables.base import Base, TimestampMixin, UTCDateTime, new_id, utcnow
from parley.tables.console import CannedReply, ConsoleSession, Note, Role, User
from parley.tables.conversations import (
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    Sender,
)
from parley.tables.documents import NoticeChannel, ValidationNotice
from parley.tables.escalations import (
    ACTIVE_ESCALATION,
    Escalation,
    EscalationReason,
    EscalationStatus,
)
from parley.tables.jobs import Job, JobState, WorkerHeartbeat
from parley.tables.negotiation import (
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
from parley.tables.outreach import (
    EmailOptOut,
    OptOutSource,
    OutboundKind,
    OutboundMessage,
    OutboundStatus,
    OutreachEvent,
    OutreachOutcome,
    OutreachPause,
    PhoneOptOut,
)
from parley.tables.payments import (
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
from parley.tables.records import AuditEvent
from parley.tables.verification import (
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
    "CannedReply",
    "Channel",
    "ChargeStatus",
    "ConsoleSession",
    "Conversation",
    "ConversationStatus",
    "Direction",
    "EmailOptOut",
    "Escalation",
    "EscalationReason",
    "EscalationStatus",
    "EventSource",
    "Installment",
    "InstallmentCharge",
    "InstallmentStatus",
    "Job",
    "JobState",
    "LedgerEntry",
    "LedgerKind",
    "LinkMode",
    "LinkStatus",
    "Message",
    "NegotiationEvent",
    "NegotiationEventKind",
    "Note",
    "NoticeChannel",
    "OptOutSource",
    "OutboundKind",
    "OutboundMessage",
    "OutboundStatus",
    "OutreachEvent",
    "OutreachOutcome",
    "OutreachPause",
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
    "ValidationNotice",
    "VerificationAttempt",
    "VerificationAttemptTarget",
    "VerificationLock",
    "WorkerHeartbeat",
    "new_id",
    "utcnow",
]
