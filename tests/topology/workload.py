"""Debtors talking to the production topology while a part of it fails, and the accounting of
what each of them got (issue 11: "no acknowledged message lost, every debtor gets a reply or an
honest apology, every conversation recovers").

A debtor is a thread speaking the web-chat REST contract through the balancer. A message is
*acknowledged* when the API answered it 200; anything else (the balancer's 502 while an API
process dies, a 503 "try again") is retried after a pause, as the widget's debtor would. A reply
is *mute* when an acknowledged message got no message back.
"""

from __future__ import annotations

import csv
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.accounts.importer import SPEC_COLUMNS
from parley.conversations.ordering import BUSY
from parley.conversations.turns import APOLOGY, HANDED_OVER
from parley.tables import ACTIVE_ESCALATION, Direction, Escalation, Message, Sender
from parley.verification.facts import mask_facts

FIGURES: dict[str, dict[str, Any]] = {}
ZIP = "30301"
SURNAMES = [
    "Ashdown",
    "Blakemore",
    "Carrick",
    "Dunmore",
    "Ellery",
    "Fairbanks",
    "Galloway",
    "Hartwell",
    "Ingram",
    "Jessop",
    "Kettering",
    "Lockhart",
    "Merriweather",
    "Northcott",
    "Oakridge",
    "Pemberton",
    "Quayle",
    "Radcliffe",
    "Stanhope",
    "Thackeray",
    "Underhill",
    "Vickery",
    "Whitmore",
    "Yardley",
    "Ainsworth",
    "Bramwell",
    "Cotterill",
    "Denholm",
    "Eastwood",
    "Fenwick",
    "Gresham",
    "Holloway",
    "Inchbald",
    "Jephson",
    "Kimberley",
    "Langridge",
    "Mottram",
    "Netherton",
    "Ormerod",
    "Prescott",
]
LINK = re.compile(r"(https?://127\.0\.0\.1:\d+/c/pay/cs_test_[0-9a-f]+)")
APOLOGIES = (APOLOGY, HANDED_OVER, BUSY)
TRY_AGAIN = 2  # how many times a debtor types a message again after "please try again"
TRY_AGAIN_AFTER = 2.0  # seconds: "in a moment"


@dataclass(frozen=True)
class Debtor:
    ref: str
    last_name: str
    dob: date

    @property
    def script(self) -> list[str]:
        return [
            self.last_name,
            self.dob.strftime("%m/%d/%Y"),
            ZIP,
            "what do I owe?",
            "why is it that much?",
            "i'll pay in full",
            "yes",
            "thanks",
        ]


def debtors() -> list[Debtor]:
    return [
        Debtor(f"FLT-{n:03d}", name, date(1970, 1, 1) + timedelta(days=397 * n))
        for n, name in enumerate(SURNAMES, start=1)
    ]


