"""Which account to work next (SPEC §15): an explainable score per account, and legal review.

The score is a sum of whole points, one term per factor, so a person can check it by adding
the numbers shown beside it:

| factor | points |
|---|---|
| balance | 1 per $100 still owed, at most 30 |
| placed (days since loaded) | 20 within 30 days, 12 within 90, 6 within 180, 2 within 365 |
| engagement | +8 the debtor wrote to us, +7 verified, +5 wrote in the last 14 days |
| promises kept | +5 per promise kept or plan completed, at most +15 |
| promises broken | −10 per promise or plan broken, at most −20 |
| reachable channels | +5 for SMS (a phone that has not opted out), +5 for email |

An account with nothing left to pay scores 0 whatever else is true. Fresh, engaged, reachable
accounts with a real balance come first: they are the ones a call or a message is most likely
to resolve; repeated broken promises push an account down, not out.

The score is one SQL expression (`scored`), so the accounts list can order 100,000 accounts by it
in the database and the account page shows exactly the numbers the list sorted by. The
days-since-placement buckets are compared with bound timestamps rather than date arithmetic,
which SQLite and PostgreSQL spell differently.

**Legal review** is an outcome a supervisor records on an account, with a reason, for the
creditor's legal team to consider; it is written to the audit trail (the latest legal-review
event of an account is its state, so it needs no schema change and its history is the trail)
and exported with the accounts. It changes nothing Parley does on the account: collection,
outreach and the bot carry on under the same rules (a debtor is not treated differently because
of an internal referral, and pausing is what the dispute / cease / attorney reasons are for).
It only takes the account off the worklist. Nothing Parley sends mentions it or legal action
(tests/console/test_no_legal_threats.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Subquery

from parley.core.clock import utcnow
from parley.core.errors import InvalidRequest, NotFound
from parley.core.money import format_cents
from parley.records.audit import Kind, record
from parley.tables import (
    LIVE_PLAN,
    Account,
    AuditEvent,
    Conversation,
    PaymentPlan,
    PhoneOptOut,
    PlanStatus,
    Promise,
    PromiseStatus,
)

CENTS_PER_POINT: Final = 10_000  # $100
BALANCE_MAX: Final = 30
PLACEMENT_POINTS: Final = ((30, 20), (90, 12), (180, 6), (365, 2))  # (within days, points)
WROTE_POINTS: Final = 8
VERIFIED_POINTS: Final = 7
RECENT_POINTS: Final = 5
RECENT_DAYS: Final = 14
KEPT_EACH, KEPT_MAX = 5, 15
BROKEN_EACH, BROKEN_MAX = 10, 20
CHANNEL_POINTS: Final = 5
MAX_REASON: Final = 500
LEGAL_KINDS: Final = (Kind.ACCOUNT_LEGAL_REVIEW.value, Kind.ACCOUNT_LEGAL_REVIEW_WITHDRAWN.value)


def balance_expr() -> ColumnElement[int]:
    """The account's balance in cents, in SQL (the same sum as `Account.balance_cents`)."""
    return (
        Account.principal_cents
        + Account.interest_cents
        + Account.fees_cents
        - Account.payments_credits_cents
        - func.coalesce(Account.posted_payments_cents, 0)
    )


def _capped(count: ColumnElement[Any], each: int, most: int) -> ColumnElement[int]:
    return case((count * each >= most, most), else_=count * each)


def legal_state() -> Subquery:
    """Per account, the kind of its latest legal-review event (in review or withdrawn)."""
    latest = (
        select(AuditEvent.account_id.label("account_id"), func.max(AuditEvent.id).label("id"))
        .where(AuditEvent.kind.in_(LEGAL_KINDS), AuditEvent.account_id.is_not(None))
        .group_by(AuditEvent.account_id)
        .subquery("legal_latest")
    )
    return (
        select(
            latest.c.account_id,
            AuditEvent.kind.label("kind"),
            AuditEvent.data.label("data"),
            AuditEvent.actor.label("actor"),
            AuditEvent.created_at.label("at"),
        )
        .join(AuditEvent, AuditEvent.id == latest.c.id)
        .subquery("legal_state")
    )


