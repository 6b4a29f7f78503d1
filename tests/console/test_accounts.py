"""Account search, the account page's record and re-sending a payment link
(parley.console.accounts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.console import accounts
from parley.console.users import LoginSession
from parley.core.errors import Conflict, Forbidden, InvalidRequest
from parley.core.settings import Settings
from parley.tables import AuditEvent, Message, OutboundMessage, PaymentLink
from tests.support.console_seed import NOW, seed
from tests.support.payment_plans import settings_for

AGENT = LoginSession(1, "agent1", "agent", "")


def refs(page: accounts.SearchPage) -> list[str]:
    return [h.account.account_ref for h in page.hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SEED-3", ["SEED-3"]),
        ("seed-", ["SEED-1", "SEED-3", "SEED-5", "SEED-4", "SEED-2"]),
        ("lovelace", ["SEED-1"]),
        ("Grace Hopper", ["SEED-2"]),
        ("barbara@EXAMPLE", ["SEED-5"]),
        ("(404) 555-0104", ["SEED-4"]),
        ("0105", ["SEED-5"]),
        ("100%_", []),
        ("ada", ["SEED-1"]),  # first name alone, prefix, any case
        ("EDS", ["SEED-4"]),
        ("hop", ["SEED-2"]),  # last name prefix, through its comparison key
        ("dijk-stra", ["SEED-4"]),  # the key drops what is not a letter
        ("grace h", ["SEED-2"]),  # "first last-prefix"
        ("grace lovelace", []),
        ("example.com", []),  # e-mail is searched only when the text has an @
        ("@example.com", ["SEED-1", "SEED-5"]),
    ],
)
def test_search_by_reference_name_email_phone(
    session: Session, query: str, expected: list[str]
) -> None:
    seed(session)
    page = accounts.search(session, query, now=NOW)
    assert refs(page) == expected
    assert page.total == len(expected)


def test_search_pages(session: Session) -> None:
    seed(session)
    from tests.support.accounts import make_account

    for n in range(accounts.PAGE_SIZE + 3):
        session.add(make_account(account_ref=f"PAGE-{n:03d}", last_name="Pager"))
    session.flush()
    first = accounts.search(session, "pager", page=1, now=NOW)
    second = accounts.search(session, "pager", page=2, now=NOW)
    assert first.total == accounts.PAGE_SIZE + 3 and first.pages == 2
    assert len(first.hits) == accounts.PAGE_SIZE and len(second.hits) == 3
    assert not set(refs(first)) & set(refs(second))
    assert accounts.search(session, "pager", page=99, now=NOW).page == 2


def test_account_page_gathers_the_record(session: Session) -> None:
    seed(session)
    page = accounts.account_page(session, "SEED-1", now=NOW)
    assert page.account.balance_cents == 75000
    assert [e.amount_cents for e in page.ledger] == [25000]
    assert len(page.plans) == 1 and len(page.plans[0].installments) == 4
    assert [p.status for p in page.promises] == ["kept"]
    assert len(page.conversations) == 1
    assert page.score.total == 62
    assert [p.id for p in page.resendable] == [page.plans[0].id]
    assert accounts.account_page(session, "SEED-5", now=NOW).sms_opted_out


def _settings(tmp_path: Path) -> Settings:
    return settings_for(f"sqlite:///{tmp_path / 'unused.db'}")


def test_resend_link_by_sms_makes_a_fresh_link_and_audits(session: Session, tmp_path: Path) -> None:
    seeded = seed(session)
    plan = accounts.account_page(session, "SEED-1").plans[0]
    said = accounts.resend_link(session, _settings(tmp_path), AGENT, "SEED-1", plan.id)
    # Local mode: the outbox now, or later when it is night in Atlanta.
    assert said in {"link_sms_outbox", "link_sms_scheduled"}
    link = session.scalars(select(PaymentLink).where(PaymentLink.plan_id == plan.id)).one()
    assert link.amount_cents == 25000  # the next installment
    sms = session.scalars(
        select(OutboundMessage).where(OutboundMessage.account_id == seeded.accounts["a1"].id)
    ).one()
    assert link.url in sms.body and sms.to == "+14045550101"
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.kind == "payment.link_resent")
    ).one()
    assert event.actor == "user:agent1" and event.data["link_id"] == link.id


def test_resend_link_goes_to_the_web_chat_without_a_phone(session: Session, tmp_path: Path) -> None:
    seeded = seed(session)
    seeded.accounts["a1"].phone = None
    plan = accounts.account_page(session, "SEED-1").plans[0]
    said = accounts.resend_link(session, _settings(tmp_path), AGENT, "SEED-1", plan.id)
    assert said == "link_web"
    last = session.scalars(
        select(Message)
        .where(Message.conversation_id == seeded.conversations["c1"].id)
        .order_by(Message.id.desc())
    ).first()
    assert last is not None and last.sender == "agent" and "/pay/" in last.text


def test_resend_link_refusals(session: Session, tmp_path: Path) -> None:
    seed(session)
    settings = _settings(tmp_path)
    paid = accounts.account_page(session, "SEED-2").plans[0]
    with pytest.raises(Conflict, match="nothing left"):
        accounts.resend_link(session, settings, AGENT, "SEED-2", paid.id)
    with pytest.raises(Forbidden):
        accounts.resend_link(session, settings, LoginSession(9, "x", "nobody", ""), "SEED-1", 1)
    other = accounts.account_page(session, "SEED-1").plans[0]
    with pytest.raises(Exception, match="No such plan"):
        accounts.resend_link(session, settings, AGENT, "SEED-4", other.id)
    page = accounts.account_page(session, "SEED-1")
    page.account.collection_paused = True
    with pytest.raises(Conflict, match="paused"):
        accounts.resend_link(session, settings, AGENT, "SEED-1", other.id)
    page.account.collection_paused = False
    page.account.phone = None
    for conversation in page.conversations:
        conversation.status = "closed"
    with pytest.raises(InvalidRequest, match="no phone and no open web chat"):
        accounts.resend_link(session, settings, AGENT, "SEED-1", other.id)
    assert not session.scalars(select(PaymentLink)).all()


def test_a_supervisor_pauses_and_resumes_the_cadence_and_the_page_shows_it(
    session: Session,
) -> None:
    from parley.tables import OutreachPause

    seed(session)
    supervisor = LoginSession(2, "sup1", "supervisor", "")
    with pytest.raises(Forbidden):
        accounts.set_outreach_paused(session, AGENT, "SEED-1", paused=True)
    assert accounts.set_outreach_paused(session, supervisor, "SEED-1", paused=True) == (
        "outreach_paused"
    )
    assert accounts.set_outreach_paused(session, supervisor, "SEED-1", paused=True) == (
        "outreach_already_paused"
    )
    page = accounts.account_page(session, "SEED-1", NOW)
    assert page.outreach_paused
    assert session.get(OutreachPause, page.account.id) is not None
    assert accounts.set_outreach_paused(session, supervisor, "SEED-1", paused=False) == (
        "outreach_resumed"
    )
    assert not accounts.account_page(session, "SEED-1", NOW).outreach_paused
    kinds = [
        e.kind
        for e in session.scalars(select(AuditEvent).where(AuditEvent.account_id == page.account.id))
    ]
    assert "outreach.paused" in kinds and "outreach.resumed" in kinds
