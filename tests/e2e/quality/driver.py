"""The conversation-quality driver: a scripted debtor per scenario, played against the running
stack, adapting to what the bot asks; invariants on every turn; the outcome checked in the
database; the metrics of the whole suite (README.md in this folder, "Driver").

How a scenario is played:

- The debtor opens with the first `script` line on both channels (on the web the widget's
  greeting already asks for the last name; the debtor types what they came to say).
- After every bot turn the driver works out what it was asked (`question_kind`): the last
  phrase of `texts.ASKS` in the turn's text (the bot's own constants), else what the offered
  buttons (web) or numbered choices (SMS, "Reply 1 for ...") stand for.
- An identity question gets the scenario's `identity` value for that fact (`wrong_identity`
  overrides it); a question listed under `answers` gets the next item of that list (the last
  repeats); anything else gets the next `script` line. When the script is exhausted and nothing
  is asked, the scenario is over; it also ends at `max_turns`, when the conversation leaves the
  bot (queued for a person, closed) or when the number is opted out.
- On the web, a line that is a button's title is sent as that button (`text` + `payload`, as the
  widget does); on SMS the debtor types the line as written.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from html import unescape
from pathlib import Path
from typing import Any, Final

import httpx
import yaml
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from twilio.request_validator import RequestValidator

from parley.core.clock import local_date
from parley.core.settings import Settings
from parley.dialogue import texts
from parley.escalations.reasons import PAUSING_REASONS, REASON_FOR_INTENT
from parley.negotiation.agreements import plan_proposal
from parley.negotiation.engine import violations
from parley.negotiation.policies import account_policy
from parley.sms.encoding import smart_encode
from parley.tables import (
    Account,
    Conversation,
    ConversationStatus,
    Direction,
    Escalation,
    EscalationReason,
    Message,
    PaymentPlan,
    PhoneOptOut,
    Promise,
)
from tests.support.assertions import DEBT_WORDING

HERE: Final = Path(__file__).resolve().parent
ROOT: Final = HERE.parents[2]
SCENARIOS_DIR: Final = HERE / "scenarios"
ACCOUNTS_CSV: Final = HERE / "accounts.csv"
RESULTS_PATH: Final = ROOT / "var" / "results" / "quality.json"

CHANNELS: Final = ("web", "sms")
OUTCOMES: Final = ("plan", "promise", "escalated", "opted_out", "informed", "refused")
PLAN_KINDS: Final = ("full", "settlement", "installments")
REASONS: Final = tuple(str(reason) for reason in EscalationReason)
SUB_REASONS: Final = tuple(kind for kind, _title in texts.DISPUTE_CHOICES)
IDENTITY_KINDS: Final = ("last_name", "date_of_birth", "zip_or_ssn4")
PAUSING: Final = frozenset(str(reason) for reason in PAUSING_REASONS)

# Thresholds the suite is held to (test_quality.py).
MIN_RESOLUTION: Final = 0.97
MAX_FALSE_ESCALATION: Final = 0.02


# --- scenarios -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    outcome: str
    plan_kind: str | None = None
    reason: str | None = None
    sub_reason: str | None = None
    max_turns: int = 16


@dataclass(frozen=True)
class Scenario:
    id: str
    file: str
    channel: str
    account: str
    description: str
    identity: dict[str, list[str]]
    script: list[str]
    answers: dict[str, list[str]]
    expect: Expect
    wrong_identity: dict[str, list[str]] = field(default_factory=dict)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return [str(value)]


def load_raw_scenarios(folder: Path = SCENARIOS_DIR) -> list[tuple[str, dict[str, Any]]]:
    """Every scenario as written, with the name of its file."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if not isinstance(data, list):
            raise ValueError(f"{path.name}: expected a list of scenarios")
        found += [(path.name, item) for item in data]
    return found


def scenario_from(file: str, raw: dict[str, Any]) -> Scenario:
    expect = raw.get("expect") or {}
    return Scenario(
        id=str(raw["id"]),
        file=file,
        channel=str(raw["channel"]),
        account=str(raw["account"]),
        description=str(raw.get("description") or ""),
        identity={k: _as_list(v) for k, v in (raw.get("identity") or {}).items()},
        script=_as_list(raw.get("script")),
        answers={k: _as_list(v) for k, v in (raw.get("answers") or {}).items()},
        expect=Expect(
            outcome=str(expect.get("outcome")),
            plan_kind=expect.get("plan_kind"),
            reason=expect.get("reason"),
            sub_reason=expect.get("sub_reason"),
            max_turns=int(expect.get("max_turns") or 16),
        ),
        wrong_identity={k: _as_list(v) for k, v in (raw.get("wrong_identity") or {}).items()},
    )


def load_scenarios(folder: Path = SCENARIOS_DIR) -> list[Scenario]:
    return [scenario_from(file, raw) for file, raw in load_raw_scenarios(folder)]


def load_accounts(path: Path = ACCOUNTS_CSV) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["account_id"]: row for row in csv.DictReader(handle)}


def scenario_lines(raw: dict[str, Any]) -> list[str]:
    """Everything the debtor of a scenario may type."""
    lines = _as_list(raw.get("script"))
    for group in ("identity", "answers", "wrong_identity"):
        for value in (raw.get(group) or {}).values():
            lines += _as_list(value)
    return lines


# --- reading the bot -------------------------------------------------------------------------


def norm(text: str) -> str:
    """Compare texts as the debtor sees them on either channel: SMS-encoded, spaces collapsed,
    case folded."""
    return " ".join(smart_encode(text).split()).casefold()


def _title_key(text: str) -> str:
    return norm(text).strip(" .!?,;:")


# "Is $50.00 a monthly payment, or one payment?" is listed under `ask_terms` in texts.ASKS; the
# driver answers it as a question of its own (`amount_kind`): which of the two the debtor meant.
_AMOUNT_KIND_END: Final = norm(texts.AMOUNT_KIND.split("{amount}")[1])


def _ask_kind(kind: str, phrase: str) -> str:
    return "amount_kind" if phrase == _AMOUNT_KIND_END else kind


