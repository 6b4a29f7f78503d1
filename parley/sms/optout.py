"""SMS opt-out state per phone number (SPEC §7: TCPA, CTIA, the FCC 2024 revocation order).

One row per number in `phone_opt_outs`; every path that sends an SMS asks `is_opted_out` first,
so an opt-out recorded anywhere (keyword, plain-language request, wrong number, carrier refusal)
stops every later message. Changes are audited.
"""

from __future__ import annotations

import re
from typing import Literal

from sqlalchemy.orm import Session

from parley.core.clock import utcnow
from parley.core.db import by_key
from parley.records.audit import Kind, record
from parley.tables import OptOutSource, PhoneOptOut

Keyword = Literal["stop", "start", "help"]

# Whole-message keywords, any case. Spacing and hyphens inside OPT OUT are forgiven and trailing
# punctuation ("Stop.", "STOP!") is ignored: honouring a few extra spellings of an opt-out is
# always safer than missing one.
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPT OUT", "OPTOUT"}
)
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
_TRAILING = re.compile(r"[\s.!]+$")
_INNER = re.compile(r"[\s\-_]+")


def keyword(text: str) -> Keyword | None:
    """The SMS keyword the whole message is, or None for anything else."""
    word = _INNER.sub(" ", _TRAILING.sub("", text.strip())).upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return None


def is_opted_out(session: Session, phone: str) -> bool:
    row = by_key(session, PhoneOptOut, phone)
    return row is not None and row.opted_out


def opt_out(
    session: Session,
    phone: str,
    source: OptOutSource,
    detail: str | None = None,
    conversation_id: str | None = None,
) -> bool:
    """Record that nothing more may be sent to `phone`; False if it was already opted out."""
    row = session.get(PhoneOptOut, phone)
    if row is not None and row.opted_out:
        return False
    if row is None:
        session.add(PhoneOptOut(phone=phone, opted_out=True, source=source, detail=detail))
    else:
        row.opted_out = True
        row.source = source
        row.detail = detail
        row.updated_at = utcnow()
    record(
        session, Kind.SMS_OPTED_OUT, conversation_id=conversation_id, source=source, detail=detail
    )
    session.flush()
    return True


def opt_in(
    session: Session,
    phone: str,
    source: OptOutSource = OptOutSource.KEYWORD,
    conversation_id: str | None = None,
) -> bool:
    """The debtor texted START: messages may flow again. False if they were not opted out."""
    row = session.get(PhoneOptOut, phone)
    if row is None or not row.opted_out:
        return False
    row.opted_out = False
    row.source = source
    row.detail = None
    row.updated_at = utcnow()
    record(session, Kind.SMS_OPTED_IN, conversation_id=conversation_id, source=source)
    session.flush()
    return True
