"""The contact rules of SPEC §14, checked when a message is sent, not only when planned.

`check` answers one question for one cadence step on one channel at one moment: may it go now,
later (and when), or never (and why). The order is the order of precedence, so the recorded
reason is the strongest one: an opt-out outranks quiet hours.

- opt-out on the channel (`is_opted_out`: SMS STOP lives in `phone_opt_outs`; email registers
  its own check), and a cease-communication request made on any channel (the widget's "stop
  contacting me" opens a `cease_communication` escalation: it stops outreach everywhere);
- the account paid (balance <= 0) for collection steps;
- collection paused (`Account.collection_paused`, set by a dispute, bankruptcy, attorney or
  cease escalation) for collection steps and the agreement; a supervisor's outreach pause for
  every step;
- quiet hours (08:00-21:00) in every candidate zone: rescheduled to the next allowed minute;
- the rolling frequency caps (config/contact-rules.yml): rescheduled to when the oldest counted
  message leaves the window. The written agreement (`UNCOUNTED_STEPS`) is neither held by the
  caps nor counted by them: it answers what the debtor agreed a moment ago, like a receipt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.email import optout as email_optout
from parley.outreach import quiet_hours
from parley.outreach.config import (
    COLLECTION_STEPS,
    PAUSED_STEPS,
    UNCOUNTED_STEPS,
    ContactRules,
)
from parley.outreach.send import debtor_zones
from parley.sms import optout
from parley.tables import (
    Account,
    Escalation,
    EscalationReason,
    OutreachEvent,
    OutreachOutcome,
    OutreachPause,
)

OptOutCheck = Callable[[Session, str], bool]
_OPT_OUT_CHECKS: dict[str, OptOutCheck] = {
    "sms": optout.is_opted_out,
    "email": email_optout.is_opted_out,
}


def is_opted_out(session: Session, channel: str, address: str) -> bool:
    """Whether `address` revoked consent on `channel`. A channel with no registered list is
    treated as opted out: outreach never guesses that it may write."""
    check = _OPT_OUT_CHECKS.get(channel)
    return True if check is None else check(session, address)


def cease_requested(session: Session, account_id: int) -> bool:
    """A "stop contacting me" on any channel (SPEC §10 cease_communication): no outreach."""
    return (
        session.scalar(
            select(Escalation.id)
            .where(
                Escalation.account_id == account_id,
                Escalation.reason == EscalationReason.CEASE_COMMUNICATION,
            )
            .limit(1)
        )
        is not None
    )


def outreach_paused(session: Session, account_id: int) -> bool:
    return session.get(OutreachPause, account_id) is not None


@dataclass(frozen=True)
class Decision:
    """`allowed`; or not, with `reason`, and `retry_at` when it may go later."""

    allowed: bool
    reason: str | None = None
    retry_at: datetime | None = None

    @property
    def rescheduled(self) -> bool:
        return self.retry_at is not None


ALLOW = Decision(True)


def sent_in_window(
    session: Session, account_id: int, since: datetime, channel: str | None = None
) -> list[datetime]:
    """When the initiated messages since `since` went out (oldest first), one channel or all."""
    query = select(OutreachEvent.created_at).where(
        OutreachEvent.account_id == account_id,
        OutreachEvent.outcome == OutreachOutcome.SENT,
        OutreachEvent.initiated.is_(True),
        OutreachEvent.created_at > since,
    )
    if channel is not None:
        query = query.where(OutreachEvent.channel == channel)
    return list(session.scalars(query.order_by(OutreachEvent.created_at)))


def frequency(
    session: Session, rules: ContactRules, account: Account, channel: str, now: datetime
) -> Decision:
    """The rolling caps for the account's state; when over, the moment a slot frees up."""
    window = timedelta(days=rules.frequency.window_days)
    caps = rules.frequency.caps_for(account.state)
    since = now - window
    retry: datetime | None = None
    reason: str | None = None
    for key, cap in sorted(caps.items()):
        if key not in ("total", channel):
            continue
        sent = sent_in_window(session, account.id, since, None if key == "total" else channel)
        if len(sent) >= cap:
            # The (len - cap + 1)-th oldest must leave the window before one more may go.
            frees = (sent[len(sent) - cap] if cap > 0 else now) + window
            if cap == 0:
                return Decision(False, f"frequency_cap_{key}")
            if retry is None or frees > retry:
                retry, reason = frees + timedelta(seconds=1), f"frequency_cap_{key}"
    if retry is not None:
        return Decision(False, reason, retry)
    return ALLOW


def check(
    session: Session,
    rules: ContactRules,
    account: Account,
    step: str,
    channel: str,
    address: str,
    now: datetime,
) -> Decision:
    """Whether this step may go to `address` on `channel` at `now` (see the module docstring)."""
    if is_opted_out(session, channel, address):
        return Decision(False, "opted_out")
    if cease_requested(session, account.id):
        return Decision(False, "cease_requested")
    if step in COLLECTION_STEPS and account.balance_cents <= 0:
        return Decision(False, "account_paid")
    if step in PAUSED_STEPS and account.collection_paused:
        return Decision(False, "collection_paused")
    if outreach_paused(session, account.id):
        return Decision(False, "outreach_paused")
    zones = debtor_zones(session, account.phone or "", account.id)
    if not quiet_hours.is_allowed(now, zones):
        try:
            return Decision(False, "quiet_hours", quiet_hours.next_allowed(now, zones))
        except quiet_hours.NoAllowedTime:
            return Decision(False, "no_convenient_time")
    if step in UNCOUNTED_STEPS:
        return ALLOW
    return frequency(session, rules, account, channel, now)