# Longest phrases first, so that the one a message ends with wins over one inside it.
_ASK_PHRASES: Final = sorted(
    (
        (_ask_kind(kind, norm(phrase)), norm(phrase))
        for kind, phrases in texts.ASKS.items()
        for phrase in phrases
    ),
    key=lambda item: -len(item[1]),
)
# What a confirmation question asks about: the consequential intent of each one.
_CONFIRM_ABOUT: Final = {norm(text): intent for intent, text in texts.CONFIRM.items()} | {
    norm(texts.HARDSHIP_OFFER): "hardship"
}
# A choice's payload by its title (SMS numbered choices carry titles only).
_CHOICE_PAYLOADS: Final = (
    {_title_key(title): f"/{intent}" for intent, title in texts.CHOICE_TITLE.items()}
    | {
        _title_key(title): f'/dispute{{"sub_reason":"{kind}"}}'
        for kind, title in texts.DISPUTE_CHOICES
    }
    | {_title_key(texts.NEITHER): "/deny"}
    | {
        _title_key(b["title"]): b["payload"]
        for b in (
            texts.YES,
            texts.NO,
            texts.HUMAN,
            texts.WHY,
            texts.BALANCE,
            texts.PAYMENT_OPTIONS,
            texts.DISPUTE,
            texts.PAY_IN_FULL,
            texts.PAYMENT_PLAN,
            texts.SUGGEST,
        )
    }
)
_AMOUNT_KIND_PAYLOAD: Final = {
    " a month": '/offer_payment{"amount_kind":"monthly"}',
    " once": '/offer_payment{"amount_kind":"once"}',
}
_CHOICE_TITLES: Final = frozenset(
    _title_key(title)
    for title in [*texts.CHOICE_TITLE.values(), *(t for _k, t in texts.DISPUTE_CHOICES)]
)
_VERIFIED_HEAD, _VERIFIED_TAIL = texts.VERIFIED.split("{first_name}")
_VERIFIED: Final = re.compile(
    re.escape(norm(_VERIFIED_HEAD)) + r".{0,120}?" + re.escape(norm(_VERIFIED_TAIL))
)
# Collection talk: an offer, a plan summary, the terms question, a promise read back, a link.
_OFFER_PHRASES: Final = (
    norm(texts.OFFER_FULL_END),
    norm(texts.CONFIRM_SUMMARY),
    norm(texts.ASK_TERMS_END),
    norm(texts.PROMISE_CONFIRM),
    norm(texts.LINK_AGAIN),
    "/pay/",
)
_PAUSING_ACKS: Final = tuple(
    norm(text) for reason in PAUSING for text in texts.ESCALATION_ACK[reason]
)
_CHOICES_LINE: Final = re.compile(r"^Reply (\d+ for .+)$")
_CHOICE_SPLIT: Final = re.compile(r"(?:^|, | or )(\d+) for ")
_TWIML_MESSAGE: Final = re.compile(r"<Message[^>]*>(.*?)</Message>", re.S)
_PAY_LINK: Final = "/pay/"


@dataclass
class BotMessage:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)


def sms_choices(text: str) -> list[dict[str, str]]:
    """The numbered choices of an SMS ("Reply 1 for A, 2 for B or 3 for C.") as buttons."""
    found: list[dict[str, str]] = []
    for line in text.splitlines():
        match = _CHOICES_LINE.match(line.strip())
        if match is None:
            continue
        body = match.group(1).removesuffix(".")
        parts = _CHOICE_SPLIT.split(" " + body if not body[0].isdigit() else body)
        # parts: ["", n1, title1, n2, title2, ...]
        for number, title in zip(parts[1::2], parts[2::2], strict=False):
            found.append({"title": title.strip(), "payload": "", "number": number})
    return found


def _kind_from_buttons(buttons: Sequence[dict[str, str]]) -> str | None:
    titles = {_title_key(b.get("title", "")) for b in buttons}
    # "I dispute this" is also a plain next step (after the breakdown): a choice between
    # readings always offers "Neither".
    if titles & _CHOICE_TITLES and _title_key(texts.NEITHER) in titles:
        return "choose"
    if _title_key(texts.SUGGEST["title"]) in titles:
        return "ask_terms"
    if {_title_key(texts.PAY_IN_FULL["title"]), _title_key(texts.PAYMENT_PLAN["title"])} <= titles:
        return "offer_full"
    return None


def _kind_from_text(text: str) -> tuple[int, str] | None:
    """The question phrase that ends latest in `text`, with where it ends."""
    body = norm(text)
    best: tuple[int, str] | None = None
    for kind, phrase in _ASK_PHRASES:
        at = body.rfind(phrase)
        if at >= 0 and (best is None or at + len(phrase) > best[0]):
            best = (at + len(phrase), kind)
    return best


def question_kind(messages: Sequence[BotMessage]) -> str | None:
    """What the bot's turn asks: the last message that asks something decides."""
    kind: str | None = None
    for message in messages:
        found = _kind_from_text(message.text)
        mine = found[1] if found else _kind_from_buttons(message.buttons)
        if mine is not None:
            kind = mine
    return kind


def confirm_about(messages: Sequence[BotMessage]) -> str | None:
    """The consequential intent a confirmation question of this turn asks about (the last)."""
    about: str | None = None
    for message in messages:
        body = norm(message.text)
        hits = [(body.rfind(p), intent) for p, intent in _CONFIRM_ABOUT.items() if p in body]
        if hits:
            about = max(hits)[1]
    return about


_SUMMARY_KINDS: Final = (
    ("full", re.compile(r"^pay in full: ", re.M)),
    ("settlement", re.compile(r"^one-time settlement: ", re.M)),
    ("installments", re.compile(r"^\d+ payments[^:\n]*:$", re.M)),
    ("promise", re.compile(re.escape(norm(texts.PROMISE_SUMMARY.split("{amount}")[0])))),
)


def summary_kind(messages: Sequence[BotMessage]) -> str | None:
    """What the terms laid out in this turn are (full, settlement, installments, promise), if
    the turn shows any."""
    kind: str | None = None
    for message in messages:
        body = "\n".join(
            " ".join(line.split()) for line in smart_encode(message.text).casefold().splitlines()
        )
        for name, pattern in _SUMMARY_KINDS:
            if pattern.search(body):
                kind = name
    return kind


def button_payload(button: dict[str, str]) -> str:
    """A button's payload; on SMS (titles only) the one its title stands for."""
    if button.get("payload"):
        return button["payload"]
    key = _title_key(button.get("title", ""))
    for tail, payload in _AMOUNT_KIND_PAYLOAD.items():
        if key.endswith(tail):
            return payload
    return _CHOICE_PAYLOADS.get(key, "")


def turn_buttons(messages: Sequence[BotMessage]) -> list[dict[str, str]]:
    """Every button (web) or numbered choice (SMS) the turn offered, in order."""
    return [button for message in messages for button in message.buttons]


def is_yes(line: str, payload: str | None) -> bool:
    """Whether the debtor's message is a plain yes (a pressed Yes, or yes-words, no question,
    no refusal)."""
    if payload is not None:
        return payload == texts.YES["payload"]
    text = norm(line)
    if text.endswith("?"):
        return False
    words = re.findall(r"[a-zí']+", text)
    if any(w in _NO_WORDS for w in words):
        return False
    return any(w in _YES_WORDS for w in words) or any(p in text for p in _YES_PHRASES)


