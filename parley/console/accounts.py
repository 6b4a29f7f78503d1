"""Accounts in the console (SPEC §15): search, the account page, re-sending a payment link.

Search matches the creditor's reference, the debtor's name, phone or e-mail, and pages through
the matches ordered by the priority score (parley.console.priority), computed by the database
for the matching accounts only. The account page gathers everything a person needs to answer
the debtor or the creditor in one place; it is read-only except for the actions below, each
checked against the actor's role here (the page hides what a role may not do, the server
refuses it anyway) and audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from parley.console.priority import LegalReview, Score, legal_review, score_from_row, scored
from parley.console.users import LoginSession, require
from parley.core.clock import debtor_zone, local_date, utcnow
from parley.core.errors import Conflict, InvalidRequest, NotFound
from parley.core.money import format_cents, parse_money
from parley.core.paging import clamp_page
from parley.core.settings import Settings
from parley.negotiation import dialogue as promise_dialogue
from parley.negotiation.policies import account_policy
from parley.outreach import control as outreach_control
from parley.outreach import rules as outreach_rules
from parley.outreach.send import send_sms
from parley.payments import links
from parley.records.audit import Kind, record, user_actor
from parley.sms import optout
from parley.sms.phones import normalize_phone
from parley.tables import (
    LIVE_PLAN,
    Account,
    AuditEvent,
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Escalation,
    Job,
    LedgerEntry,
    Message,
    OutboundKind,
    OutboundMessage,
    OutreachEvent,
    PaymentLink,
    PaymentPlan,
    Promise,
    Sender,
)
from parley.verification.factors import last_name_key

PAGE_SIZE: Final = 25
MAX_QUERY: Final = 100
AUDIT_LIMIT: Final = 200
# What the account page says after a re-send (the redirect carries the key, never the text).
NOTICES: Final[dict[str, str]] = {
    "link_sms_sent": "Payment link sent by SMS.",
    "link_sms_outbox": "Payment link put in the local SMS outbox (no Twilio configured).",
    "link_sms_scheduled": "Payment link held for the debtor's next convenient hour, then sent.",
    "link_sms_blocked": "Payment link created but the SMS was blocked (see Outreach).",
    "link_sms_failed": "Payment link created but the SMS could not be sent (see Outreach).",
    "link_web": "Payment link sent to the debtor's web chat.",
    "legal_review": "Account moved to legal review.",
    "legal_review_withdrawn": "Account taken out of legal review.",
    "outreach_paused": "Outreach paused: Parley starts no message to this account until resumed.",
    "outreach_already_paused": "Outreach was already paused.",
    "outreach_resumed": "Outreach resumed: steps that fell due meanwhile are skipped.",
    "outreach_not_paused": "Outreach was not paused.",
    "promise_recorded": "Promise recorded: it is checked on its date and followed up if broken.",
}


@dataclass(frozen=True)
class Hit:
    account: Account
    score: Score


@dataclass(frozen=True)
class SearchPage:
    query: str
    hits: list[Hit]
    total: int
    page: int
    pages: int


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _after(prefix: str) -> str:
    """The least string greater than every string starting with `prefix` (its last character
    moved up one), so `prefix <= x < _after(prefix)` is a prefix test an index can answer."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    """`column` starts with `prefix`: a range (what makes the index usable, on SQLite and
    PostgreSQL alike) and the LIKE that is the exact test (a locale's collation may order a
    range differently)."""
    return and_(
        column >= prefix,
        column < _after(prefix),
        column.like(f"{_escape_like(prefix)}%", escape="\\"),
    )


def match_clause(query: str) -> ColumnElement[bool] | None:
    """The accounts a search box text means: reference (exact or prefix), last name (by its
    comparison key, so "obrien" finds O'Brien), first name or "first last" (prefix, any case),
    e-mail (contains, any case, when the text has an @), phone (the digits typed, as the end of
    the stored E.164 number). None for a blank box: every account.

    Every branch but the e-mail and partial-phone ones is a range on an indexed column or
    expression (the reference's unique index, `last_name_key`'s, `lower(first_name)`'s), so a
    search reads its matches, not the portfolio (1,000,000 accounts: docs/console.md)."""
    text = " ".join(query.split())[:MAX_QUERY]
    if not text:
        return None
    lowered = text.lower()
    clauses: list[ColumnElement[bool]] = [
        _starts_with(Account.account_ref, variant) for variant in {text, text.upper(), lowered}
    ]
    first_name = func.lower(Account.first_name)
    clauses.append(_starts_with(first_name, lowered))
    key = last_name_key(text)
    if key:
        clauses.append(_starts_with(Account.last_name_key, key))
    words = lowered.split(" ")
    rest_key = last_name_key(" ".join(words[1:]))
    if len(words) > 1 and rest_key:
        clauses.append(
            and_(
                first_name == words[0],
                _starts_with(Account.last_name_key, rest_key),
            )
        )
    if "@" in text:
        clauses.append(func.lower(Account.email).like(f"%{_escape_like(lowered)}%", escape="\\"))
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 4 and re.fullmatch(r"[\d\s().+-]+", text):
        phone = normalize_phone(text) if len(digits) >= 10 else None
        clauses.append(Account.phone == phone if phone else Account.phone.like(f"%{digits}"))
    return or_(*clauses)


def search(session: Session, query: str, page: int = 1, now: datetime | None = None) -> SearchPage:
    """One page of the accounts matching `query`, highest priority score first (accounts with
    nothing left to pay last)."""
    now = now or utcnow()
    where = match_clause(query)
    total = int(
        session.scalar(
            select(func.count(Account.id)).where(where if where is not None else Account.id > 0)
        )
        or 0
    )
    page, pages = clamp_page(total, page, PAGE_SIZE)
    sub = scored(now, where).subquery("scored")
    rows = session.execute(
        select(Account, sub)
        .join(sub, sub.c.account_id == Account.id)
        .order_by(
            # Accounts with nothing left to pay come last, whatever their history.
            case((sub.c.balance_cents > 0, 0), else_=1),
            sub.c.total.desc(),
            sub.c.balance_cents.desc(),
            Account.id,
        )
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    hits = [Hit(row[0], score_from_row(row, now)) for row in rows]
    return SearchPage(" ".join(query.split())[:MAX_QUERY], hits, total, page, pages)


@dataclass(frozen=True)
class AccountPage:
    """Everything the account page shows (never verification hashes or the birth date)."""

    account: Account
    score: Score
    legal: LegalReview
    ledger: list[LedgerEntry]
    plans: list[PaymentPlan]
    links: list[PaymentLink]
    promises: list[Promise]
    conversations: list[Conversation]
    escalations: list[Escalation]
    outreach: list[OutboundMessage]
    audit: list[AuditEvent]
    sms_opted_out: bool
    # The cadence (SPEC §14): steps scheduled, what each step did with the rule that blocked
    # or held it, and whether a supervisor paused it.
    cadence_scheduled: list[Job]
    cadence_history: list[OutreachEvent]
    outreach_paused: bool

    @property
    def resendable(self) -> list[PaymentPlan]:
        """Plans in force with something left to pay: their link can be sent again."""
        return [
            plan
            for plan in self.plans
            if plan.status in LIVE_PLAN and links.first_unpaid(plan) is not None
        ]


def get_account(session: Session, account_ref: str) -> Account:
    account = session.scalars(select(Account).where(Account.account_ref == account_ref)).first()
    if account is None:
        raise NotFound("account_not_found", "No such account.")
    return account


def account_page(session: Session, account_ref: str, now: datetime | None = None) -> AccountPage:
    now = now or utcnow()
    account = get_account(session, account_ref)
    row = session.execute(scored(now, Account.id == account.id)).one()
    return AccountPage(
        account=account,
        score=score_from_row(row, now),
        legal=legal_review(session, account.id),
        ledger=list(
            session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.account_id == account.id)
                .order_by(LedgerEntry.created_at, LedgerEntry.id)
            )
        ),
        plans=list(
            session.scalars(
                select(PaymentPlan)
                .where(PaymentPlan.account_id == account.id)
                .options(selectinload(PaymentPlan.installments))
                .order_by(PaymentPlan.id.desc())
            )
        ),
        links=list(
            session.scalars(
                select(PaymentLink)
                .join(PaymentPlan, PaymentPlan.id == PaymentLink.plan_id)
                .where(PaymentPlan.account_id == account.id)
                .order_by(PaymentLink.id.desc())
            )
        ),
        promises=list(
            session.scalars(
                select(Promise).where(Promise.account_id == account.id).order_by(Promise.id.desc())
            )
        ),
        conversations=list(
            session.scalars(
                select(Conversation)
                .where(Conversation.account_id == account.id)
                .order_by(Conversation.created_at.desc())
            )
        ),
        escalations=list(
            session.scalars(
                select(Escalation)
                .where(Escalation.account_id == account.id)
                .order_by(Escalation.id.desc())
            )
        ),
        outreach=list(
            session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.account_id == account.id)
                .order_by(OutboundMessage.id.desc())
            )
        ),
        audit=list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.account_id == account.id)
                .order_by(AuditEvent.id.desc())
                .limit(AUDIT_LIMIT)
            )
        ),
        sms_opted_out=bool(account.phone and optout.is_opted_out(session, account.phone)),
        cadence_scheduled=outreach_control.scheduled(session, account.id),
        cadence_history=outreach_control.history(session, account.id, limit=AUDIT_LIMIT),
        outreach_paused=outreach_rules.outreach_paused(session, account.id),
    )


def set_outreach_paused(
    session: Session, actor: LoginSession, account_ref: str, *, paused: bool
) -> str:
    """Pause or resume the account's cadence (supervisors); returns the `NOTICES` key."""
    require(actor, "pause_outreach")
    account = get_account(session, account_ref)
    by = user_actor(actor.username)
    if paused:
        changed = outreach_control.pause_outreach(session, account, by)
        return "outreach_paused" if changed else "outreach_already_paused"
    changed = outreach_control.resume_outreach(session, account, by)
    return "outreach_resumed" if changed else "outreach_not_paused"


def resend_link(
    session: Session, settings: Settings, actor: LoginSession, account_ref: str, plan_id: int
) -> str:
    """Send a plan's payment link again, as a fresh link (a Checkout Session expires): by SMS
    when the account has a phone (opt-out, the collection pause and quiet hours apply, as for
    every SMS), else into the account's open web chat. Returns the `NOTICES` key of what
    happened (the page says it after the redirect)."""
    require(actor, "resend_link")
    account = get_account(session, account_ref)
    plan = session.get(PaymentPlan, plan_id)
    if plan is None or plan.account_id != account.id:
        raise NotFound("plan_not_found", "No such plan on this account.")
    if plan.status not in LIVE_PLAN or links.first_unpaid(plan) is None:
        raise Conflict("nothing_to_pay", "This plan has nothing left to pay.")
    if account.collection_paused:
        raise Conflict(
            "collection_paused",
            "Collection is paused on this account: no payment link may be sent.",
        )
    conversation = None
    if not account.phone:
        conversation = session.scalars(
            select(Conversation)
            .where(
                Conversation.account_id == account.id,
                Conversation.channel == Channel.WEB,
                Conversation.status != ConversationStatus.CLOSED,
            )
            .order_by(Conversation.created_at.desc())
            .limit(1)
        ).first()
        if conversation is None:
            raise InvalidRequest(
                "no_channel", "The account has no phone and no open web chat to send it to."
            )
    link = links.create_link(session, settings, plan)
    text = links.link_text(link, plan)
    outbound_error: str | None = None
    if conversation is None:
        assert account.phone is not None
        outbound = send_sms(
            session,
            settings,
            account.phone,
            text,
            OutboundKind.COLLECTION,
            account_id=account.id,
        )
        outbound_error = outbound.error
        how = f"sms:{outbound.status}"
        notice = f"link_sms_{outbound.status}"
    else:
        session.add(
            Message(
                conversation_id=conversation.id,
                direction=Direction.OUTBOUND,
                sender=Sender.AGENT,
                text=text,
            )
        )
        how = notice = "link_web"
    record(
        session,
        Kind.PAYMENT_LINK_RESENT,
        actor=user_actor(actor.username),
        account_id=account.id,
        conversation_id=conversation.id if conversation else None,
        plan_id=plan.id,
        link_id=link.id,
        delivery=how,
        blocked_by=outbound_error,
    )
    return notice if notice in NOTICES else "link_sms_failed"


def record_promise(
    session: Session,
    settings: Settings,
    actor: LoginSession,
    account_ref: str,
    *,
    amount: str,
    due: str,
    note: str = "",
    now: datetime | None = None,
) -> str:
    """A promise to pay the debtor made to a person (a call, a held chat), recorded as the
    chat records one (SPEC §6, §14): part or all of the balance, on a day from today (the
    debtor's) to the policy's first-payment limit; not while collection is paused. Every
    refusal says what to change and records nothing. Returns the `NOTICES` key."""
    require(actor, "record_promise")
    account = get_account(session, account_ref)
    if account.collection_paused:
        raise Conflict(
            "collection_paused", "Collection is paused on this account: no promise can be taken."
        )
    if account.balance_cents <= 0:
        raise Conflict("nothing_to_pay", "This account has nothing left to pay.")
    try:
        amount_cents = parse_money(amount)
    except ValueError as exc:
        raise InvalidRequest("bad_amount", f"The amount is not valid: {exc}.") from exc
    if not 0 < amount_cents <= account.balance_cents:
        raise InvalidRequest(
            "bad_amount",
            f"The amount must be more than $0.00 and at most the balance, "
            f"{format_cents(account.balance_cents)}.",
        )
    try:
        day = date.fromisoformat(due.strip())
    except ValueError as exc:
        raise InvalidRequest("bad_date", "The date must be a day like 2026-03-15.") from exc
    _name, policy = account_policy(settings.policies_path, account.policy)
    moment = now or utcnow()
    today = local_date(moment, debtor_zone(account.zone_names, moment))
    latest = today + timedelta(days=policy.first_payment_within_days)
    if not today <= day <= latest:
        raise InvalidRequest(
            "bad_date",
            f"The date must be from {today.isoformat()} (today where the debtor is) to "
            f"{latest.isoformat()} (the policy's first-payment limit).",
        )
    said = " ".join(note.split())[:500]
    promise_dialogue.record_promise(
        session,
        settings,
        None,
        account,
        amount_cents,
        day,
        said,
        recorded_by=user_actor(actor.username),
    )
    return "promise_recorded"
