"""The priority score (parley.console.priority): the hand-worked scores of the seeded
portfolio, factors that add up to the total, the worklist, and legal review."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.console import accounts, priority
from parley.core.errors import InvalidRequest
from parley.tables import AuditEvent
from tests.support.console_seed import EXPECTED_SCORES, NOW, seed


def test_scores_are_the_hand_worked_ones_and_their_factors_add_up(session: Session) -> None:
    seeded = seed(session)
    for account in seeded.accounts.values():
        score = priority.score(session, account.id, now=NOW)
        assert score.total == EXPECTED_SCORES[account.account_ref], account.account_ref
        if account.balance_cents > 0:
            assert sum(f.points for f in score.factors) == score.total


def test_factors_say_what_was_seen(session: Session) -> None:
    seeded = seed(session)
    a1 = priority.score(session, seeded.accounts["a1"].id, now=NOW)
    factors = {f.key: (f.detail, f.points) for f in a1.factors}
    assert factors == {
        "balance": ("$750.00", 7),
        "placement": ("13 days ago", 20),
        "engagement": ("wrote 12 days ago, verified", 20),
        "kept": ("1 kept", 5),
        "broken": ("0 broken", 0),
        "channels": ("SMS, email", 10),
    }
    a5 = {f.key: f for f in priority.score(session, seeded.accounts["a5"].id, now=NOW).factors}
    assert a5["channels"].detail == "email"  # the number opted out
    assert a5["balance"].points == priority.BALANCE_MAX
    a4 = {f.key: f for f in priority.score(session, seeded.accounts["a4"].id, now=NOW).factors}
    assert (a4["broken"].detail, a4["broken"].points) == ("2 broken", -20)
    a2 = {f.key: f for f in priority.score(session, seeded.accounts["a2"].id, now=NOW).factors}
    assert a2["balance"].detail == "nothing left to pay"


def test_the_accounts_list_is_ordered_by_score(session: Session) -> None:
    seed(session)
    page = accounts.search(session, "", now=NOW)
    seeded_refs = [
        h.account.account_ref for h in page.hits if h.account.account_ref.startswith("SEED-")
    ]
    assert seeded_refs == ["SEED-1", "SEED-3", "SEED-5", "SEED-4", "SEED-2"]
    totals = [h.score.total for h in page.hits]
    assert totals == sorted(totals, reverse=True)


def test_worklist_leaves_out_paid_paused_planned_and_legal_review(session: Session) -> None:
    seeded = seed(session)
    refs = [a.account_ref for a, _s in priority.worklist(session, NOW)]
    # A1 has a plan in force, A2 is paid, A3 is paused: A5 (48) then A4 (7).
    assert refs[:2] == ["SEED-5", "SEED-4"] and "SEED-1" not in refs
    assert [a.account_ref for a, _s in priority.worklist(session, NOW, policy="medical")] == [
        "SEED-4"
    ]
    priority.set_legal_review(session, "user:sup", seeded.accounts["a5"], "Sued elsewhere?")
    refs = [a.account_ref for a, _s in priority.worklist(session, NOW)]
    assert "SEED-5" not in refs and refs[0] == "SEED-4"


def test_legal_review_needs_a_reason_is_audited_and_can_be_withdrawn(session: Session) -> None:
    seeded = seed(session)
    a4 = seeded.accounts["a4"]
    with pytest.raises(InvalidRequest, match="reason"):
        priority.set_legal_review(session, "user:sup", a4, "   ")
    state = priority.set_legal_review(session, "user:sup", a4, "  Two broken plans;\n review ")
    assert state.in_review and state.reason == "Two broken plans; review"
    assert state.actor == "user:sup"
    with pytest.raises(InvalidRequest, match="already in legal review"):
        priority.set_legal_review(session, "user:sup", a4, "again")
    assert priority.score(session, a4.id, now=NOW).legal_review
    priority.set_legal_review(session, "user:sup", a4, "", in_review=False)
    assert not priority.legal_review(session, a4.id).in_review
    kinds = list(
        session.scalars(
            select(AuditEvent.kind).where(AuditEvent.account_id == a4.id).order_by(AuditEvent.id)
        )
    )
    assert kinds[-2:] == ["account.legal_review", "account.legal_review_withdrawn"]
    # Nothing else about the account changed.
    assert not a4.collection_paused