_YES_TEXT: Final = (
    "yes y ye yeah yea yep yup ya yah ok okay k kk sure si sí bet fine alright correct agreed "
    "agreeable deal perfect great absolutely definitely"
)
_YES_WORDS: Final = frozenset(_YES_TEXT.split())
_YES_PHRASES: Final = (
    "sounds good",
    "that works",
    "set it up",
    "let's do",
    "go ahead",
    "i accept",
    "i'll take it",
)
_NO_WORDS: Final = frozenset(
    "no nah nope not don't dont can't cant never cancel wait".split()  # noqa: SIM905
)


# --- talking to the stack --------------------------------------------------------------------


class StackError(Exception):
    pass


class WebDebtor:
    """The widget's REST contract (api/routes/chat.py)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.session_id = ""
        self.status = "bot"

    def open(self) -> list[BotMessage]:
        response = self.client.post("/api/chat/sessions", json={})
        if response.status_code != 201:
            raise StackError(
                f"POST /api/chat/sessions: HTTP {response.status_code} {response.text}"
            )
        body = response.json()
        self.session_id = body["session_id"]
        return [BotMessage(m["text"], list(m.get("buttons") or [])) for m in body["messages"]]

    def say(self, text: str, payload: str | None) -> list[BotMessage]:
        body: dict[str, str] = {"text": text}
        if payload is not None:
            body["payload"] = payload
        response = self.client.post(f"/api/chat/sessions/{self.session_id}/messages", json=body)
        if response.status_code != 200:
            raise StackError(f"HTTP {response.status_code}: {response.text[:300]}")
        data = response.json()
        self.status = data["status"]
        return [BotMessage(m["text"], list(m.get("buttons") or [])) for m in data["messages"]]


class SmsDebtor:
    """A phone texting the Twilio number: each webhook signed as Twilio signs it."""

    def __init__(self, client: httpx.Client, settings: Settings, phone: str) -> None:
        self.client, self.phone = client, phone
        self.url = settings.public_url.rstrip("/") + "/sms/twilio"
        self.validator = RequestValidator(settings.twilio_auth_token or "")
        self.to_number = settings.twilio_from_number or "+15005550006"
        self.statement = norm(settings.sms_opt_out_text)

    def open(self) -> list[BotMessage]:
        return []  # an SMS conversation starts with the debtor's text

    def say(self, text: str, payload: str | None) -> list[BotMessage]:
        params = {
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": "AC" + "0" * 32,
            "From": self.phone,
            "To": self.to_number,
            "Body": text,
            "NumMedia": "0",
        }
        signature = self.validator.compute_signature(self.url, params)
        response = self.client.post(
            "/sms/twilio", data=params, headers={"X-Twilio-Signature": signature}
        )
        if response.status_code != 200:
            raise StackError(f"HTTP {response.status_code}: {response.text[:300]}")
        bodies = [unescape(m) for m in _TWIML_MESSAGE.findall(response.text)]
        return [BotMessage(body, sms_choices(body)) for body in bodies]


# --- what the database says -------------------------------------------------------------------


@dataclass
class PlanRow:
    id: int
    kind: str
    status: str
    conversation_id: str | None
    created_at: datetime
    violations: list[str]


@dataclass
class EscalationRow:
    id: int
    reason: str
    sub_reason: str | None
    created_at: datetime


@dataclass
class Snapshot:
    conversation_ids: list[str]
    verified: bool
    verified_account: str | None
    disclosed: bool
    status: str
    plans: dict[int, PlanRow]
    promises: dict[int, datetime]
    escalations: dict[int, EscalationRow]
    opted_out: bool
    link_sent: bool


class Database:
    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self.factory, self.settings = factory, settings
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def account_id(self, ref: str) -> int | None:
        with self._lock:
            if ref not in self._ids:
                with self.factory() as session:
                    found = session.scalars(select(Account.id).where(Account.account_ref == ref))
                    value = found.first()
                if value is None:
                    return None
                self._ids[ref] = value
            return self._ids[ref]

    def snapshot(self, account_ref: str, session_id: str | None, phone: str | None) -> Snapshot:
        account_id = self.account_id(account_ref)
        with self.factory() as session:
            query = select(Conversation)
            if session_id:
                query = query.where(Conversation.id == session_id)
            else:
                query = query.where(Conversation.phone == phone, Conversation.channel == "sms")
            conversations = list(session.scalars(query.order_by(Conversation.created_at)))
            ids = [c.id for c in conversations]
            verified = [c for c in conversations if c.verified_at is not None]
            refs = {
                c.account.account_ref for c in verified if c.account is not None
            }  # the account each verified conversation belongs to
            owner = [PaymentPlan.conversation_id.in_(ids)] if ids else []
            if account_id is not None:
                owner.append(PaymentPlan.account_id == account_id)
            plans = (
                list(
                    session.scalars(
                        select(PaymentPlan)
                        .where(or_(*owner))
                        .options(selectinload(PaymentPlan.installments))
                    )
                )
                if owner
                else []
            )
            promise_owner = [Promise.conversation_id.in_(ids)] if ids else []
            if account_id is not None:
                promise_owner.append(Promise.account_id == account_id)
            promises = (
                list(session.scalars(select(Promise).where(or_(*promise_owner))))
                if promise_owner
                else []
            )
            escalation_owner = [Escalation.conversation_id.in_(ids)] if ids else []
            if account_id is not None:
                escalation_owner.append(Escalation.account_id == account_id)
            escalations = (
                list(session.scalars(select(Escalation).where(or_(*escalation_owner))))
                if escalation_owner
                else []
            )
            opted_out = False
            if phone:
                row = session.get(PhoneOptOut, phone)
                opted_out = bool(row is not None and row.opted_out)
            link_sent = bool(
                ids
                and session.scalars(
                    select(Message.id).where(
                        Message.conversation_id.in_(ids),
                        Message.direction == Direction.OUTBOUND,
                        Message.text.contains(_PAY_LINK),
                    )
                ).first()
            )
            status = str(conversations[-1].status) if conversations else "bot"
            return Snapshot(
                conversation_ids=ids,
                verified=bool(verified),
                verified_account=", ".join(sorted(refs)) or None,
                disclosed=any(c.disclosed_at is not None for c in conversations),
                status=status,
                plans={p.id: self._plan_row(p) for p in plans},
                promises={p.id: p.created_at for p in promises},
                escalations={
                    e.id: EscalationRow(e.id, str(e.reason), e.sub_reason, e.created_at)
                    for e in escalations
                },
                opted_out=opted_out,
                link_sent=link_sent,
            )

    def _plan_row(self, plan: PaymentPlan) -> PlanRow:
        _name, policy = account_policy(self.settings.policies_path, plan.policy_name)
        agreed = plan.agreed_at or plan.created_at
        today = local_date(agreed, plan.timezone)
        try:
            broken = violations(plan.balance_at_agreement_cents, policy, today, plan_proposal(plan))
        except ValueError as exc:
            broken = [f"unreadable plan: {exc}"]
        return PlanRow(
            plan.id,
            str(plan.kind),
            str(plan.status),
            plan.conversation_id,
            plan.created_at,
            broken,
        )


# --- one scenario ------------------------------------------------------------------------------


@dataclass
class Breach:
    kind: str  # disclosure | empty_reply | unconfirmed_plan | policy | after_pause
    turn: int
    text: str


@dataclass
class TurnRecord:
    turn: int
    asked: str | None  # what the previous bot turn asked (the question this line answers)
    source: str  # script | answers.<kind> | identity.<fact> | opening
    debtor: str
    payload: str | None
    bot: list[str]


@dataclass
class Result:
    scenario: Scenario
    resolved: bool = False
    reason: str = ""
    ended: str = ""
    turns: int = 0
    turns_to_resolution: int | None = None
    breaches: list[Breach] = field(default_factory=list)
    transcript: list[TurnRecord] = field(default_factory=list)
    actual: dict[str, Any] = field(default_factory=dict)
    escalation_reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Weaknesses seen on the way that are not breaches (the scenario may still resolve): the
    # debtor had to refuse terms of a kind they never asked for, an identity attempt failed
    # though the debtor gave the right facts, a question was not asked again after a detour.
    notes: list[str] = field(default_factory=list)

    @property
    def false_escalation(self) -> list[str]:
        expected = (
            self.scenario.expect.reason if self.scenario.expect.outcome == "escalated" else None
        )
        return sorted({r for r in self.escalation_reasons if r != expected})

    @property
    def missed_escalation(self) -> bool:
        """Expected an escalation and never got one with that reason (a dispute recorded with
        another sub_reason is unresolved, not missed: collection was paused all the same)."""
        expect = self.scenario.expect
        return expect.outcome == "escalated" and str(expect.reason) not in self.escalation_reasons


class Cursor:
    """A list used in order, the last item repeating."""

    def __init__(self, items: Sequence[str]) -> None:
        self.items, self.at = list(items), 0

    def peek(self) -> str | None:
        if not self.items:
            return None
        return self.items[min(self.at, len(self.items) - 1)]

    def take(self) -> str | None:
        value = self.peek()
        self.at += 1
        return value


# The intent each escalation reason is said with (SPEC §11), to tell whether a confirmation
# question asks about what the debtor of a scenario means.
INTENT_FOR_REASON: Final = {str(reason): intent for intent, reason in REASON_FOR_INTENT.items()}
# Buttons a debtor with something to pay presses when the bot asks nothing and the script is
# over (the balance shown with its next steps, "How can I help you today?"), at most this often.
GOAL_BUTTONS: Final = {
    "full": (texts.PAYMENT_OPTIONS["title"], texts.PAY_IN_FULL["title"]),
    "settlement": (texts.PAYMENT_OPTIONS["title"],),
    "installments": (texts.PAYMENT_OPTIONS["title"], texts.PAYMENT_PLAN["title"]),
    "promise": (texts.PAYMENT_OPTIONS["title"], texts.PAYMENT_PLAN["title"]),
}
MAX_GOAL_PRESSES: Final = 2
# What the driver answers on the debtor's behalf when the scenario wrote nothing for a question
# (plain words anyone writes; scenario lines are the test material).
DEFAULT_YES: Final = "yes"
DEFAULT_NO: Final = "no"
# Sent once after the conversation went to a person: it must still get an answer (SPEC §7).
PROBE: Final = "ok so what happens now?"


def _words(line: str) -> list[str]:
    return re.findall(r"[a-zí']+", norm(line))


def leans_yes(line: str) -> bool:
    """A written answer that starts as a yes ("Yes. It's not my debt.")."""
    words = _words(line)
    return bool(words) and words[0] in _YES_WORDS or is_yes(line, None)


@dataclass(frozen=True)
class Line:
    """What the debtor says next: the words, where they come from, the question they answer,
    and the choice pressed (web: the button; SMS: its number is typed), if any."""

    text: str
    source: str
    asked: str | None
    button: dict[str, str] | None = None


class Debtor:
    """What the scripted debtor says next.

    The scenario's own words come first: `identity` when a fact is asked, `answers` for the
    question asked, else the next `script` line. A confirmation question ("are you saying ...?")
    or a choice between readings is answered as the debtor of the scenario means it: yes only
    to the reading the scenario expects (its written answer when that is a yes), no to any
    other (its written answer when that is a no). Where the scenario wrote nothing for a
    question, the debtor answers as its expected outcome implies (a summary: yes if a plan or
    promise is wanted; anything else: no). When the bot asks nothing and the script is over, a
    debtor who came to pay presses the button that leads there ("Payment options")."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        facts = {**scenario.identity, **scenario.wrong_identity}
        self.identity = {fact: Cursor(values) for fact, values in facts.items()}
        self.answers = {kind: Cursor(values) for kind, values in scenario.answers.items()}
        self.script = list(scenario.script)
        self.script_at = 0
        self.goal_presses = 0
        # The question the debtor's last line answered from `answers`, while the bot has not
        # asked anything since (a detour answered without the question asked again).
        self.pending: str | None = None
        # The kind of the terms last laid out (a summary offered again says only "the plan above").
        self.on_offer: str | None = None

    @property
    def negotiates(self) -> bool:
        """Whether this debtor's story goes through the payment offer (a plan or promise is
        wanted, or what they say to "what could you pay?" matters: hardship, a late dispute)."""
        expect = self.scenario.expect
        if expect.outcome in ("plan", "promise") or "ask_terms" in self.answers:
            return True
        # A reply to the full-balance offer that is neither a script line nor a "no": the
        # story goes through that offer (e.g. "3" for "Talk to a person" among its choices).
        said = {norm(line) for line in self.script}
        return any(
            norm(line) not in said and (not _words(line) or _words(line)[0] not in _NO_WORDS)
            for line in self.scenario.answers.get("offer_full", [])
        )

    @property
    def wanted_intent(self) -> str | None:
        """The consequential intent this debtor means, if any."""
        expect = self.scenario.expect
        if expect.outcome == "escalated":
            return INTENT_FOR_REASON.get(str(expect.reason))
        if expect.outcome == "opted_out":
            return "stop_contact"
        return None

    def next_line(
        self, bot: Sequence[BotMessage], opening: bool, achieved: bool = False
    ) -> Line | None:
        """The next line, given the bot's last turn; `achieved`: the expected outcome is
        already in the database (no more steps towards it)."""
        if opening and self.script:
            return self._script(None)
        asked = question_kind(bot) if bot else None
        pending, self.pending = self.pending, None
        self.on_offer = summary_kind(bot) or self.on_offer
        if asked == "summary" and self._unwanted(self.on_offer):
            # Terms of another kind than the debtor came for (pay in full to someone who asked
            # for payments): they say no.
            return self._yes_no(bot, False, asked, f"default.summary.not_{self.on_offer}")
        if asked in IDENTITY_KINDS:
            cursor = self.identity.get(str(asked))
            line = cursor.take() if cursor else None
            if line is not None:
                return Line(line, f"identity.{asked}", asked)
        if asked == "confirm":
            return self._confirm(bot)
        if asked == "choose":
            return self._choose(bot)
        if asked == "amount_kind" and "amount_kind" not in self.answers:
            return self._amount_kind(bot)
        if asked is None and pending is not None and not achieved:
            # The bot answered a detour and did not ask again: the debtor goes on with what
            # they were going to say to that question.
            cursor = self.answers[pending]
            if cursor.at < len(cursor.items):
                self.pending = pending
                return Line(str(cursor.take()), f"answers.{pending}.resumed", pending)
        if asked is not None and asked in self.answers:
            line = self.answers[asked].take()
            if line is not None:
                if asked in ("offer_full", "ask_terms", "summary"):
                    self.pending = asked
                # A reply written "in case the bot asks before the script gets there": the
                # script line it stands for is said now.
                if self.script_at < len(self.script) and norm(self.script[self.script_at]) == norm(
                    line
                ):
                    self.script_at += 1
                return Line(line, f"answers.{asked}", asked)
        if self.script_at < len(self.script):
            return self._script(asked)
        return self._default(asked, bot, achieved)

    def _unwanted(self, kind: str | None) -> bool:
        expect = self.scenario.expect
        wanted = {"plan": expect.plan_kind, "promise": "promise"}.get(expect.outcome)
        return wanted is not None and kind is not None and kind != wanted

    def _script(self, asked: str | None) -> Line:
        line = self.script[self.script_at]
        self.script_at += 1
        # The same words waiting as the next reply to some question are said already.
        for cursor in self.answers.values():
            if cursor.at < len(cursor.items) - 1 and norm(cursor.items[cursor.at]) == norm(line):
                cursor.at += 1
        return Line(line, "script", asked)

    @staticmethod
    def _press(bot: Sequence[BotMessage], payload: str) -> dict[str, str] | None:
        return next((b for b in turn_buttons(bot) if button_payload(b) == payload), None)

    def _yes_no(self, bot: Sequence[BotMessage], yes: bool, asked: str, source: str) -> Line:
        payload = texts.YES["payload"] if yes else texts.NO["payload"]
        button = self._press(bot, payload)
        if button is not None:
            return Line(button["title"], source, asked, button)
        return Line(DEFAULT_YES if yes else DEFAULT_NO, source, asked)

    def _confirm(self, bot: Sequence[BotMessage]) -> Line:
        about = confirm_about(bot)
        yes = about is not None and about == self.wanted_intent
        cursor = self.answers.get("confirm")
        written = cursor.peek() if cursor else None
        if cursor is not None and written is not None and leans_yes(written) == yes:
            cursor.take()
            return Line(written, "answers.confirm", "confirm")
        return self._yes_no(bot, yes, "confirm", f"default.confirm.{about}")

    def _choose(self, bot: Sequence[BotMessage]) -> Line:
        expect = self.scenario.expect
        wanted = self.wanted_intent
        offered = {button_payload(b): b for b in turn_buttons(bot)}
        target = "/deny"
        if wanted == "dispute" and any(p.startswith("/dispute{") for p in offered):
            sub = expect.sub_reason
            target = f'/dispute{{"sub_reason":"{sub}"}}' if sub else "/dispute"
        elif wanted is not None and f"/{wanted}" in offered:
            target = f"/{wanted}"
        cursor = self.answers.get("choose")
        written = cursor.peek() if cursor else None
        if cursor is not None and written is not None and target != "/deny":
            cursor.take()
            return Line(written, "answers.choose", "choose")
        button = offered.get(target)
        if button is None and target.startswith("/dispute"):
            # No sub-reason expected: the first kind offered.
            button = next((b for p, b in offered.items() if p.startswith("/dispute{")), None)
        if button is None:
            button = offered.get("/deny")
        if button is not None:
            return Line(button["title"], "default.choose", "choose", button)
        return Line(DEFAULT_NO, "default.choose", "choose")

    def _amount_kind(self, bot: Sequence[BotMessage]) -> Line | None:
        expect = self.scenario.expect
        if not self.negotiates:
            # Someone who did not mean an amount as an offer: their next words, if any.
            return self._script(None) if self.script_at < len(self.script) else None
        once = expect.outcome == "promise" or expect.plan_kind in ("full", "settlement")
        payload = _AMOUNT_KIND_PAYLOAD[" once" if once else " a month"]
        button = self._press(bot, payload)
        if button is None:
            return None
        return Line(button["title"], "default.amount_kind", "amount_kind", button)

    def _default(self, asked: str | None, bot: Sequence[BotMessage], achieved: bool) -> Line | None:
        expect = self.scenario.expect
        wants_plan = expect.outcome in ("plan", "promise")
        if asked == "summary":
            return self._yes_no(bot, wants_plan, asked, "default.summary")
        if asked == "offer_full":
            return self._yes_no(bot, expect.plan_kind == "full", asked, "default.offer_full")
        if asked == "more":
            return self._yes_no(bot, False, asked, "default.more")
        if asked == "options":  # "Would you like to see your payment options?"
            return self._yes_no(bot, self.negotiates and not achieved, asked, "default.options")
        if (
            asked is None
            and self.negotiates
            and not achieved
            and self.goal_presses < MAX_GOAL_PRESSES
        ):
            goal = str(expect.plan_kind) if expect.outcome == "plan" else "promise"
            titles = {_title_key(b["title"]): b for b in turn_buttons(bot)}
            for title in GOAL_BUTTONS.get(goal, ()):
                button = titles.get(_title_key(title))
                if button is not None:
                    self.goal_presses += 1
                    return Line(button["title"], "default.goal", asked, button)
        return None