def write_accounts(path: Path) -> Path:
    """The fault tests' debtors as an account file in SPEC §3's columns (blank where unused)."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SPEC_COLUMNS, restval="")
        writer.writeheader()
        for n, debtor in enumerate(debtors(), start=1):
            writer.writerow(
                {
                    "account_id": debtor.ref,
                    "first_name": "Alex",
                    "last_name": debtor.last_name,
                    "date_of_birth": debtor.dob.isoformat(),
                    "ssn_last4": f"{7000 + n}",
                    "zip": ZIP,
                    "timezone": "America/New_York",
                    "creditor": "Acme Capital",
                    "original_creditor": "Acme Card",
                    "account_last4": f"{7000 + n}",
                    "description": "Credit card balance",
                    "principal": "640.00",
                    "interest": "0.00",
                    "fees": "0.00",
                    "payments_credits": "0.00",
                    "itemization_date": "2025-01-01",
                    "policy": "default",
                }
            )
    return path


@dataclass
class Said:
    text: str
    replies: list[str]
    status: str  # the conversation's status the answer gave ("bot", "escalated", ...)


@dataclass
class Conversation:
    debtor: Debtor
    session_id: str | None = None
    said: list[Said] = field(default_factory=list)
    retried: int = 0
    said_again: int = 0  # messages the debtor typed again after being asked to
    links: list[str] = field(default_factory=list)
    status: str = "bot"
    failures: list[str] = field(default_factory=list)


class Chat:
    """One debtor's client: retries what was not acknowledged, as the widget's debtor would."""

    def __init__(self, base_url: str, conversation: Conversation, give_up_after: float) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30.0)
        self.conversation = conversation
        self.give_up_after = give_up_after

    def _post(self, path: str, body: dict[str, str]) -> dict[str, Any] | None:
        deadline = time.monotonic() + self.give_up_after
        while True:
            try:
                response = self.client.post(path, json=body)
                if response.status_code in (200, 201):
                    data: dict[str, Any] = response.json()
                    return data
                failure = f"{response.status_code} {response.text[:120]}"
            except httpx.HTTPError as exc:
                failure = repr(exc)
            self.conversation.retried += 1
            if time.monotonic() > deadline:
                self.conversation.failures.append(f"gave up on {body or path}: {failure}")
                return None
            time.sleep(1.0)

    def start(self) -> bool:
        data = self._post("/api/chat/sessions", {})
        if data is None:
            return False
        self.conversation.session_id = data["session_id"]
        return True

    def say(self, text: str) -> list[str] | None:
        data = self._post(
            f"/api/chat/sessions/{self.conversation.session_id}/messages", {"text": text}
        )
        if data is None:
            return None
        replies = [m["text"] for m in data["messages"]]
        self.conversation.said.append(Said(text, replies, data["status"]))
        self.conversation.status = data["status"]
        self.conversation.links += [m.group(1) for r in replies if (m := LINK.search(r))]
        return replies

    def close(self) -> None:
        self.client.close()


def converse(base_url: str, conversation: Conversation, pause: float, seed: int) -> None:
    pacing = random.Random(seed)  # noqa: S311 - pacing, not security
    chat = Chat(base_url, conversation, give_up_after=60.0)
    try:
        if not chat.start():
            return
        for text in conversation.debtor.script:
            time.sleep(pause * (0.5 + pacing.random()))
            for attempt in range(1 + TRY_AGAIN):
                replies = chat.say(text)
                if replies is None:
                    return
                if attempt == TRY_AGAIN or not replies or not set(replies) <= {APOLOGY, BUSY}:
                    break
                # The apology says "please try again in a moment": a debtor does. Without this a
                # scripted debtor whose ZIP turn was apologised for never gives it again, and the
                # conversation stays unverified however well the stack recovered.
                conversation.said_again += 1
                time.sleep(TRY_AGAIN_AFTER)
    finally:
        chat.close()


@dataclass
class Outcome:
    conversations: list[Conversation]
    probes: dict[str, list[str] | None]

    def figures(self, fault: str, faults: int, factory: sessionmaker[Session]) -> dict[str, Any]:
        acked = [s for c in self.conversations for s in c.said]
        row = {
            "fault": fault,
            "faults_injected": faults,
            "conversations": len(self.conversations),
            "messages": sum(len(c.debtor.script) + 1 for c in self.conversations),  # + the probe
            "acknowledged": len(acked),
            "retried": sum(c.retried for c in self.conversations),
            "said_again": sum(c.said_again for c in self.conversations),
            "apologies": sum(1 for s in acked if any(r in APOLOGIES for r in s.replies)),
            "mute": len(self.mute()),
            "lost": len(lost_messages(self.conversations, factory)),
            "unrecovered": len(self.unrecovered(factory)),
            "gave_up": sum(len(c.failures) for c in self.conversations),
            "payment_links": sum(len(c.links) for c in self.conversations),
        }
        FIGURES[fault] = row
        return row

    def mute(self) -> list[tuple[str, Said]]:
        """Acknowledged messages the bot held and nobody answered. (While a person is due to
        answer, the status says so and the waiting note is repeated only every few minutes.)"""
        return [
            (c.debtor.ref, s)
            for c in self.conversations
            for s in c.said
            if not s.replies and s.status == "bot"
        ]

    def unrecovered(self, factory: sessionmaker[Session]) -> list[str]:
        """Conversations that, once every part is back, neither the bot answers (the balance,
        not an apology) nor a person has in their queue."""
        with factory() as session:
            queued = set(
                session.scalars(
                    select(Escalation.conversation_id).where(
                        Escalation.status.in_(ACTIVE_ESCALATION)
                    )
                )
            )
        out: list[str] = []
        for conversation in self.conversations:
            reply = self.probes.get(conversation.session_id or conversation.debtor.ref)
            if conversation.status == "bot":
                if not reply or not any("$" in r for r in reply):
                    out.append(f"{conversation.debtor.ref}: {reply}")
            elif conversation.session_id not in queued:
                out.append(f"{conversation.debtor.ref}: {conversation.status}, not queued")
        return out


def lost_messages(conversations: list[Conversation], factory: sessionmaker[Session]) -> list[str]:
    """Acknowledged messages that are not in the database (stored as typed, or with identity
    facts masked before verification)."""
    lost: list[str] = []
    with factory() as session:
        for conversation in conversations:
            if conversation.session_id is None:
                continue
            stored = list(
                session.scalars(
                    select(Message.text).where(
                        Message.conversation_id == conversation.session_id,
                        Message.direction == Direction.INBOUND,
                        Message.sender == Sender.DEBTOR,
                    )
                )
            )
            for said in conversation.said:
                if said.text not in stored and mask_facts(said.text) not in stored:
                    lost.append(f"{conversation.session_id}: {said.text}")
    return lost


def run_workload(
    base_url: str,
    people: list[Debtor],
    *,
    fault: Callable[[], None] | None = None,
    fault_after: float = 0.0,
    pause: float = 0.6,
) -> Outcome:
    """Every debtor's conversation at once; `fault` runs `fault_after` seconds in (it breaks a
    part and brings it back); then, with everything back, every conversation is asked once more
    ("every conversation recovers")."""
    conversations = [Conversation(debtor) for debtor in people]
    threads = [
        threading.Thread(target=converse, args=(base_url, c, pause, n), daemon=True)
        for n, c in enumerate(conversations)
    ]
    for thread in threads:
        thread.start()
    if fault is not None:
        time.sleep(fault_after)
        fault()
    for thread in threads:
        thread.join(timeout=300)
    probes: dict[str, list[str] | None] = {}
    for conversation in conversations:
        if conversation.session_id is None:
            probes[conversation.debtor.ref] = None
            continue
        chat = Chat(base_url, conversation, give_up_after=30.0)
        probes[conversation.session_id] = chat.say("what do I owe?")
        chat.close()
    return Outcome(conversations, probes)
