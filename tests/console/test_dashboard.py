"""Every dashboard figure against the hand-worked figures of the seeded portfolio
(tests/support/console_seed.py), on SQLite and PostgreSQL, for all policies and for one."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from parley.console import dashboard
from parley.console.dashboard import Period
from parley.core.errors import InvalidRequest
from tests.support.console_seed import EXPECTED, FIRST, LAST, seed

SCALARS = (
    "plans_agreed",
    "plans_self_served",
    "agreed_cents",
    "promises_made",
    "promised_cents",
    "promises_kept",
    "promises_broken",
    "collected_cents",
    "forgiven_cents",
    "plans_live",
    "plans_completed",
    "plans_broken",
    "opt_outs",
)
FUNNEL = ("placed", "contacted", "engaged", "verified", "offered", "agreed", "paying")


@pytest.mark.parametrize("policy", [None, "medical"])
def test_every_figure_matches_the_hand_computed_value(session: Session, policy: str | None) -> None:
    seed(session)
    expected = EXPECTED[policy]
    board = dashboard.build(session, Period(FIRST, LAST), policy)
    assert board.figure == {key: expected[key] for key in (*FUNNEL, "paid_in_full")}
    assert {name: getattr(board, name) for name in SCALARS} == {
        name: expected[name] for name in SCALARS
    }
    by_reason = {
        f.reason: (
            f.opened,
            f.resolved,
            None
            if f.median_first_response_minutes is None
            else round(f.median_first_response_minutes, 3),
            None if f.median_resolution_minutes is None else round(f.median_resolution_minutes, 3),
        )
        for f in board.escalations
    }
    assert by_reason == expected["escalations"]
    assert board.outreach == expected["outreach"]
    assert board.blocked_by == expected["blocked_by"]
    assert all(f.still_open == f.opened - f.resolved for f in board.escalations)


def test_self_serve_rate_and_sent_totals(session: Session) -> None:
    seed(session)
    board = dashboard.build(session, Period(FIRST, LAST))
    assert board.self_serve_rate == 0.5
    assert board.outreach_sent == 1 and board.outreach_blocked == 2
    empty = dashboard.build(session, Period(date(2020, 1, 1), date(2020, 1, 31)))
    assert empty.self_serve_rate is None
    assert all(value == 0 for _k, _l, value in empty.funnel)
    assert empty.escalations == []


def test_a_narrower_period_counts_only_its_days(session: Session) -> None:
    seed(session)
    # 6-7 March: A2's chat, escalation, plan and payment; A1's payment (4th) is outside.
    board = dashboard.build(session, Period(date(2026, 3, 6), date(2026, 3, 7)))
    assert board.figure["contacted"] == 1
    assert board.figure["paying"] == 1
    assert board.collected_cents == 50000
    assert [f.reason for f in board.escalations] == ["human_requested"]


def test_a_payment_on_the_last_day_counts_and_the_next_midnight_does_not(
    session: Session,
) -> None:
    seed(session)
    # A1 paid at noon on 4 March: a period ending 3 March excludes it, one ending 4 March not.
    before = dashboard.build(session, Period(date(2026, 3, 1), date(2026, 3, 3)))
    through = dashboard.build(session, Period(date(2026, 3, 1), date(2026, 3, 4)))
    assert before.collected_cents == 0
    assert through.collected_cents == 25000


def test_the_period_is_read_strictly() -> None:
    today = date(2026, 3, 15)
    assert Period.parse("", None, today) == Period(date(2026, 2, 14), today)
    assert Period.parse("2026-03-01", "2026-03-31", today) == Period(FIRST, LAST)
    with pytest.raises(InvalidRequest, match="start date is after"):
        Period.parse("2026-03-31", "2026-03-01", today)
    with pytest.raises(InvalidRequest, match="like 2026-01-31"):
        Period.parse("31/03/2026", None, today)
    with pytest.raises(InvalidRequest, match="ten years"):
        Period.parse("1990-01-01", "2026-01-01", today)
