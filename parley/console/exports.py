"""CSV exports (SPEC §15): accounts, plans, payments, promises, escalations, and one
conversation's transcript (for disputes and retention, SPEC §9).

- **Streamed**: rows are read in batches (`yield_per`) and written out a chunk at a time, so an
  export of 100,000 accounts needs no more memory than one of ten.
- **Safe in a spreadsheet**: a text cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage
  return is prefixed with a single quote (OWASP "CSV injection"), so Excel, LibreOffice and
  Sheets show it as text instead of running it as a formula. Debtors' words and names are
  attacker-controlled text; numbers Parley formats itself are written as numbers.
- **Readable and reconcilable**: enumerations are written twice, as the words the console shows
  and as the stored code (`…_code`), so a person can read the file and a script can join it.
  Money is in dollars with two decimals (from integer cents, never through a float); times are
  UTC in ISO 8601.

Who may download what (supervisors the bulk exports, anyone who can read a transcript its
export) is checked by the caller, which also writes the audit event.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from parley.console.priority import balance_expr, legal_state, scored
from parley.console.readable import label
from parley.core.clock import utcnow
from parley.tables import (
    Account,
    Conversation,
    Escalation,
    Installment,
    LedgerEntry,
    Message,
    PaymentPlan,
    Promise,
    User,
)

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
BATCH: Final = 1000
CHUNK_ROWS: Final = 500
Cell = str | int | Decimal | date | datetime | bool | None


def safe_text(value: str) -> str:
    """A text cell a spreadsheet will not evaluate (OWASP CSV injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return safe_text(str(value))


def dollars(cents: int | None) -> Decimal | None:
    """Cents as an exact decimal amount of dollars."""
    return None if cents is None else Decimal(int(cents)).scaleb(-2)


def to_csv(rows: Iterable[list[Cell]]) -> Iterator[str]:
    """CSV text, a chunk of rows at a time (RFC 4180 quoting, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    pending = 0
    for row in rows:
        writer.writerow([cell(v) for v in row])
        pending += 1
        if pending >= CHUNK_ROWS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if buffer.tell():
        yield buffer.getvalue()


def _coded(value: Any) -> list[Cell]:
    return [label(value) if value is not None else None, None if value is None else str(value)]


def account_rows(session: Session) -> Iterator[list[Cell]]:
    now = utcnow()
    score = scored(now).subquery("scored")
    legal = legal_state()
    yield [
        "account_ref",
        "first_name",
        "last_name",
        "phone",
        "email",
        "state",
        "policy",
        "creditor",
        "placed_at",
        "original_balance",
        "paid_through_parley",
        "balance",
        "collection_paused",
        "legal_review",
        "legal_review_reason",
        "legal_review_since",
        "priority_score",
    ]
    query = (
        select(
            Account, balance_expr(), score.c.total, score.c.legal_review, legal.c.data, legal.c.at
        )
        .join(score, score.c.account_id == Account.id)
        .outerjoin(legal, legal.c.account_id == Account.id)
        .order_by(Account.id)
        .execution_options(yield_per=BATCH)
    )
    for account, balance, total, in_review, data, at in session.execute(query):
        reason = (data or {}).get("reason") if in_review else None
        yield [
            account.account_ref,
            account.first_name,
            account.last_name,
            account.phone,
            account.email,
            account.state,
            account.policy,
            account.creditor,
            account.created_at,
            dollars(account.original_balance_cents),
            dollars(account.posted_payments_cents or 0),
            dollars(int(balance)),
            bool(account.collection_paused),
            bool(in_review),
            reason,
            _as_datetime(at) if in_review else None,
            int(total),
        ]


def _as_datetime(value: Any) -> datetime | str | None:
    return value if isinstance(value, datetime) or value is None else str(value)


def plan_rows(session: Session) -> Iterator[list[Cell]]:
    yield [
        "plan_id",
        "account_ref",
        "kind",
        "kind_code",
        "status",
        "status_code",
        "total",
        "balance_at_agreement",
        "frequency",
        "installments",
        "paid_so_far",
        "next_due",
        "policy",
        "agreed_at",
        "completed_at",
        "broken_at",
    ]
    query = (
        select(PaymentPlan, Account.account_ref)
        .join(Account, Account.id == PaymentPlan.account_id)
        .order_by(PaymentPlan.id)
        .execution_options(yield_per=BATCH)
    )
    for batch in session.execute(query).partitions():
        ids = [plan.id for plan, _ref in batch]
        installments: dict[int, list[Installment]] = {}
        for installment in session.scalars(
            select(Installment)
            .where(Installment.plan_id.in_(ids))
            .order_by(Installment.plan_id, Installment.sequence)
        ):
            installments.setdefault(installment.plan_id, []).append(installment)
        for plan, ref in batch:
            mine = installments.get(plan.id, [])
            due = next((i.due_date for i in mine if i.remaining_cents > 0), None)
            yield [
                plan.id,
                ref,
                *_coded(plan.kind),
                *_coded(plan.status),
                dollars(plan.total_cents),
                dollars(plan.balance_at_agreement_cents),
                label(plan.frequency) if plan.frequency else None,
                len(mine),
                dollars(sum(i.paid_cents or 0 for i in mine)),
                due,
                plan.policy_name,
                plan.agreed_at,
                plan.completed_at,
                plan.broken_at,
            ]


def payment_rows(session: Session) -> Iterator[list[Cell]]:
    yield [
        "entry_id",
        "account_ref",
        "plan_id",
        "installment",
        "kind",
        "kind_code",
        "amount",
        "reference",
        "posted_at",
    ]
    query = (
        select(LedgerEntry, Account.account_ref, Installment.sequence)
        .join(Account, Account.id == LedgerEntry.account_id)
        .outerjoin(Installment, Installment.id == LedgerEntry.installment_id)
        .order_by(LedgerEntry.id)
        .execution_options(yield_per=BATCH)
    )
    for entry, ref, sequence in session.execute(query):
        yield [
            entry.id,
            ref,
            entry.plan_id,
            sequence,
            *_coded(entry.kind),
            dollars(entry.amount_cents),
            entry.reference,
            entry.created_at,
        ]


def promise_rows(session: Session) -> Iterator[list[Cell]]:
    yield [
        "promise_id",
        "account_ref",
        "amount",
        "due_date",
        "status",
        "status_code",
        "made_at",
        "note",
    ]
    query = (
        select(Promise, Account.account_ref)
        .join(Account, Account.id == Promise.account_id)
        .order_by(Promise.id)
        .execution_options(yield_per=BATCH)
    )
    for promise, ref in session.execute(query):
        yield [
            promise.id,
            ref,
            dollars(promise.amount_cents),
            promise.due_date,
            *_coded(promise.status),
            promise.created_at,
            promise.note,
        ]


def escalation_rows(session: Session) -> Iterator[list[Cell]]:
    yield [
        "escalation_id",
        "account_ref",
        "conversation_id",
        "reason",
        "reason_code",
        "detail",
        "status",
        "status_code",
        "opened_at",
        "resolved_at",
        "outcome",
        "outcome_code",
        "held_by",
        "resolved_by",
        "summary",
    ]
    holder, resolver = aliased(User), aliased(User)
    query = (
        select(Escalation, Account.account_ref, holder.username, resolver.username)
        .outerjoin(Account, Account.id == Escalation.account_id)
        .outerjoin(holder, holder.id == Escalation.assigned_user_id)
        .outerjoin(resolver, resolver.id == Escalation.resolved_by_user_id)
        .order_by(Escalation.id)
        .execution_options(yield_per=BATCH)
    )
    for escalation, ref, held_by, resolved_by in session.execute(query):
        yield [
            escalation.id,
            ref,
            escalation.conversation_id,
            *_coded(escalation.reason),
            label(escalation.sub_reason) if escalation.sub_reason else None,
            *_coded(escalation.status),
            escalation.created_at,
            escalation.resolved_at,
            *_coded(escalation.outcome),
            held_by,
            resolved_by,
            escalation.summary,
        ]


EXPORTS: Final[dict[str, Callable[[Session], Iterator[list[Cell]]]]] = {
    "accounts": account_rows,
    "plans": plan_rows,
    "payments": payment_rows,
    "promises": promise_rows,
    "escalations": escalation_rows,
}


def transcript_rows(session: Session, conversation: Conversation) -> Iterator[list[Cell]]:
    """Every stored message of the conversation (already redacted, SPEC §9), in order."""
    yield ["message_id", "sent_at", "sender", "sender_code", "text", "intent", "confidence"]
    query = (
        select(Message)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.id)
        .execution_options(yield_per=BATCH)
    )
    for message in session.scalars(query):
        yield [
            message.id,
            message.created_at,
            *_coded(message.sender),
            message.text,
            message.intent,
            None if message.confidence is None else Decimal(f"{message.confidence:.2f}"),
        ]


def transcript_text(session: Session, conversation: Conversation) -> Iterator[str]:
    """The transcript as plain text a person can read, print or attach to a dispute file."""
    account = session.get(Account, conversation.account_id) if conversation.account_id else None
    yield f"Conversation {conversation.id}\n"
    yield f"Channel: {label(conversation.channel)}\n"
    yield f"Account: {account.account_ref if account else 'not verified'}\n"
    yield f"Started: {conversation.created_at.isoformat()}\n"
    yield f"Status: {label(conversation.status)}\n"
    yield f"Exported: {utcnow().isoformat()}\n\n"
    query = (
        select(Message)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.id)
        .execution_options(yield_per=BATCH)
    )
    for message in session.scalars(query):
        stamp = message.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        text = message.text.replace("\r\n", "\n").replace("\n", "\n    ")
        yield f"[{stamp}] {label(message.sender)}: {text}\n"
