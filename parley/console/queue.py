"""The queue a collections team works all day (SPEC §10, §15): counts per reason, filters,
search, server-side paging, waiting time against per-reason response targets, assignment.

One row per conversation with an open or claimed escalation, showing its most urgent one; the
order is the most urgent reason first, then the longest waiting. Every read is bounded: the
page is chosen in SQL (grouped by conversation over the `ix_escalations_queue` index, 50 rows
at a time), and only that page's conversations, accounts, names and last messages are loaded,
so a queue of thousands costs what a queue of fifty does.

The response targets and round-robin setting come from `config/queue.yml`
(`PARLEY_QUEUE_CONFIG`), validated when the API starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Select, and_, case, func, literal, or_, select, update
from sqlalchemy.orm import Session

from parley.console.users import LoginSession, require
from parley.core.clock import utcnow
from parley.core.errors import ConfigError, Forbidden, NotFound
from parley.core.paging import clamp_page
from parley.records.audit import Kind, record, user_actor
from parley.tables import (
    ACTIVE_ESCALATION,
    Account,
    Channel,
    ConsoleSession,
    Conversation,
    ConversationStatus,
    Escalation,
    EscalationReason,
    EscalationStatus,
    Message,
    Role,
    Sender,
    User,
)

PER_PAGE: Final = 50
MAX_SEARCH: Final = 100
WaitState = Literal["ok", "due", "late", "none"]
Assigned = Literal["", "mine", "unassigned"]
# The amber band: the last quarter of a target.
DUE_FRACTION: Final = 0.75
_HOLD_STATUSES: Final = (ConversationStatus.QUEUED, ConversationStatus.HUMAN)


class QueueConfig(BaseModel):
    """`config/queue.yml`: response targets (minutes) per escalation reason, round-robin."""

    model_config = ConfigDict(extra="forbid")

    response_targets_minutes: dict[EscalationReason, int] = Field(default_factory=dict)
    auto_assign: bool = False

    def target(self, reason: str) -> int | None:
        try:
            return self.response_targets_minutes.get(EscalationReason(reason))
        except ValueError:
            return None

    def model_post_init(self, _context: Any) -> None:
        for reason, minutes in self.response_targets_minutes.items():
            if minutes < 1 or minutes > 60 * 24 * 30:
                raise ValueError(f"response target for {reason} must be 1 to 43200 minutes")


def load_queue_config(path: str | Path) -> QueueConfig:
    """Read and validate the queue file; a missing file means no targets and no round-robin.
    Raises ConfigError naming the file, the key and the reason."""
    path = Path(path)
    if not path.exists():
        return QueueConfig()
    return _load_cached(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load_cached(path: str, _mtime_ns: int) -> QueueConfig:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the queue file: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping")
    try:
        return QueueConfig.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"{path}: {details}") from exc


@dataclass(frozen=True)
class QueueFilters:
    """What the queue page asks for; every field has an "all" value."""

    reason: str = ""
    channel: str = ""
    status: str = ""  # "queued" (waiting for a person) or "human" (held by one)
    assigned: Assigned = ""
    search: str = ""
    page: int = 1

    @classmethod
    def parse(
        cls,
        reason: str | None = None,
        channel: str | None = None,
        status: str | None = None,
        assigned: str | None = None,
        search: str | None = None,
        page: int | str | None = None,
    ) -> QueueFilters:
        """From query parameters: unknown values are ignored (shown as "all"), never an error
        page, so an old bookmark still opens the queue."""
        reasons = set(EscalationReason.values())
        try:
            number = max(1, int(page or 1))
        except (TypeError, ValueError):
            number = 1
        return cls(
            reason=reason if reason in reasons else "",
            channel=channel if channel in Channel.values() else "",
            status=status if status in _HOLD_STATUSES else "",
            assigned=assigned if assigned in ("mine", "unassigned") else "",  # type: ignore[arg-type]
            search=(search or "").strip()[:MAX_SEARCH],
            page=min(number, 10_000),
        )

    def query(self, **changes: Any) -> dict[str, str]:
        """These filters as query parameters (blank ones left out), with `changes` applied."""
        values = {
            "reason": self.reason,
            "channel": self.channel,
            "status": self.status,
            "assigned": self.assigned,
            "q": self.search,
            "page": str(self.page) if self.page > 1 else "",
        }
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}

    @property
    def active(self) -> bool:
        return bool(self.reason or self.channel or self.status or self.assigned or self.search)


@dataclass(frozen=True)
class QueueRow:
    """One conversation as the queue shows it."""

    conversation_id: str
    channel: str
    status: str
    reason: str
    sub_reason: str | None
    reasons: list[str]
    priority: int
    waiting_since: datetime
    waiting_minutes: int
    target_minutes: int | None
    wait_state: WaitState
    summary: str
    assigned_to: str | None
    assigned_user_id: int | None
    held: bool  # claimed: a person holds it (not only assigned)
    account_ref: str | None
    debtor_name: str | None
    phone: str | None
    collection_paused: bool
    last_message: str | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int  # conversations matching the filters
    page: int
    pages: int
    per_page: int
    counts: dict[str, int] = field(default_factory=dict)  # whole queue, per reason
    waiting_total: int = 0  # whole queue


def wait_state(minutes: int, target: int | None) -> WaitState:
    """Green well within the target, amber in its last quarter, red past it."""
    if target is None:
        return "none"
    if minutes > target:
        return "late"
    if minutes >= target * DUE_FRACTION:
        return "due"
    return "ok"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_clause(search: str) -> Any:
    """Account reference, debtor name (first, last or both) or phone number."""
    pattern = _like(search)
    clauses: list[Any] = [
        func.lower(Account.account_ref).like(pattern, escape="\\"),
        func.lower(Account.first_name).like(pattern, escape="\\"),
        func.lower(Account.last_name).like(pattern, escape="\\"),
        func.lower(Account.first_name + literal(" ") + Account.last_name).like(
            pattern, escape="\\"
        ),
    ]
    digits = _digits(search)
    if len(digits) >= 3:
        phone = f"%{digits}%"
        clauses += [Account.phone.like(phone), Conversation.phone.like(phone)]
    return or_(*clauses)


def _grouped(filters: QueueFilters, user_id: int | None) -> Select[Any]:
    """Conversations with an active escalation: priority (the most urgent escalation's), since
    when they wait (the oldest's), filtered by reason and assignment."""
    active = Escalation.status.in_(ACTIVE_ESCALATION)
    query = (
        select(
            Escalation.conversation_id.label("conversation_id"),
            func.max(Escalation.priority).label("priority"),
            func.min(Escalation.created_at).label("since"),
        )
        .where(active)
        .group_by(Escalation.conversation_id)
    )
    if filters.reason:
        query = query.having(func.sum(case((Escalation.reason == filters.reason, 1), else_=0)) > 0)
    if filters.assigned == "mine" and user_id is not None:
        query = query.having(
            func.sum(case((Escalation.assigned_user_id == user_id, 1), else_=0)) > 0
        )
    elif filters.assigned == "unassigned":
        query = query.having(func.count(Escalation.assigned_user_id) == 0)
    return query


def _matching(filters: QueueFilters, user_id: int | None) -> Select[Any]:
    grouped = _grouped(filters, user_id).subquery("queue")
    query = (
        select(grouped.c.conversation_id, grouped.c.priority, grouped.c.since)
        .join(Conversation, Conversation.id == grouped.c.conversation_id)
        .outerjoin(Account, Account.id == Conversation.account_id)
    )
    if filters.channel:
        query = query.where(Conversation.channel == filters.channel)
    if filters.status:
        query = query.where(Conversation.status == filters.status)
    if filters.search:
        query = query.where(_search_clause(filters.search))
    return query


def reason_counts(session: Session) -> dict[str, int]:
    """Conversations waiting or held per reason (a conversation counts once per reason)."""
    rows = session.execute(
        select(Escalation.reason, func.count(func.distinct(Escalation.conversation_id)))
        .where(Escalation.status.in_(ACTIVE_ESCALATION))
        .group_by(Escalation.reason)
    ).all()
    return {str(reason): int(count) for reason, count in rows}


def queue_page(
    session: Session,
    filters: QueueFilters,
    *,
    user_id: int | None = None,
    config: QueueConfig | None = None,
    now: datetime | None = None,
    per_page: int = PER_PAGE,
) -> QueuePage:
    """One page of the queue for these filters (`user_id` is who "mine" means)."""
    config = config or QueueConfig()
    now = now or utcnow()
    matching = _matching(filters, user_id).subquery("matching")
    total = int(session.scalar(select(func.count()).select_from(matching)) or 0)
    page, pages = clamp_page(total, filters.page, per_page)
    ordered = session.execute(
        select(matching.c.conversation_id)
        .order_by(matching.c.priority.desc(), matching.c.since, matching.c.conversation_id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    ids = [str(row[0]) for row in ordered]
    counts = reason_counts(session)
    waiting_total = int(
        session.scalar(
            select(func.count(func.distinct(Escalation.conversation_id))).where(
                Escalation.status.in_(ACTIVE_ESCALATION)
            )
        )
        or 0
    )
    rows = _rows(session, ids, config, now)
    return QueuePage(rows, total, page, pages, per_page, counts, waiting_total)


def _rows(session: Session, ids: list[str], config: QueueConfig, now: datetime) -> list[QueueRow]:
    if not ids:
        return []
    escalations: dict[str, list[Escalation]] = {}
    for escalation in session.scalars(
        select(Escalation)
        .where(Escalation.conversation_id.in_(ids), Escalation.status.in_(ACTIVE_ESCALATION))
        .order_by(Escalation.priority.desc(), Escalation.created_at, Escalation.id)
    ):
        escalations.setdefault(escalation.conversation_id, []).append(escalation)
    conversations = {
        c.id: c for c in session.scalars(select(Conversation).where(Conversation.id.in_(ids)))
    }
    account_ids = {c.account_id for c in conversations.values() if c.account_id is not None}
    accounts = (
        {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(account_ids)))}
        if account_ids
        else {}
    )
    last_ids = [
        int(row[0])
        for row in session.execute(
            select(func.max(Message.id))
            .where(Message.conversation_id.in_(ids), Message.sender == Sender.DEBTOR)
            .group_by(Message.conversation_id)
        )
    ]
    last_texts: dict[str, str] = (
        {
            str(row[0]): str(row[1])
            for row in session.execute(
                select(Message.conversation_id, Message.text).where(Message.id.in_(last_ids))
            )
        }
        if last_ids
        else {}
    )
    user_ids = {e.assigned_user_id for group in escalations.values() for e in group} - {None}
    names = (
        {
            int(row[0]): str(row[1])
            for row in session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))
        }
        if user_ids
        else {}
    )
    rows: list[QueueRow] = []
    for conversation_id in ids:
        group = escalations.get(conversation_id)
        conversation = conversations.get(conversation_id)
        if not group or conversation is None:
            continue  # resolved between the two reads: gone from the queue
        top = group[0]
        account = accounts.get(conversation.account_id) if conversation.account_id else None
        assigned = next((e.assigned_user_id for e in group if e.assigned_user_id), None)
        since = min(e.created_at for e in group)
        minutes = max(0, int((now - since).total_seconds() // 60))
        target = config.target(top.reason)
        rows.append(
            QueueRow(
                conversation_id=conversation_id,
                channel=str(conversation.channel),
                status=str(conversation.status),
                reason=str(top.reason),
                sub_reason=top.sub_reason,
                reasons=sorted({str(e.reason) for e in group}),
                priority=top.priority,
                waiting_since=since,
                waiting_minutes=minutes,
                target_minutes=target,
                wait_state=wait_state(minutes, target),
                summary=top.summary,
                assigned_to=names.get(assigned) if assigned else None,
                assigned_user_id=assigned,
                held=any(e.status == EscalationStatus.CLAIMED for e in group),
                account_ref=account.account_ref if account else None,
                debtor_name=f"{account.first_name} {account.last_name}" if account else None,
                phone=conversation.phone or (account.phone if account else None),
                collection_paused=bool(account and account.collection_paused),
                last_message=last_texts.get(conversation_id),
            )
        )
    return rows


# --- assignment ----------------------------------------------------------------------------


def assignable_users(session: Session) -> list[User]:
    """Active users who work the queue (every role may), by name."""
    return list(session.scalars(select(User).where(User.active).order_by(User.username)))


def assign(
    session: Session, actor: LoginSession, conversation_id: str, username: str
) -> str | None:
    """A supervisor assigns a waiting conversation to a team member (or clears it with "").
    Assignment says who should take it; claiming is still the atomic step that holds it, so a
    conversation somebody holds is not reassigned here (take over instead)."""
    require(actor, "assign")
    active = list(
        session.scalars(
            select(Escalation).where(
                Escalation.conversation_id == conversation_id,
                Escalation.status.in_(ACTIVE_ESCALATION),
            )
        )
    )
    if not active:
        raise NotFound("not_in_queue", "This conversation is not in the queue.")
    if any(e.status == EscalationStatus.CLAIMED for e in active):
        raise Forbidden(
            "held", "Someone holds this conversation; take it over instead of assigning it."
        )
    user: User | None = None
    if username:
        user = session.scalars(
            select(User).where(User.username == username.strip().lower(), User.active)
        ).first()
        if user is None:
            raise NotFound("user_not_found", "No active user by that name.")
    for escalation in active:
        escalation.assigned_user_id = user.id if user else None
    conversation = session.get(Conversation, conversation_id)
    record(
        session,
        Kind.CONSOLE_ASSIGN,
        actor=user_actor(actor.username),
        conversation_id=conversation_id,
        account_id=conversation.account_id if conversation else None,
        assigned_to=user.username if user else None,
    )
    return user.username if user else None


def auto_assign(session: Session, config: QueueConfig, now: datetime | None = None) -> int:
    """Round-robin: give every unassigned waiting conversation to the logged-in team member
    with the fewest conversations assigned (ties go to the earliest-created user, so a burst is
    dealt out in turn). Safe to run from several requests at once: each assignment is a
    conditional UPDATE that only lands while the escalation is still unassigned. Returns how
    many it assigned."""
    if not config.auto_assign:
        return 0
    now = now or utcnow()
    online = list(
        session.scalars(
            select(User.id)
            .join(ConsoleSession, ConsoleSession.user_id == User.id)
            .where(User.active, ConsoleSession.expires_at > now, User.role != Role.ADMIN)
            .distinct()
        )
    )
    if not online:
        return 0
    waiting = session.execute(
        select(Escalation.conversation_id, func.min(Escalation.created_at))
        .where(Escalation.status == EscalationStatus.OPEN)
        .group_by(Escalation.conversation_id)
        .having(func.count(Escalation.assigned_user_id) == 0)
        .order_by(func.max(Escalation.priority).desc(), func.min(Escalation.created_at))
        .limit(200)
    ).all()
    if not waiting:
        return 0
    load = dict.fromkeys(online, 0)
    for user_id, count in session.execute(
        select(Escalation.assigned_user_id, func.count(func.distinct(Escalation.conversation_id)))
        .where(Escalation.status.in_(ACTIVE_ESCALATION), Escalation.assigned_user_id.in_(online))
        .group_by(Escalation.assigned_user_id)
    ):
        load[int(user_id)] = int(count)
    assigned = 0
    for conversation_id, _since in waiting:
        user_id = min(online, key=lambda uid: (load[uid], uid))
        result = session.execute(
            update(Escalation)
            .where(
                and_(
                    Escalation.conversation_id == conversation_id,
                    Escalation.status == EscalationStatus.OPEN,
                    Escalation.assigned_user_id.is_(None),
                )
            )
            .values(assigned_user_id=user_id)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            load[user_id] += 1
            assigned += 1
            record(
                session,
                Kind.CONSOLE_ASSIGN,
                conversation_id=str(conversation_id),
                assigned_user_id=user_id,
                round_robin=True,
            )
    return assigned
