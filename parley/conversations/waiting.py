"""The debtor is never left in silence while a person is due to answer (SPEC §7).

Each message to a queued or human-held conversation gets a short note saying a person will
answer and when: within the team's hours, about how long the queue takes today (the median
wait of recently claimed escalations); outside them, when the team is back. The note is sent at
most every `PARLEY_WAITING_REPLY_MINUTES`, so a debtor typing several lines gets one, not five.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.core.clock import zone_info
from parley.core.errors import ConfigError
from parley.records.audit import Kind
from parley.tables import AuditEvent, Conversation, Escalation

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun)(?:-(mon|tue|wed|thu|fri|sat|sun))?\s+"
    r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$"
)
# Claims looked at to estimate the queue's wait, and what is said when there are none yet.
RECENT_CLAIMS = 20
DEFAULT_WAIT_MINUTES = 30


@dataclass(frozen=True)
class TeamHours:
    """Opening hours per weekday (0 = Monday) in one zone."""

    spans: dict[int, tuple[time, time]]
    zone: str

    @classmethod
    def parse(cls, text: str, zone: str) -> TeamHours:
        """ "mon-fri 08:00-20:00; sat 09:00-13:00" in `zone`; ConfigError when malformed."""
        if zone_info(zone) is None:
            raise ConfigError(f"PARLEY_TEAM_TIMEZONE: {zone!r} is not an IANA time zone")
        spans: dict[int, tuple[time, time]] = {}
        for part in (p.strip().lower() for p in text.split(";") if p.strip()):
            match = _SPAN.match(part)
            if match is None:
                raise ConfigError(f"PARLEY_TEAM_HOURS: {part!r} is not like 'mon-fri 08:00-20:00'")
            first, last = _DAYS.index(match[1]), _DAYS.index(match[2] or match[1])
            opens, closes = time(int(match[3]), int(match[4])), time(int(match[5]), int(match[6]))
            if closes <= opens or last < first:
                raise ConfigError(f"PARLEY_TEAM_HOURS: {part!r} closes before it opens")
            for day in range(first, last + 1):
                spans[day] = (opens, closes)
        return cls(spans, zone)

    def open_at(self, moment: datetime) -> bool:
        local = moment.astimezone(zone_info(self.zone))
        span = self.spans.get(local.weekday())
        return span is not None and span[0] <= local.time() < span[1]

    def next_opening(self, moment: datetime) -> datetime | None:
        local = moment.astimezone(zone_info(self.zone))
        for ahead in range(8):
            day = local.date() + timedelta(days=ahead)
            span = self.spans.get(day.weekday())
            if span is None:
                continue
            opening = datetime.combine(day, span[0], tzinfo=local.tzinfo)
            if opening > local:
                return opening
        return None


def typical_wait_minutes(session: Session) -> int:
    """The median minutes from escalation to a person's claim, over the latest claims."""
    claims = session.execute(
        select(AuditEvent.created_at, Escalation.created_at)
        .join(Escalation, Escalation.conversation_id == AuditEvent.conversation_id)
        .where(
            AuditEvent.kind == Kind.CONSOLE_CLAIM, AuditEvent.created_at >= Escalation.created_at
        )
        .order_by(AuditEvent.id.desc())
        .limit(RECENT_CLAIMS)
    ).all()
    waits = [(claimed - opened).total_seconds() / 60 for claimed, opened in claims]
    if not waits:
        return DEFAULT_WAIT_MINUTES
    return max(1, int(round(statistics.median(waits))))


def _when(minutes: int) -> str:
    if minutes < 60:
        return f"usually within about {minutes} minutes"
    hours = round(minutes / 60)
    return f"usually within about {hours} hour{'s' if hours != 1 else ''}"


def waiting_note(
    session: Session,
    conversation: Conversation,
    hours: TeamHours,
    every: timedelta,
    now: datetime,
) -> str | None:
    """The note for this message, or None when one was sent less than `every` ago."""
    if conversation.waiting_reply_at is not None and now - conversation.waiting_reply_at < every:
        return None
    conversation.waiting_reply_at = now
    if hours.open_at(now):
        return f"Thanks, a team member will reply here, {_when(typical_wait_minutes(session))}."
    opening = hours.next_opening(now)
    if opening is None:
        return "Thanks, a team member will reply here as soon as they can."
    return (
        "Thanks, a team member will reply here when the team is back: "
        f"{opening:%A} at {opening:%-I:%M %p} {opening.tzname()}."
    )
