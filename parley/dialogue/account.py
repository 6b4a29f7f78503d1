"""What a verified debtor can ask about their account (SPEC §5, §7): the balance and why, and
self-service once something is agreed: the payment link again, the next payment, what has been
paid, the payment dates, and moving a due date inside the policy.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from parley.balance import explain
from parley.core.dates import long_date
from parley.core.money import format_cents
from parley.dialogue import texts
from parley.dialogue.turn import Turn
from parley.negotiation.agreements import live_plan, request_payment_link
from parley.negotiation.policies import account_policy
from parley.negotiation.terms import parse_offer
from parley.payments.links import first_unpaid
from parley.records.audit import Kind, record
from parley.tables import (
    Account,
    Installment,
    InstallmentStatus,
    LedgerEntry,
    NegotiationEvent,
    NegotiationEventKind,
    PaymentPlan,
    Promise,
    PromiseStatus,
)
from parley.tables import Actor as NegotiationActor

_IN_SOME_TIME = re.compile(r"\bin\s+(?:a|an|one|two|three|four|\d+)\s+(day|week|month)s?\b", re.I)
_SMALL_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4}
_SCHEDULE_WORDS = re.compile(r"\b(dates|schedule|remind|all (?:the|my) payments|when are)\b", re.I)


def balance(turn: Turn, account: Account) -> None:
    """The balance, then the next step asked for: a debtor who learns what they owe is asked
    whether they want to see how to pay it (never while collection is paused, or with a plan)."""
    turn.disclose()
    if account.balance_cents < 1:
        turn.say(explain.balance_text(account))
        return
    asks = (
        not account.collection_paused
        and account.balance_cents > 0
        and turn.state.expect is None
        and live_plan(turn.session, account) is None
    )
    if not asks:
        turn.say(explain.balance_text(account), texts.balance_buttons(account.collection_paused))
        return
    turn.say(explain.balance_text(account))
    turn.say(texts.SEE_OPTIONS, [texts.PAYMENT_OPTIONS, texts.WHY, texts.HUMAN])
    turn.state.expect = "options"


def details(turn: Turn, account: Account) -> None:
    turn.disclose()
    turn.say(explain.details_text(account))
    turn.say(explain.itemization_text(account))
    buttons = [texts.DISPUTE, texts.HUMAN]
    if not account.collection_paused:
        buttons.insert(0, texts.PAYMENT_OPTIONS)
    turn.say(explain.DISPUTE_RIGHT, buttons)


def _unpaid(plan: PaymentPlan) -> list[Installment]:
    return [
        i
        for i in plan.installments
        if i.status not in (InstallmentStatus.PAID, InstallmentStatus.CANCELLED)
    ]


def open_promise(turn: Turn, account: Account) -> Promise | None:
    return turn.session.scalars(
        select(Promise)
        .where(Promise.account_id == account.id, Promise.status == PromiseStatus.OPEN)
        .order_by(Promise.id.desc())
        .limit(1)
    ).first()


def no_plan(turn: Turn, account: Account) -> None:
    promise = open_promise(turn, account)
    if promise is not None:
        turn.say(
            texts.PROMISE_OPEN.format(
                amount=format_cents(promise.amount_cents), day=long_date(promise.due_date)
            )
        )
    if account.collection_paused:
        turn.say(texts.COLLECTION_PAUSED, [texts.HUMAN])
        return
    turn.say(texts.NO_PLAN, [texts.PAYMENT_OPTIONS, texts.HUMAN])


def payment_link(turn: Turn, account: Account) -> None:
    """Send the secure link again (a lost tab, a message that did not come through)."""
    plan = live_plan(turn.session, account)
    if plan is None:
        no_plan(turn, account)
        return
    if first_unpaid(plan) is None:
        turn.say(texts.NO_LINK)
        return
    text = request_payment_link(turn.session, turn.settings, plan)
    if text is None:
        turn.say(texts.AGREED_NEXT, [texts.HUMAN])
        return
    turn.say(texts.LINK_AGAIN)
    turn.say(text)


def _still_due(turn: Turn, account: Account) -> tuple[PaymentPlan, list[Installment]] | None:
    """The agreed plan and its unpaid installments; when there is none, the debtor is told."""
    plan = live_plan(turn.session, account)
    if plan is None:
        no_plan(turn, account)
        return None
    unpaid = _unpaid(plan)
    if not unpaid:
        turn.say(texts.NO_NEXT_PAYMENT)
        return None
    return plan, unpaid


def next_payment(turn: Turn, account: Account) -> None:
    due = _still_due(turn, account)
    if due is None:
        return
    plan, unpaid = due
    if _SCHEDULE_WORDS.search(turn.heard.text):
        lines = [
            f"{long_date(i.due_date)}: {format_cents(i.amount_cents - (i.paid_cents or 0))}"
            for i in unpaid
        ]
        turn.say(texts.SCHEDULE + "\n" + "\n".join(lines))
        return
    first = unpaid[0]
    turn.say(
        texts.NEXT_PAYMENT.format(
            amount=format_cents(first.amount_cents - (first.paid_cents or 0)),
            day=long_date(first.due_date),
        )
    )


def payments_made(turn: Turn, account: Account) -> None:
    entries = list(
        turn.session.scalars(
            select(LedgerEntry).where(LedgerEntry.account_id == account.id).order_by(LedgerEntry.id)
        )
    )
    credits = account.payments_credits_cents
    if not entries and not credits:
        turn.say(texts.PAID_NOTHING)
        return
    total = sum(e.amount_cents for e in entries) + credits
    lines = []
    if credits:
        lines.append(
            f"Before {long_date(account.itemization_date)} and since: payments and credits "
            f"of {format_cents(credits)}"
        )
    lines += [f"{long_date(e.created_at.date())}: {format_cents(e.amount_cents)}" for e in entries]
    turn.say(texts.PAID_SO_FAR.format(total=format_cents(total)) + "\n" + "\n".join(lines))
    balance(turn, account)


# --- moving a due date ---------------------------------------------------------------------


def _latest_allowed(turn: Turn, account: Account, plan: PaymentPlan, item: Installment) -> date:
    """The latest date the next payment may move to: within the policy's first-payment window
    from today, before the payment after it, and inside the plan's length."""
    _name, policy = account_policy(turn.settings.policies_path, account.policy)
    latest = turn.today + timedelta(days=policy.first_payment_within_days)
    following = [i.due_date for i in plan.installments if i.sequence > item.sequence]
    if following:
        latest = min(latest, min(following) - timedelta(days=1))
    first = min(i.due_date for i in plan.installments)
    return min(latest, first + timedelta(days=policy.max_plan_days))


