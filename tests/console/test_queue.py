"""The queue at scale (parley.console.queue): paging over hundreds of escalations, counts,
filters, search, waiting time against the targets, assignment and round-robin."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.console import users
from parley.console.queue import (
    QueueConfig,
    QueueFilters,
    assign,
    auto_assign,
    load_queue_config,
    queue_page,
    wait_state,
)
from parley.console.users import LoginSession
from parley.core.errors import ConfigError, Forbidden
from parley.escalations.reasons import PRIORITY
from parley.tables import Conversation, Escalation, EscalationReason
from tests.support.console import PASSWORD
from tests.support.queue import REASONS, seed_queue


def _login(session: Session, name: str, role: str) -> LoginSession:
    user = users.create_user(session, name, PASSWORD, role)
    return LoginSession(user.id, user.username, user.role, csrf_token="")


def test_500_escalations_page_by_50_most_urgent_first_then_longest_waiting(
    session: Session,
) -> None:
    seeded = seed_queue(session, 520)
    began = time.monotonic()
    first = queue_page(session, QueueFilters(), now=seeded.now)
    elapsed = time.monotonic() - began
    assert first.total == 520 and first.pages == 11 and len(first.rows) == 50
    assert first.waiting_total == 520
    assert elapsed < 2.0, f"one page of a 520-row queue took {elapsed:.2f}s"
    seen: list[str] = []
    for number in range(1, 12):
        page = queue_page(session, QueueFilters(page=number), now=seeded.now)
        seen += [row.conversation_id for row in page.rows]
    assert len(seen) == 520 and len(set(seen)) == 520, "every conversation exactly once"
    # Order: priority descending, then the longest waiting first.
    keys = []
    for number in (1, 6, 11):
        for row in queue_page(session, QueueFilters(page=number), now=seeded.now).rows:
            keys.append((-row.priority, row.waiting_since))
    assert keys == sorted(keys)
    top = first.rows[0]
    assert top.reason in ("bankruptcy", "attorney") and top.priority == 90
    # A page past the end shows the last page rather than nothing.
    assert queue_page(session, QueueFilters(page=99), now=seeded.now).page == 11


def test_counts_per_reason_cover_the_whole_queue(session: Session) -> None:
    seed_queue(session, 90)
    page = queue_page(session, QueueFilters(reason="dispute"))
    expected = {str(reason): 10 for reason in REASONS}  # 90 rows over 9 reasons
    assert page.counts == expected
    assert page.total == 10 and {row.reason for row in page.rows} == {"dispute"}


def test_filters_channel_status_mine_and_unassigned(session: Session) -> None:
    seeded = seed_queue(session, 30)
    agent = _login(session, "agent-q", "agent")
    sms = queue_page(session, QueueFilters(channel="sms"))
    assert sms.total == 10 and {row.channel for row in sms.rows} == {"sms"}
    # Assign two conversations to the agent; one of them is held (claimed).
    for conversation_id in seeded.conversation_ids[:2]:
        for escalation in session.scalars(
            select(Escalation).where(Escalation.conversation_id == conversation_id)
        ):
            escalation.assigned_user_id = agent.user_id
    held = session.scalars(
        select(Escalation).where(Escalation.conversation_id == seeded.conversation_ids[0])
    ).one()
    held.status = "claimed"
    conversation = session.get(Conversation, seeded.conversation_ids[0])
    assert conversation is not None
    conversation.status = "human"
    session.flush()
    mine = queue_page(session, QueueFilters(assigned="mine"), user_id=agent.user_id)
    assert {row.conversation_id for row in mine.rows} == set(seeded.conversation_ids[:2])
    assert all(row.assigned_to == "agent-q" for row in mine.rows)
    unassigned = queue_page(session, QueueFilters(assigned="unassigned"))
    assert unassigned.total == 28
    assert not set(seeded.conversation_ids[:2]) & {r.conversation_id for r in unassigned.rows}
    with_person = queue_page(session, QueueFilters(status="human"))
    assert [row.conversation_id for row in with_person.rows] == [seeded.conversation_ids[0]]
    assert with_person.rows[0].held
    waiting = queue_page(session, QueueFilters(status="queued"))
    assert waiting.total == 29


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("Q-0007", {7}),
        ("q-0007", {7}),
        ("Debtor12", {12}),
        ("debtor12 family5", {12}),  # first and last name together
        ("Family3", {3, 10, 17, 24}),
        ("+14155550021", {21}),
        ("(415) 555-0021", {21}),  # typed with punctuation: the digits are what count
        ("100%_", set()),  # LIKE wildcards are searched for, not used
    ],
)
def test_search_by_reference_name_or_phone(
    session: Session, search: str, expected: set[int]
) -> None:
    seeded = seed_queue(session, 28)
    page = queue_page(session, QueueFilters(search=search))
    found = {seeded.conversation_ids.index(row.conversation_id) for row in page.rows}
    assert found == expected


def test_unknown_filter_values_are_ignored_not_an_error() -> None:
    filters = QueueFilters.parse(
        reason="nope", channel="fax", status="closed", assigned="all", page="x", search=" a "
    )
    assert filters == QueueFilters(search="a")
    assert filters.query(page=3) == {"q": "a", "page": "3"}


def test_waiting_minutes_are_coloured_against_the_reasons_target(session: Session) -> None:
    seeded = seed_queue(session, 9)  # conversation i waited 9 - i minutes
    config = QueueConfig(response_targets_minutes={"human_requested": 10, "dispute": 4})
    rows = {row.reason: row for row in queue_page(session, QueueFilters(), config=config).rows}
    human = rows["human_requested"]  # i = 0: waited 9 minutes of 10
    assert human.waiting_minutes == 9 and human.target_minutes == 10
    assert human.wait_state == "due"
    dispute = rows["dispute"]  # i = 1: waited 8 minutes of 4
    assert dispute.waiting_minutes == 8 and dispute.wait_state == "late"
    assert rows["hardship"].wait_state == "none" and rows["hardship"].target_minutes is None
    later = queue_page(session, QueueFilters(), config=config, now=seeded.now + timedelta(hours=1))
    assert {row.waiting_minutes for row in later.rows} >= {69}
    assert wait_state(5, 10) == "ok" and wait_state(8, 10) == "due" and wait_state(11, 10) == "late"


def test_queue_config_is_validated_with_the_file_and_key(tmp_path: Path) -> None:
    good = tmp_path / "queue.yml"
    good.write_text("response_targets_minutes:\n  dispute: 90\nauto_assign: true\n")
    config = load_queue_config(good)
    assert config.target("dispute") == 90 and config.auto_assign
    assert load_queue_config(tmp_path / "missing.yml") == QueueConfig()
    for text, says in (
        ("response_targets_minutes:\n  disputes: 90\n", "disputes"),
        ("response_targets_minutes:\n  dispute: -5\n", "dispute"),
        ("auto_assign: maybe\n", "auto_assign"),
        ("surprise: 1\n", "surprise"),
        ("- just\n- a list\n", "mapping"),
    ):
        bad = tmp_path / f"bad{abs(hash(text))}.yml"
        bad.write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_queue_config(bad)
        assert str(bad) in caught.value.message and says in caught.value.message


def test_the_repositorys_queue_file_is_valid() -> None:
    config = load_queue_config(Path(__file__).parents[2] / "config" / "queue.yml")
    assert set(config.response_targets_minutes) == set(EscalationReason)


def test_supervisor_assigns_and_agent_may_not(session: Session) -> None:
    seeded = seed_queue(session, 3)
    supervisor = _login(session, "super-q", "supervisor")
    agent = _login(session, "agent-q2", "agent")
    conversation_id = seeded.conversation_ids[1]
    assert assign(session, supervisor, conversation_id, "agent-q2") == "agent-q2"
    page = queue_page(session, QueueFilters(assigned="mine"), user_id=agent.user_id)
    assert [row.conversation_id for row in page.rows] == [conversation_id]
    with pytest.raises(Forbidden):
        assign(session, agent, conversation_id, "")
    assert assign(session, supervisor, conversation_id, "") is None
    assert queue_page(session, QueueFilters(assigned="unassigned")).total == 3


def test_round_robin_deals_waiting_conversations_to_logged_in_team_members(
    session: Session,
) -> None:
    seed_queue(session, 7)
    names = ("rr-a", "rr-b", "rr-c")
    people = [users.create_user(session, name, PASSWORD, "agent") for name in names]
    users.create_user(session, "rr-offline", PASSWORD, "agent")  # never logged in: gets none
    for person in people:
        users.start_session(session, person)
    session.flush()
    off = QueueConfig(auto_assign=False)
    assert auto_assign(session, off) == 0
    on = QueueConfig(auto_assign=True)
    assert auto_assign(session, on) == 7
    assert auto_assign(session, on) == 0, "nothing is reassigned"
    load: dict[int, int] = {}
    for escalation in session.scalars(select(Escalation)):
        assert escalation.assigned_user_id is not None
        load[escalation.assigned_user_id] = load.get(escalation.assigned_user_id, 0) + 1
    assert sorted(load.values()) == [2, 2, 3] and set(load) == {p.id for p in people}
    # The most urgent conversation went out first.
    most_urgent = max(session.scalars(select(Escalation)), key=lambda e: e.priority)
    assert most_urgent.priority == max(PRIORITY.values())