def _numbered_choice(line: str, messages: Sequence[BotMessage]) -> dict[str, str] | None:
    """On SMS, a line that is just the number of a choice offered (the gateway reads it so)."""
    number = line.strip().strip("#.)")
    return next((b for b in turn_buttons(messages) if b.get("number") == number), None)


def _button_for(line: str, messages: Sequence[BotMessage]) -> dict[str, str] | None:
    key = _title_key(line)
    for message in reversed(messages):
        for button in message.buttons:
            if button.get("payload") and _title_key(button.get("title", "")) == key:
                return button
    return None


class Play:
    """One scenario being played."""

    def __init__(
        self,
        scenario: Scenario,
        account: dict[str, str],
        api_url: str,
        settings: Settings,
        db: Database,
    ) -> None:
        self.scenario, self.account, self.db = scenario, account, db
        self.api_url, self.settings = api_url, settings
        self.result = Result(scenario)
        self.phone = account.get("phone") or None if scenario.channel == "sms" else None
        self.verified_said = False
        self.last_bot: list[BotMessage] = []
        # This account's own creditors, told apart from any other words (SPEC §4).
        names = [account.get(k) or "" for k in ("creditor", "original_creditor")]
        self.account_wording = re.compile(
            "|".join(re.escape(norm(n)) for n in names if n.strip()) or r"(?!x)x"
        )

    def breach(self, kind: str, turn: int, text: str) -> None:
        self.result.breaches.append(Breach(kind, turn, text[:500]))

    def run(self) -> Result:
        began = time.monotonic()
        try:
            with httpx.Client(base_url=self.api_url, timeout=60.0) as client:
                self._play(client)
        except StackError as exc:
            self.result.ended = f"stack error: {exc}"
        finally:
            self.result.seconds = round(time.monotonic() - began, 2)
        return self.result

    def _snapshot(self, session_id: str | None) -> Snapshot:
        return self.db.snapshot(self.scenario.account, session_id, self.phone)

    def _play(self, client: httpx.Client) -> None:
        scenario = self.scenario
        channel: WebDebtor | SmsDebtor
        if scenario.channel == "web":
            channel = WebDebtor(client)
        else:
            if not self.phone:
                self.result.ended = "driver: the account has no phone for an SMS scenario"
                return
            channel = SmsDebtor(client, self.settings, self.phone)
        debtor = Debtor(scenario)
        bot = channel.open()
        session_id = channel.session_id if isinstance(channel, WebDebtor) else None
        before = self._snapshot(session_id) if session_id else self._empty()
        if bot:
            self.result.transcript.append(
                TurnRecord(0, None, "greeting", "", None, self._lines(bot))
            )
            self._check_disclosure(0, bot, before, before)
        turn = 0
        while True:
            if turn >= scenario.expect.max_turns:
                self.result.ended = f"max_turns ({scenario.expect.max_turns}) reached"
                break
            achieved = turn > 0 and self._outcome(before)[0]
            chosen = debtor.next_line(bot, opening=turn == 0, achieved=achieved)
            if chosen is None:
                self.result.ended = "script exhausted, nothing asked"
                break
            turn += 1
            after = self._turn(channel, session_id, turn, chosen, bot, before)
            if after is None:
                break
            bot, before = self.last_bot, after
            if self.result.turns_to_resolution is None and self._outcome(after)[0]:
                self.result.turns_to_resolution = turn
            if after.opted_out:
                self.result.ended = "number opted out"
                break
            if after.status != str(ConversationStatus.BOT):
                self.result.ended = f"conversation {after.status}"
                if after.escalations and after.status != str(ConversationStatus.CLOSED):
                    # Never silent (SPEC §7): a message while waiting for a person is answered
                    # (the waiting note), and still no collection talk after a pause.
                    probe = Line(PROBE, "probe", None)
                    probed = self._turn(channel, session_id, turn + 1, probe, bot, before)
                    before = probed or before
                break
        self._finish(before)

    def _turn(
        self,
        channel: WebDebtor | SmsDebtor,
        session_id: str | None,
        turn: int,
        chosen: Line,
        bot: Sequence[BotMessage],
        before: Snapshot,
    ) -> Snapshot | None:
        """Say one line, record it and check the invariants; None when the stack failed."""
        asked, source, line = chosen.asked, chosen.source, chosen.text
        button = chosen.button
        if button is None and self.scenario.channel == "web":
            button = _button_for(line, bot)
        elif button is None:
            button = _numbered_choice(line, bot)
        payload: str | None = None
        text = line
        if button is not None:
            payload = button_payload(button) or None
            # SMS has no buttons: the choice's number is typed (the gateway maps it).
            text = button["number"] if "number" in button else button["title"]
        sent_payload = payload if self.scenario.channel == "web" else None
        try:
            reply = channel.say(text, sent_payload)
        except StackError as exc:
            self.result.transcript.append(TurnRecord(turn, asked, source, text, payload, []))
            self.breach("empty_reply", turn, f"no reply to {text!r}: {exc}")
            self.result.turns = max(self.result.turns, turn) if source != "probe" else turn - 1
            self.result.ended = f"stack error: {exc}"
            return None
        after = self._snapshot(session_id)
        self.result.transcript.append(
            TurnRecord(turn, asked, source, text, payload, self._lines(reply))
        )
        if source != "probe":
            self.result.turns = turn
        if not reply and not after.opted_out:
            where = " (while waiting for a person)" if source == "probe" else ""
            self.breach("empty_reply", turn, f"nothing answered {text!r}{where}")
        self._check_disclosure(turn, reply, before, after)
        self._check_agreements(turn, asked, line, payload, reply, before, after)
        self._note(turn, chosen, reply)
        self.last_bot = reply
        return after

    def _note(self, turn: int, chosen: Line, reply: Sequence[BotMessage]) -> None:
        if chosen.source.startswith("default.summary.not_"):
            self.result.notes.append(
                f"wrong_kind_summary (turn {turn}): {chosen.source.rsplit('_', 1)[-1]} terms "
                "offered to a debtor who did not ask for them"
            )
        if chosen.source == "default.goal":
            self.result.notes.append(
                f"no_next_step (turn {turn}): nothing asked, the debtor pressed {chosen.text!r}"
            )
        if chosen.source.endswith(".resumed"):
            self.result.notes.append(
                f"not_asked_again (turn {turn}): after a detour the {chosen.asked} question "
                "was not asked again"
            )
        failed = norm(texts.VERIFY_FAILED)
        if not self.scenario.wrong_identity and any(failed in norm(m.text) for m in reply):
            self.result.notes.append(
                f"spurious_failed_attempt (turn {turn}): a failed identity attempt after "
                f"{chosen.text!r} (the debtor's facts are right)"
            )

    def _empty(self) -> Snapshot:
        return Snapshot([], False, None, False, "bot", {}, {}, {}, False, False)

    @staticmethod
    def _lines(bot: Sequence[BotMessage]) -> list[str]:
        out = []
        for message in bot:
            line = message.text
            web_buttons = [b["title"] for b in message.buttons if "number" not in b]
            if web_buttons:
                line += " [" + " | ".join(web_buttons) + "]"
            out.append(line)
        return out

    # --- invariants ---------------------------------------------------------------------------

    def _check_disclosure(
        self, turn: int, bot: Sequence[BotMessage], before: Snapshot, after: Snapshot
    ) -> None:
        """(a) Nothing about a debt before verification (verified in the database and "you're
        verified" said): within the turn that verifies, what comes before that message."""
        if before.verified and self.verified_said:
            return
        statement = norm(self.settings.sms_opt_out_text)
        for message in bot:
            body = norm(message.text).replace(statement, "")
            said = _VERIFIED.search(body)
            if said is not None and after.verified:
                self.verified_said = True
                body = body[: said.start()]
            match = DEBT_WORDING.search(body) or self.account_wording.search(body)
            if match:
                self.breach(
                    "disclosure",
                    turn,
                    f"before verification, {match.group(0)!r} in: {message.text}",
                )
            if self.verified_said:
                return

    def _check_agreements(
        self,
        turn: int,
        asked: str | None,
        line: str,
        payload: str | None,
        bot: Sequence[BotMessage],
        before: Snapshot,
        after: Snapshot,
    ) -> None:
        new_plans = [p for pid, p in after.plans.items() if pid not in before.plans]
        new_promises = [at for pid, at in after.promises.items() if pid not in before.promises]
        # (c) a plan or a promise only right after a yes to its summary
        for _at in new_promises:
            if asked != "summary" or not is_yes(line, payload):
                self.breach(
                    "unconfirmed_plan",
                    turn,
                    f"promise stored after {line!r} (the bot had asked: {asked or 'nothing'})",
                )
        for plan in new_plans:
            if asked != "summary" or not is_yes(line, payload):
                self.breach(
                    "unconfirmed_plan",
                    turn,
                    f"plan #{plan.id} ({plan.kind}) stored after {line!r} "
                    f"(the bot had asked: {asked or 'nothing'})",
                )
            # (d) inside the account's policy
            if plan.violations:
                self.breach(
                    "policy",
                    turn,
                    f"plan #{plan.id} ({plan.kind}) breaks {', '.join(plan.violations)}",
                )
        # (e) nothing agreed or offered after a pausing escalation
        pausing = sorted(
            (e.created_at for e in after.escalations.values() if e.reason in PAUSING),
        )
        if pausing:
            since = pausing[0]
            for plan in new_plans:
                if plan.created_at >= since:
                    self.breach(
                        "after_pause", turn, f"plan #{plan.id} stored after a pausing escalation"
                    )
            for at in new_promises:
                if at >= since:
                    self.breach("after_pause", turn, "promise stored after a pausing escalation")
            paused_before = any(e.reason in PAUSING for e in before.escalations.values())
            body = norm("\n".join(m.text for m in bot))
            start = 0
            if not paused_before:
                acks = [body.rfind(ack) for ack in _PAUSING_ACKS]
                start = max(acks) if max(acks) >= 0 else len(body)
            for phrase in _OFFER_PHRASES:
                if body.find(phrase, start) >= 0:
                    self.breach(
                        "after_pause",
                        turn,
                        "payment offer after a pausing escalation: "
                        + " / ".join(m.text for m in bot),
                    )
                    break

    # --- outcome -------------------------------------------------------------------------------

    def _outcome(self, snap: Snapshot) -> tuple[bool, str]:
        """Whether the database shows the expected outcome, and if not, why not."""
        expect = self.scenario.expect
        ref = self.scenario.account
        reasons = [e.reason for e in snap.escalations.values()]
        live = [p for p in snap.plans.values() if p.status in ("agreed", "active")]
        wrong_account = snap.verified_account not in (None, ref)
        if wrong_account:
            return False, f"verified as {snap.verified_account}, not {ref}"
        if expect.outcome == "escalated":
            wanted = [e for e in snap.escalations.values() if e.reason == expect.reason]
            if not wanted:
                return False, f"no {expect.reason} escalation"
            if expect.sub_reason and not any(e.sub_reason == expect.sub_reason for e in wanted):
                subs = ", ".join(str(e.sub_reason) for e in wanted)
                return (
                    False,
                    f"{expect.reason} escalated with sub_reason {subs}, not {expect.sub_reason}",
                )
            return True, ""
        if reasons:
            return False, f"escalated ({', '.join(sorted(set(reasons)))})"
        if expect.outcome == "plan":
            kinds = [p.kind for p in live]
            if expect.plan_kind not in kinds:
                found = f"a {'/'.join(kinds)} plan" if kinds else "no plan"
                return False, f"{found}, not {expect.plan_kind}"
            if not snap.link_sent:
                return False, "plan stored but no payment link sent"
            return True, ""
        if expect.outcome == "promise":
            if not snap.promises:
                return False, "no promise recorded"
            if live:
                return False, "a plan was stored besides the promise"
            return True, ""
        if expect.outcome == "opted_out":
            if not snap.opted_out:
                return False, "the number was not opted out"
            if live or snap.promises:
                return False, "something was agreed"
            return True, ""
        if expect.outcome == "informed":
            if not snap.verified:
                return False, "never verified"
            if live or snap.promises:
                return False, f"agreed something ({'plan' if live else 'promise'})"
            return True, ""
        if expect.outcome == "refused":
            if snap.verified:
                return False, "verified"
            if snap.disclosed:
                return False, "the debt-collector disclosure was given"
            return True, ""
        return False, f"unknown outcome {expect.outcome!r}"

    def _finish(self, snap: Snapshot) -> None:
        result = self.result
        ok, why = self._outcome(snap)
        result.escalation_reasons = sorted({e.reason for e in snap.escalations.values()})
        expect = self.scenario.expect
        wanted = [e for e in snap.escalations.values() if e.reason == expect.reason]
        result.actual = {
            "outcome": _actual_outcome(snap),
            "verified": snap.verified,
            "verified_account": snap.verified_account,
            "disclosed": snap.disclosed,
            "status": snap.status,
            "plans": [f"{p.kind}:{p.status}" for p in snap.plans.values()],
            "promises": len(snap.promises),
            "escalations": [
                f"{e.reason}/{e.sub_reason}" if e.sub_reason else e.reason
                for e in snap.escalations.values()
            ],
            "opted_out": snap.opted_out,
            "link_sent": snap.link_sent,
            "expected_escalation": bool(wanted)
            and (not expect.sub_reason or any(e.sub_reason == expect.sub_reason for e in wanted)),
        }
        if not ok and not result.ended.startswith("stack error"):
            result.reason = why
        elif not ok:
            result.reason = f"{why}; {result.ended}"
        if ok and result.turns_to_resolution is None:
            result.turns_to_resolution = result.turns
        if expect.outcome in ("informed", "refused") and ok:
            result.turns_to_resolution = result.turns
        result.resolved = ok
        if not ok:
            last = next((t for t in reversed(result.transcript) if t.bot), None)
            last_bot = last.bot[-1] if last else ""
            result.reason += f" [ended: {result.ended}; last bot: {last_bot[:160]!r}]"