def wanted_date(turn: Turn) -> date | None:
    """The date the debtor wants a payment moved to: a date ("the 20th", "next Friday") or a
    delay ("in 2 weeks")."""
    offer = parse_offer(turn.heard.text, turn.today)
    if offer is not None and offer.first_date is not None:
        return offer.first_date
    match = _IN_SOME_TIME.search(turn.heard.text)
    if match is None:
        return None
    words = match[0].split()
    count = _SMALL_NUMBERS.get(words[1].lower()) or int(words[1])
    unit = match[1].lower()
    days = {"day": 1, "week": 7}.get(unit)
    if days is not None:
        return turn.today + timedelta(days=count * days)
    from parley.negotiation.schedules import add_months

    return add_months(turn.today, count)


def change_due_date(turn: Turn, account: Account) -> None:
    due = _still_due(turn, account)
    if due is None:
        return
    plan, unpaid = due
    item = unpaid[0]
    wanted = wanted_date(turn)
    if wanted is None:
        turn.state.expect = "due_date"
        turn.say(
            texts.DUE_DATE_ASK.format(
                amount=format_cents(item.amount_cents), day=long_date(item.due_date)
            )
        )
        return
    propose_due_date(turn, account, plan, item, wanted)


def propose_due_date(
    turn: Turn, account: Account, plan: PaymentPlan, item: Installment, wanted: date
) -> None:
    latest = _latest_allowed(turn, account, plan, item)
    new = min(max(wanted, turn.today), latest)
    lead = ""
    if new != wanted:
        lead = texts.DUE_DATE_LIMIT.format(latest=long_date(latest)) + " "
    turn.state.expect = "due_date_confirm"
    turn.state.pending = {"installment_id": item.id, "new": new.isoformat()}
    turn.say(
        lead
        + texts.DUE_DATE_SUMMARY.format(
            amount=format_cents(item.amount_cents), old=long_date(item.due_date), new=long_date(new)
        )
        + " "
        + texts.DUE_DATE_CONFIRM,
        [texts.YES, texts.NO],
    )


def due_date_answer(turn: Turn, account: Account) -> bool:
    """The debtor's answer while a due-date change is being asked about."""
    state = turn.state
    heard = turn.heard
    plan = live_plan(turn.session, account)
    if plan is None:
        state.expect, state.pending = None, {}
        return False
    if state.expect == "due_date":
        wanted = wanted_date(turn)
        item = first_unpaid(plan)
        if wanted is not None and item is not None:
            propose_due_date(turn, account, plan, item, wanted)
            return True
        if heard.denies():
            turn.say(texts.OK + " " + texts.ANYTHING_ELSE)
            state.expect = "more"
            return True
        if heard.intent in ("inform", "nlu_fallback", "change_due_date") or not heard.sure:
            turn.say(texts.DUE_DATE_FORMAT)
            return True
        return False
    # due_date_confirm
    if heard.affirms():
        item = turn.session.get(Installment, int(state.pending.get("installment_id", 0)))
        new = date.fromisoformat(str(state.pending.get("new")))
        state.expect, state.pending = None, {}
        if item is None or item.plan_id != plan.id:
            return False
        old = item.due_date
        item.due_date = new
        turn.session.add(
            NegotiationEvent(
                account_id=account.id,
                conversation_id=turn.conversation.id,
                plan_id=plan.id,
                kind=NegotiationEventKind.RESCHEDULE,
                actor=NegotiationActor.DEBTOR,
                terms={"installment_id": item.id, "from": old.isoformat(), "to": new.isoformat()},
                policy_name=plan.policy_name,
                policy_values=plan.policy_values,
                note=heard.text[:500] or None,
            )
        )
        record(
            turn.session,
            Kind.PLAN_RESCHEDULED,
            conversation_id=turn.conversation.id,
            account_id=account.id,
            plan_id=plan.id,
            installment_id=item.id,
            old=old.isoformat(),
            new=new.isoformat(),
        )
        turn.say(
            texts.DUE_DATE_DONE.format(amount=format_cents(item.amount_cents), new=long_date(new))
        )
        return True
    if heard.denies():
        state.expect, state.pending = "more", {}
        turn.say(texts.OK + " " + texts.ANYTHING_ELSE)
        return True
    return False
