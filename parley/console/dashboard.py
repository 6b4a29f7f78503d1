"""The dashboard's figures (SPEC §15), each one SQL aggregate over the table that records it.

Every figure is "what happened in the period" (from the start date's midnight UTC to the end
date's following midnight), optionally for the accounts of one policy; docs/console.md defines
each one (table and condition) so it can be reconciled with the ledger, the plans and the
escalations. Nothing here loops over rows in Python: the database counts and sums, so the page
costs a few dozen indexed queries whether there are a hundred accounts or a hundred thousand.
Medians are computed in SQL too (window functions, which SQLite and PostgreSQL both have).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Float,
    Select,
    and_,
    case,
    cast,
    distinct,
    exists,
    extract,
    func,
    literal,
    select,
    union,
)
from sqlalchemy.orm import Session

from parley.console.priority import balance_expr
from parley.core.errors import InvalidRequest
from parley.records.audit import Kind
from parley.tables import (
    LIVE_PLAN,
    Account,
    AuditEvent,
    Conversation,
    Escalation,
    EscalationReason,
    EscalationStatus,
    LedgerEntry,
    LedgerKind,
    Message,
    NegotiationEvent,
    NegotiationEventKind,
    OutboundMessage,
    OutboundStatus,
    PaymentPlan,
    PhoneOptOut,
    Promise,
    PromiseStatus,
    Sender,
)

DEFAULT_DAYS: Final = 30
MAX_DAYS: Final = 3660
# Offers are what Parley put on the table: its own proposals and its counters.
OFFER_KINDS: Final = (NegotiationEventKind.OFFER, NegotiationEventKind.COUNTER)
# Outreach "sent": handed to Twilio, or to the local outbox in local mode (SPEC §7).
SENT_STATUSES: Final = (OutboundStatus.SENT, OutboundStatus.OUTBOX)


@dataclass(frozen=True)
class Period:
    """Whole UTC days, `first` to `last` inclusive."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.last + timedelta(days=1), time(0), tzinfo=timezone.utc)

    @classmethod
    def parse(cls, first: str | None, last: str | None, today: date) -> Period:
        """From the form's YYYY-MM-DD fields; blank means the last 30 days to today. A bad or
        reversed range is an error that says what is wrong, never a silent default."""

        def read(value: str | None, name: str) -> date | None:
            if not value or not value.strip():
                return None
            try:
                return date.fromisoformat(value.strip())
            except ValueError as exc:
                raise InvalidRequest(
                    "invalid_date", f"The {name} date must be a date like 2026-01-31."
                ) from exc

        end = read(last, "end") or today
        start = read(first, "start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise InvalidRequest("invalid_period", "The start date is after the end date.")
        if (end - start).days > MAX_DAYS:
            raise InvalidRequest("invalid_period", "Choose a period of at most ten years.")
        return cls(start, end)


@dataclass(frozen=True)
class ReasonFigures:
    reason: str
    opened: int
    resolved: int
    still_open: int
    median_first_response_minutes: float | None
    median_resolution_minutes: float | None


@dataclass
class Dashboard:
    period: Period
    policy: str | None
    funnel: list[tuple[str, str, int]] = field(default_factory=list)  # (key, label, accounts)
    plans_agreed: int = 0
    plans_self_served: int = 0
    promised_cents: int = 0
    promises_made: int = 0
    promises_kept: int = 0
    promises_broken: int = 0
    agreed_cents: int = 0
    collected_cents: int = 0
    forgiven_cents: int = 0
    plans_live: int = 0
    plans_completed: int = 0
    plans_broken: int = 0
    escalations: list[ReasonFigures] = field(default_factory=list)
    opt_outs: int = 0
    outreach: dict[str, int] = field(default_factory=dict)  # status -> messages
    blocked_by: dict[str, int] = field(default_factory=dict)  # rule -> messages

    @property
    def self_serve_rate(self) -> float | None:
        """Share of the plans agreed in the period whose conversation never had a person."""
        return self.plans_self_served / self.plans_agreed if self.plans_agreed else None

    @property
    def outreach_sent(self) -> int:
        return sum(self.outreach.get(str(s), 0) for s in SENT_STATUSES)

    @property
    def outreach_blocked(self) -> int:
        return self.outreach.get(str(OutboundStatus.BLOCKED), 0)

    @property
    def figure(self) -> dict[str, int]:
        return {key: value for key, _label, value in self.funnel}


FUNNEL: Final = (
    ("placed", "Placed"),
    ("contacted", "Contacted"),
    ("engaged", "Engaged"),
    ("verified", "Verified"),
    ("offered", "Offered"),
    ("agreed", "Agreed"),
    ("paying", "Paying"),
    ("paid_in_full", "Paid in full"),
)


def _within(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def _of_policy(account_id: Any, policy: str | None) -> ColumnElement[bool]:
    """Rows whose account is under `policy` (no condition when no policy is chosen)."""
    if not policy:
        return literal(True)
    return exists(select(literal(1)).where(Account.id == account_id, Account.policy == policy))


def _count_distinct(session: Session, query: Select[Any] | CompoundSelect[Any]) -> int:
    sub = query.subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)


def seconds_between(session: Session, later: Any, earlier: Any) -> ColumnElement[float]:
    """`later - earlier` in seconds, spelled for the session's database."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return cast(extract("epoch", later - earlier), Float)


def funnel(session: Session, period: Period, policy: str | None) -> list[tuple[str, str, int]]:
    """Distinct accounts at each stage, each counted by what happened to it in the period."""
    p = policy
    placed = int(
        session.scalar(
            select(func.count(Account.id)).where(
                _within(Account.created_at, period), Account.policy == p if p else literal(True)
            )
        )
        or 0
    )
    contacted = _count_distinct(
        session,
        union(
            select(OutboundMessage.account_id.label("account_id")).where(
                OutboundMessage.account_id.is_not(None),
                OutboundMessage.status.in_(SENT_STATUSES),
                _within(func.coalesce(OutboundMessage.sent_at, OutboundMessage.created_at), period),
                _of_policy(OutboundMessage.account_id, p),
            ),
            select(Conversation.account_id.label("account_id")).where(
                Conversation.account_id.is_not(None),
                _within(Conversation.created_at, period),
                _of_policy(Conversation.account_id, p),
            ),
        ),
    )
    engaged = _count_distinct(
        session,
        select(distinct(Conversation.account_id))
        .join(Message, Message.conversation_id == Conversation.id)
        .where(
            Conversation.account_id.is_not(None),
            Message.sender == Sender.DEBTOR,
            _within(Message.created_at, period),
            _of_policy(Conversation.account_id, p),
        ),
    )
    verified = _count_distinct(
        session,
        select(distinct(AuditEvent.account_id)).where(
            AuditEvent.kind == Kind.VERIFICATION_SUCCEEDED.value,
            AuditEvent.account_id.is_not(None),
            _within(AuditEvent.created_at, period),
            _of_policy(AuditEvent.account_id, p),
        ),
    )
    offered = _count_distinct(
        session,
        select(distinct(NegotiationEvent.account_id)).where(
            NegotiationEvent.kind.in_(OFFER_KINDS),
            _within(NegotiationEvent.created_at, period),
            _of_policy(NegotiationEvent.account_id, p),
        ),
    )
    agreed = _count_distinct(
        session,
        select(distinct(PaymentPlan.account_id)).where(
            _within(PaymentPlan.agreed_at, period), _of_policy(PaymentPlan.account_id, p)
        ),
    )
    paying = _count_distinct(
        session,
        select(distinct(LedgerEntry.account_id)).where(
            LedgerEntry.kind == LedgerKind.PAYMENT,
            _within(LedgerEntry.created_at, period),
            _of_policy(LedgerEntry.account_id, p),
        ),
    )
    last_posted = (
        select(
            LedgerEntry.account_id.label("account_id"),
            func.max(LedgerEntry.created_at).label("last_at"),
        )
        .group_by(LedgerEntry.account_id)
        .subquery("last_posted")
    )
    paid_in_full = int(
        session.scalar(
            select(func.count(Account.id))
            .join(last_posted, last_posted.c.account_id == Account.id)
            .where(
                balance_expr() <= 0,
                last_posted.c.last_at >= period.start,
                last_posted.c.last_at < period.end,
                Account.policy == p if p else literal(True),
            )
        )
        or 0
    )
    values = {
        "placed": placed,
        "contacted": contacted,
        "engaged": engaged,
        "verified": verified,
        "offered": offered,
        "agreed": agreed,
        "paying": paying,
        "paid_in_full": paid_in_full,
    }
    return [(key, label, values[key]) for key, label in FUNNEL]


def _money_and_plans(
    session: Session, period: Period, policy: str | None, board: Dashboard
) -> None:
    plan_row = session.execute(
        select(
            func.count(PaymentPlan.id),
            func.coalesce(func.sum(PaymentPlan.total_cents), 0),
            func.coalesce(
                func.sum(
                    case(
                        (
                            ~exists(
                                select(literal(1)).where(
                                    Escalation.conversation_id == PaymentPlan.conversation_id
                                )
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
        ).where(_within(PaymentPlan.agreed_at, period), _of_policy(PaymentPlan.account_id, policy))
    ).one()
    board.plans_agreed, board.agreed_cents, board.plans_self_served = (int(v) for v in plan_row)
    promise_row = session.execute(
        select(
            func.count(Promise.id),
            func.coalesce(func.sum(Promise.amount_cents), 0),
            func.coalesce(func.sum(case((Promise.status == PromiseStatus.KEPT, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Promise.status == PromiseStatus.BROKEN, 1), else_=0)), 0),
        ).where(_within(Promise.created_at, period), _of_policy(Promise.account_id, policy))
    ).one()
    (
        board.promises_made,
        board.promised_cents,
        board.promises_kept,
        board.promises_broken,
    ) = (int(v) for v in promise_row)
    ledger: dict[str, int] = {
        str(kind): int(total)
        for kind, total in session.execute(
            select(LedgerEntry.kind, func.coalesce(func.sum(LedgerEntry.amount_cents), 0))
            .where(
                _within(LedgerEntry.created_at, period),
                _of_policy(LedgerEntry.account_id, policy),
            )
            .group_by(LedgerEntry.kind)
        )
    }
    board.collected_cents = int(ledger.get(LedgerKind.PAYMENT.value, 0))
    board.forgiven_cents = int(ledger.get(LedgerKind.SETTLEMENT.value, 0))
    board.plans_live = int(
        session.scalar(
            select(func.count(PaymentPlan.id)).where(
                PaymentPlan.status.in_(LIVE_PLAN),
                PaymentPlan.created_at < period.end,
                _of_policy(PaymentPlan.account_id, policy),
            )
        )
        or 0
    )
    board.plans_completed = int(
        session.scalar(
            select(func.count(PaymentPlan.id)).where(
                _within(PaymentPlan.completed_at, period),
                _of_policy(PaymentPlan.account_id, policy),
            )
        )
        or 0
    )
    board.plans_broken = int(
        session.scalar(
            select(func.count(PaymentPlan.id)).where(
                _within(PaymentPlan.broken_at, period),
                _of_policy(PaymentPlan.account_id, policy),
            )
        )
        or 0
    )


def _medians(session: Session, durations: Select[Any]) -> dict[str, float]:
    """Per reason, the median of `durations` (columns reason, seconds; NULL seconds ignored):
    the middle value, or the mean of the two middle values, in minutes."""
    sub = durations.subquery("durations")
    ranked = (
        select(
            sub.c.reason,
            sub.c.seconds,
            func.row_number().over(partition_by=sub.c.reason, order_by=sub.c.seconds).label("rn"),
            func.count().over(partition_by=sub.c.reason).label("n"),
        )
        .where(sub.c.seconds.is_not(None))
        .subquery("ranked")
    )
    rows = session.execute(
        select(ranked.c.reason, func.avg(ranked.c.seconds))
        .where(ranked.c.rn.in_([(ranked.c.n + 1) // 2, (ranked.c.n + 2) // 2]))
        .group_by(ranked.c.reason)
    ).all()
    return {str(reason): float(seconds) / 60.0 for reason, seconds in rows}


def escalation_figures(session: Session, period: Period, policy: str | None) -> list[ReasonFigures]:
    """Escalations opened in the period, per reason: how many, how many resolved and still
    open, and the median minutes to the first agent message and to resolution."""
    in_period = and_(
        _within(Escalation.created_at, period), _of_policy(Escalation.account_id, policy)
    )
    counts = {
        str(row[0]): (int(row[1]), int(row[2]))
        for row in session.execute(
            select(
                Escalation.reason,
                func.count(Escalation.id),
                func.sum(case((Escalation.status == EscalationStatus.RESOLVED, 1), else_=0)),
            )
            .where(in_period)
            .group_by(Escalation.reason)
        )
    }
    first_reply = (
        select(func.min(Message.created_at))
        .where(
            Message.conversation_id == Escalation.conversation_id,
            Message.sender == Sender.AGENT,
            Message.created_at >= Escalation.created_at,
        )
        .scalar_subquery()
    )
    first = _medians(
        session,
        select(
            Escalation.reason.label("reason"),
            seconds_between(session, first_reply, Escalation.created_at).label("seconds"),
        ).where(in_period),
    )
    resolution = _medians(
        session,
        select(
            Escalation.reason.label("reason"),
            seconds_between(session, Escalation.resolved_at, Escalation.created_at).label(
                "seconds"
            ),
        ).where(in_period, Escalation.resolved_at.is_not(None)),
    )
    order = {reason.value: i for i, reason in enumerate(EscalationReason)}
    return [
        ReasonFigures(
            reason=reason,
            opened=opened,
            resolved=resolved,
            still_open=opened - resolved,
            median_first_response_minutes=first.get(reason),
            median_resolution_minutes=resolution.get(reason),
        )
        for reason, (opened, resolved) in sorted(
            counts.items(), key=lambda item: (-item[1][0], order.get(item[0], 99))
        )
    ]


def _outreach(session: Session, period: Period, policy: str | None, board: Dashboard) -> None:
    in_period = and_(
        _within(OutboundMessage.created_at, period),
        _of_policy(OutboundMessage.account_id, policy),
    )
    board.outreach = {
        str(status): int(n)
        for status, n in session.execute(
            select(OutboundMessage.status, func.count(OutboundMessage.id))
            .where(in_period)
            .group_by(OutboundMessage.status)
        )
    }
    board.blocked_by = {
        str(error or "other"): int(n)
        for error, n in session.execute(
            select(OutboundMessage.error, func.count(OutboundMessage.id))
            .where(in_period, OutboundMessage.status == OutboundStatus.BLOCKED)
            .group_by(OutboundMessage.error)
        )
    }
    listed = (
        exists(
            select(literal(1)).where(Account.phone == PhoneOptOut.phone, Account.policy == policy)
        )
        if policy
        else literal(True)
    )
    board.opt_outs = int(
        session.scalar(
            select(func.count(PhoneOptOut.phone)).where(
                PhoneOptOut.opted_out.is_(True), _within(PhoneOptOut.updated_at, period), listed
            )
        )
        or 0
    )


def build(session: Session, period: Period, policy: str | None = None) -> Dashboard:
    """Every figure of the dashboard for `period` (and `policy`, when one is chosen)."""
    policy = policy or None
    board = Dashboard(period=period, policy=policy)
    board.funnel = funnel(session, period, policy)
    _money_and_plans(session, period, policy, board)
    board.escalations = escalation_figures(session, period, policy)
    _outreach(session, period, policy, board)
    return board


def policy_names(session: Session, configured: list[str]) -> list[str]:
    """The policies to filter by: those configured and any an account still names."""
    used = {str(name) for name in session.scalars(select(distinct(Account.policy)))}
    return sorted(set(configured) | used)