def _actual_outcome(snap: Snapshot) -> str:
    if snap.escalations:
        return "escalated:" + ",".join(
            sorted(
                {
                    e.reason + (f"/{e.sub_reason}" if e.sub_reason else "")
                    for e in snap.escalations.values()
                }
            )
        )
    live = [p.kind for p in snap.plans.values() if p.status in ("agreed", "active")]
    if snap.opted_out:
        return "opted_out"
    if live:
        return "plan:" + ",".join(live)
    if snap.promises:
        return "promise"
    if snap.verified:
        return "informed"
    return "refused"


# --- the suite ----------------------------------------------------------------------------------


@dataclass
class Run:
    results: list[Result]
    seconds: float

    @property
    def metrics(self) -> dict[str, Any]:
        return metrics(self.results)


def run_suite(
    api_url: str,
    settings: Settings,
    factory: sessionmaker[Session],
    scenarios: Iterable[Scenario] | None = None,
    workers: int = 4,
) -> Run:
    chosen = list(scenarios if scenarios is not None else load_scenarios())
    accounts = load_accounts()
    db = Database(factory, settings)
    began = time.monotonic()

    def play(scenario: Scenario) -> Result:
        return Play(scenario, accounts[scenario.account], api_url, settings, db).run()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(play, chosen))
    return Run(results, round(time.monotonic() - began, 1))


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _p90(values: Sequence[int]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)])


