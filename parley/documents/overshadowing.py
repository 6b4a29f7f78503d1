"""The settlement deadline must not overshadow the right to dispute (SPEC §14, Reg F
1006.38(b) and 1006.34): a settlement that must be paid before the validation period ends is
presented together with "This does not affect your right to dispute the debt by {date}."

Called by the chat wherever a settlement and its deadline are shown, and by the written
agreement. While no validation notice has been provided yet, the date is the earliest the period
could end (a notice sent today): the debtor can certainly still dispute by then, and the real
period, once a notice is provided, only ends later.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from sqlalchemy.orm import Session

from parley.core.dates import long_date
from parley.documents.notices import earliest_period_end
from parley.tables import Account

DISPUTE_RIGHT: Final = "This does not affect your right to dispute the debt by {date}."


def dispute_right_sentence(
    session: Session, account: Account, deadline: date, now: datetime | None = None
) -> str | None:
    """The sentence when a settlement due by `deadline` ends before the validation period does;
    None when the deadline is on or after the period's end (nothing to overshadow)."""
    ends = earliest_period_end(session, account, now)
    if deadline < ends:
        return DISPUTE_RIGHT.format(date=long_date(ends))
    return None