def _facts(where: ColumnElement[bool] | None) -> Subquery:
    """Per account (optionally filtered), the raw facts the score is made of. Each fact is a
    lookup on an indexed `account_id` correlated with the account row, so scoring a search's
    matches reads only their rows, and scoring every account is one pass with index probes
    (grouping whole tables first and joining the groups was 5x slower on SQLite at 100,000
    accounts)."""

    def count(model: Any, *conditions: ColumnElement[bool]) -> Any:
        return (
            select(func.count())
            .select_from(model)
            .where(model.account_id == Account.id, *conditions)
            .scalar_subquery()
        )

    wrote = exists(
        select(literal(1)).where(
            Conversation.account_id == Account.id, Conversation.last_debtor_at.is_not(None)
        )
    )
    verified = exists(
        select(literal(1)).where(
            Conversation.account_id == Account.id, Conversation.verified_at.is_not(None)
        )
    )
    last_debtor_at = (
        select(func.max(Conversation.last_debtor_at))
        .where(Conversation.account_id == Account.id)
        .scalar_subquery()
    )
    live = exists(
        select(literal(1)).where(
            PaymentPlan.account_id == Account.id, PaymentPlan.status.in_(LIVE_PLAN)
        )
    )
    legal_kind = (
        select(AuditEvent.kind)
        .where(AuditEvent.account_id == Account.id, AuditEvent.kind.in_(LEGAL_KINDS))
        .order_by(AuditEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    opted_out = exists(
        select(literal(1)).where(
            PhoneOptOut.phone == Account.phone, PhoneOptOut.opted_out.is_(True)
        )
    )
    query = select(
        Account.id.label("account_id"),
        balance_expr().label("balance_cents"),
        Account.created_at.label("placed_at"),
        case((wrote, 1), else_=0).label("wrote"),
        case((verified, 1), else_=0).label("verified"),
        last_debtor_at.label("last_debtor_at"),
        (
            count(Promise, Promise.status == PromiseStatus.KEPT)
            + count(PaymentPlan, PaymentPlan.status == PlanStatus.COMPLETED)
        ).label("kept"),
        (
            count(Promise, Promise.status == PromiseStatus.BROKEN)
            + count(PaymentPlan, PaymentPlan.status == PlanStatus.BROKEN)
        ).label("broken"),
        case((and_(Account.phone.is_not(None), Account.phone != "", ~opted_out), 1), else_=0).label(
            "sms_ok"
        ),
        case((and_(Account.email.is_not(None), Account.email != ""), 1), else_=0).label("email_ok"),
        case((live, 1), else_=0).label("live_plan"),
        case((legal_kind == Kind.ACCOUNT_LEGAL_REVIEW.value, 1), else_=0).label("legal_review"),
    )
    if where is not None:
        query = query.where(where)
    # OFFSET 0 keeps SQLite from flattening this into the outer query, which would evaluate
    # each lookup once per use of its column instead of once per account.
    return query.offset(0).subquery("facts")


def scored(now: datetime, where: ColumnElement[bool] | None = None) -> Select[Any]:
    """One row per account (optionally filtered): its id, every factor's points, the raw values
    behind them and the total. Join it, order by `total`, or filter it by `account_id`."""
    f = _facts(where)
    balance = f.c.balance_cents
    balance_points = case(
        (balance <= 0, 0),
        (balance >= BALANCE_MAX * CENTS_PER_POINT, BALANCE_MAX),
        else_=balance // CENTS_PER_POINT,
    )
    placement_points = case(
        *[
            (f.c.placed_at >= now - timedelta(days=days), points)
            for days, points in PLACEMENT_POINTS
        ],
        else_=0,
    )
    recent = case((f.c.last_debtor_at >= now - timedelta(days=RECENT_DAYS), 1), else_=0)
    engagement_points = (
        f.c.wrote * WROTE_POINTS + f.c.verified * VERIFIED_POINTS + recent * RECENT_POINTS
    )
    kept_points = _capped(f.c.kept, KEPT_EACH, KEPT_MAX)
    broken_points = -_capped(f.c.broken, BROKEN_EACH, BROKEN_MAX)
    channel_points = (f.c.sms_ok + f.c.email_ok) * CHANNEL_POINTS
    total = case(
        (balance <= 0, 0),
        else_=balance_points
        + placement_points
        + engagement_points
        + kept_points
        + broken_points
        + channel_points,
    )
    return select(
        f.c.account_id,
        f.c.balance_cents,
        f.c.placed_at,
        f.c.wrote,
        f.c.verified,
        f.c.last_debtor_at,
        f.c.kept,
        f.c.broken,
        f.c.sms_ok,
        f.c.email_ok,
        f.c.live_plan,
        f.c.legal_review,
        balance_points.label("balance_points"),
        placement_points.label("placement_points"),
        engagement_points.label("engagement_points"),
        kept_points.label("kept_points"),
        broken_points.label("broken_points"),
        channel_points.label("channel_points"),
        total.label("total"),
    )


@dataclass(frozen=True)
class Factor:
    """One term of the score: what it is, what was seen, and the points it adds."""

    key: str
    label: str
    detail: str
    points: int


@dataclass(frozen=True)
class Score:
    account_id: int
    total: int
    factors: tuple[Factor, ...]
    legal_review: bool
    live_plan: bool


def _days_ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    days = max(0, (now - moment).days)
    return "today" if days == 0 else "1 day ago" if days == 1 else f"{days} days ago"


def _aware(moment: Any) -> datetime | None:
    """Aggregates (max of a datetime column) come back from SQLite as text or naive values."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if isinstance(moment, datetime) and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment if isinstance(moment, datetime) else None


def score_from_row(row: Any, now: datetime) -> Score:
    """The factors of one row of `scored`, with the words the account page shows."""
    balance = int(row.balance_cents)
    placed = _aware(row.placed_at)
    last = _aware(row.last_debtor_at)
    engaged: list[str] = []
    if row.wrote:
        engaged.append(f"wrote {_days_ago(last, now)}")
    if row.verified:
        engaged.append("verified")
    channels = [name for name, ok in (("SMS", row.sms_ok), ("email", row.email_ok)) if ok]
    factors = (
        Factor(
            "balance",
            "Balance",
            format_cents(balance) if balance > 0 else "nothing left to pay",
            int(row.balance_points),
        ),
        Factor("placement", "Placed", _days_ago(placed, now), int(row.placement_points)),
        Factor(
            "engagement",
            "Engagement",
            ", ".join(engaged) if engaged else "has not written",
            int(row.engagement_points),
        ),
        Factor("kept", "Promises kept", f"{int(row.kept)} kept", int(row.kept_points)),
        Factor("broken", "Promises broken", f"{int(row.broken)} broken", int(row.broken_points)),
        Factor(
            "channels",
            "Reachable on",
            ", ".join(channels) if channels else "no channel",
            int(row.channel_points),
        ),
    )
    return Score(
        account_id=int(row.account_id),
        total=int(row.total),
        factors=factors,
        legal_review=bool(row.legal_review),
        live_plan=bool(row.live_plan),
    )


def score(session: Session, account_id: int, now: datetime | None = None) -> Score:
    """One account's score and its factors."""
    now = now or utcnow()
    row = session.execute(scored(now, Account.id == account_id)).first()
    if row is None:
        raise NotFound("account_not_found", "No such account.")
    return score_from_row(row, now)


def worklist(
    session: Session, now: datetime | None = None, *, policy: str | None = None, limit: int = 10
) -> list[tuple[Account, Score]]:
    """The accounts to work next: something left to pay, collection not paused, no plan in
    force, not in legal review; highest score first (then the larger balance)."""
    now = now or utcnow()
    where = and_(balance_expr() > 0, Account.collection_paused.is_(False))
    if policy:
        where = and_(where, Account.policy == policy)
    sub = scored(now, where).subquery("scored")
    rows = session.execute(
        select(Account, sub)
        .join(sub, sub.c.account_id == Account.id)
        .where(sub.c.live_plan == 0, sub.c.legal_review == 0)
        .order_by(sub.c.total.desc(), sub.c.balance_cents.desc(), Account.id)
        .limit(limit)
    ).all()
    return [(row[0], score_from_row(row, now)) for row in rows]


# --- legal review ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LegalReview:
    """An account's legal-review state: in review (with why, by whom, when) or not."""

    in_review: bool
    reason: str | None = None
    actor: str | None = None
    at: datetime | None = None


def legal_review(session: Session, account_id: int) -> LegalReview:
    legal = legal_state()
    row = session.execute(select(legal).where(legal.c.account_id == account_id)).first()
    if row is None or row.kind != Kind.ACCOUNT_LEGAL_REVIEW.value:
        return LegalReview(False)
    data = row.data or {}
    return LegalReview(True, str(data.get("reason") or ""), row.actor, _aware(row.at))


def set_legal_review(
    session: Session, actor_name: str, account: Account, reason: str, *, in_review: bool = True
) -> LegalReview:
    """Move an account to legal review (a reason is required) or take it out. The caller checks
    the `legal_review` permission; this records the outcome in the audit trail."""
    text = " ".join(reason.split())
    if in_review and not text:
        raise InvalidRequest("reason_required", "Give the reason for the legal review.")
    if len(text) > MAX_REASON:
        raise InvalidRequest(
            "reason_too_long", f"The reason may have at most {MAX_REASON} characters."
        )
    current = legal_review(session, account.id)
    if current.in_review == in_review:
        raise InvalidRequest(
            "legal_review_unchanged",
            "The account is already in legal review."
            if in_review
            else "The account is not in legal review.",
        )
    record(
        session,
        Kind.ACCOUNT_LEGAL_REVIEW if in_review else Kind.ACCOUNT_LEGAL_REVIEW_WITHDRAWN,
        actor=actor_name,
        account_id=account.id,
        reason=text,
    )
    session.flush()
    return legal_review(session, account.id)