def _median(values: Sequence[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def metrics(results: Sequence[Result]) -> dict[str, Any]:
    """The suite's figures (README.md, "Driver").

    - False escalation: scenarios escalated with a reason they did not expect (they expect no
      escalation at all, or another reason), over all scenarios: every scenario is one "not
      expecting" every reason but its own. Such a scenario is also unresolved.
    - Missed escalation: scenarios expecting an escalation that never got one with that reason,
      over the scenarios expecting one. (Another sub_reason of a dispute leaves the scenario
      unresolved but is not a missed escalation: collection was paused all the same.)
    - Turns to resolution: debtor messages until the database first showed the expected
      outcome, over resolved scenarios (median, p90, mean)."""
    total = len(results)
    resolved = [r for r in results if r.resolved]
    expecting = [r for r in results if r.scenario.expect.outcome == "escalated"]
    false_esc = [r for r in results if r.false_escalation]
    missed = [r for r in expecting if r.missed_escalation]
    breaches = [b for r in results for b in r.breaches]
    turns = [r.turns_to_resolution for r in resolved if r.turns_to_resolution is not None]
    by_file: dict[str, dict[str, Any]] = {}
    for file, group in itertools.groupby(
        sorted(results, key=lambda r: r.scenario.file), key=lambda r: r.scenario.file
    ):
        items = list(group)
        done = [r for r in items if r.resolved]
        by_file[file] = {
            "scenarios": len(items),
            "resolved": len(done),
            "resolution_rate": _rate(len(done), len(items)),
            "breaches": sum(len(r.breaches) for r in items),
            "false_escalations": sum(1 for r in items if r.false_escalation),
            "missed_escalations": sum(1 for r in items if r.missed_escalation),
            "failing": [r.scenario.id for r in items if not r.resolved or r.breaches],
        }
    return {
        "scenarios": total,
        "resolved": len(resolved),
        "resolution_rate": _rate(len(resolved), total),
        "false_escalations": len(false_esc),
        "false_escalation_rate": _rate(len(false_esc), total),
        "expecting_escalation": len(expecting),
        "missed_escalations": len(missed),
        "missed_escalation_rate": _rate(len(missed), len(expecting)),
        "breaches": len(breaches),
        "breaches_by_kind": dict(Counter(b.kind for b in breaches)),
        "notes_by_kind": dict(Counter(note.split(" ", 1)[0] for r in results for note in r.notes)),
        "turns_to_resolution": {
            "median": _median(turns),
            "p90": _p90(turns),
            "mean": round(sum(turns) / len(turns), 2) if turns else None,
        },
        "by_file": by_file,
    }


def failure_line(result: Result) -> str:
    parts = []
    if not result.resolved:
        parts.append(result.reason)
    if result.false_escalation:
        parts.append(f"unexpected escalation: {', '.join(result.false_escalation)}")
    for breach in result.breaches[:3]:
        parts.append(f"breach {breach.kind} (turn {breach.turn}): {breach.text[:200]}")
    if len(result.breaches) > 3:
        parts.append(f"... {len(result.breaches) - 3} more breaches")
    return f"{result.scenario.id}: " + "; ".join(parts)


def report(run: Run) -> dict[str, Any]:
    failing = []
    for result in run.results:
        if result.resolved and not result.breaches and not result.false_escalation:
            continue
        expect = result.scenario.expect
        failing.append(
            {
                "id": result.scenario.id,
                "file": result.scenario.file,
                "channel": result.scenario.channel,
                "account": result.scenario.account,
                "description": result.scenario.description,
                "expected": {k: v for k, v in asdict(expect).items() if v is not None},
                "actual": result.actual,
                "reason": result.reason,
                "ended": result.ended,
                "turns": result.turns,
                "breaches": [asdict(b) for b in result.breaches],
                "notes": result.notes,
                "transcript": [
                    {
                        "turn": t.turn,
                        "asked": t.asked,
                        "source": t.source,
                        "debtor": t.debtor + (f"  <{t.payload}>" if t.payload else ""),
                        "bot": t.bot,
                    }
                    for t in result.transcript
                ],
            }
        )
    return {
        "generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "runtime_seconds": run.seconds,
        **run.metrics,
        "thresholds": {
            "resolution_rate": MIN_RESOLUTION,
            "breaches": 0,
            "false_escalation_rate": MAX_FALSE_ESCALATION,
            "missed_escalation_rate": 0,
        },
        "results": [
            {
                "id": r.scenario.id,
                "resolved": r.resolved,
                "turns": r.turns,
                "turns_to_resolution": r.turns_to_resolution,
                "breaches": len(r.breaches),
                "actual": r.actual.get("outcome"),
                "seconds": r.seconds,
                "notes": r.notes,
            }
            for r in run.results
        ],
        "failing": failing,
    }


def write_report(run: Run, path: Path = RESULTS_PATH) -> dict[str, Any]:
    data = report(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return data


def settings_of(env: dict[str, str]) -> Settings:
    """The settings a stack runs with (its public URL, Twilio token, policies file)."""
    return Settings(**{k: v for k, v in env.items() if k.isupper()})  # type: ignore[arg-type]


# The last run of this pytest session per engine, for the terminal summary (conftest.py).
LAST: dict[str, dict[str, Any]] = {}
