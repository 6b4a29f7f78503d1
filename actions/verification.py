"""Identity verification in the chat (SPEC §4): the form's validation and what follows it.

The validation action reads the facts from the message text itself (the slots use custom
mappings): a date of birth, ZIP or SSN last-4 anywhere in a message fills its slot, the last
name only when it was asked for. Facts live in the tracker only until they are checked, and
only sealed (their keyed hashes, `parley.verification.factors.seal`): Rasa persists every slot
value, and a plain date of birth there would outlive the check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from sqlalchemy.orm import Session

from actions import texts
from actions.balance import add_balance, add_details, disclose_if_needed
from actions.common import (
    FACT_SLOTS,
    INTENT_CONFIDENCE,
    Reply,
    Turn,
    in_transaction,
    latest_text,
    pending_request,
    runtime,
)
from actions.escalation import escalate_and_say
from actions.negotiation import negotiate
from parley.conversations import state as conversations
from parley.escalations.reasons import REASON_FOR_INTENT
from parley.escalations.rules import escalate
from parley.models import EscalationReason
from parley.verification.check import VerificationResult, check_identity
from parley.verification.factors import parse_zip, seal
from parley.verification.facts import extract_facts, extract_last_name

# Only these intents are answers to the form's questions. Any other intent recognised with
# confidence (a balance question, "agent", "stop") interrupts: no slot is filled, the form
# rejects and the rules answer, so "whats my balance" is never taken for a last name.
ANSWER_INTENTS = frozenset({"inform", "nlu_fallback"})
# Surnames are words the classifier has never seen, so one can come back as, say, `affirm` at
# 0.49. When the message holds exactly the fact that was asked for, it is an answer unless the
# classifier is this sure it is something else ("whats my balance", "agent").
FACT_OVERRIDES_BELOW = 0.7
PAYMENT_INTENTS = frozenset(
    {
        "pay_in_full",
        "request_payment_plan",
        "offer_payment",
        "ask_settlement",
        "ask_payment_options",
    }
)
ESCALATING_INTENTS = frozenset({"dispute", "bankruptcy", "attorney", "hardship"})
PENDING_INTENTS = (
    PAYMENT_INTENTS | ESCALATING_INTENTS | frozenset({"ask_balance", "ask_debt_details"})
)


@dataclass(frozen=True)
class _State:
    verified: bool
    account_id: str | None
    locked: bool


def _clear_facts() -> list[EventType]:
    return [SlotSet(slot, None) for slot in FACT_SLOTS]


class ValidateVerificationForm(FormValidationAction):
    def name(self) -> str:
        return "validate_verification_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        """The configured factors in the configured order; none once verified or locked, which
        ends the form."""
        if tracker.get_slot("verified") or tracker.get_slot("verification_locked"):
            return []
        return list(runtime().settings.verification_factors)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turn = Turn.of(tracker)

        def load(session: Session) -> _State:
            conversation = conversations.get_or_create(session, turn.conversation_id)
            verified = conversations.is_verified(conversation)
            return _State(
                verified=verified,
                account_id=str(conversation.account_id) if verified else None,
                locked=conversations.is_locked(conversation),
            )

        state = await in_transaction(turn, load)
        if state.verified:
            return [
                SlotSet("verified", True),
                SlotSet("account_id", state.account_id),
                *_clear_facts(),
                SlotSet(REQUESTED_SLOT, None),
            ]
        if state.locked:
            return [
                SlotSet("verification_locked", True),
                *_clear_facts(),
                SlotSet(REQUESTED_SLOT, None),
            ]

        requested = tracker.get_slot(REQUESTED_SLOT)
        if requested is not None and self._interrupts(
            turn.intent, turn.confidence, turn.text, requested
        ):
            return []

        events: list[EventType] = []
        if tracker.get_slot("verification_locked"):  # the lock has expired
            events.append(SlotSet("verification_locked", False))
            tracker.slots["verification_locked"] = False
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        values = {slot: tracker.get_slot(slot) for slot in required}
        if requested is None:  # activation: the triggering message is a request, not an answer
            return events + [SlotSet(REQUESTED_SLOT, _first_missing(required, values))]

        extracted = _sealed(
            self._extract(latest_text(tracker), requested, required), runtime().settings.secret_key
        )
        events += [SlotSet(slot, value) for slot, value in extracted.items()]
        values.update(extracted)
        if not extracted and requested in required:
            dispatcher.utter_message(text=texts.FORMAT_HINTS[requested])
            events.append(SlotSet(requested, None))

        missing = _first_missing(required, values)
        if missing is not None:
            return events + [SlotSet(REQUESTED_SLOT, missing)]
        return events + await self._check(dispatcher, turn, values, required)

    @classmethod
    def _interrupts(cls, intent: str | None, confidence: float, text: str, requested: str) -> bool:
        """Whether the message is something other than an answer to the form's question."""
        if intent in ANSWER_INTENTS or confidence < INTENT_CONFIDENCE:
            return False
        if confidence < FACT_OVERRIDES_BELOW:
            factors = list(runtime().settings.verification_factors)
            return requested not in cls._extract(text, requested, factors)
        return True

    @staticmethod
    def _extract(text: str, requested: str, required: list[str]) -> dict[str, str]:
        facts = extract_facts(text)
        found: dict[str, str] = {}
        if facts.dob is not None and "date_of_birth" in required:
            found["date_of_birth"] = facts.dob.isoformat()
        if facts.zip_or_ssn4 is not None and "zip_or_ssn4" in required:
            found["zip_or_ssn4"] = facts.zip_or_ssn4
        if requested == "last_name" and "last_name" in required:
            name = extract_last_name(facts.rest)
            if name is not None:
                found["last_name"] = name
        return found

    @staticmethod
    async def _check(
        dispatcher: CollectingDispatcher, turn: Turn, values: dict[str, Any], required: list[str]
    ) -> list[EventType]:
        """Check all facts at once; the reply never says which fact was wrong."""
        settings = runtime().settings

        def work(session: Session) -> VerificationResult:
            conversations.get_or_create(session, turn.conversation_id)
            return check_identity(
                session,
                conversation_id=turn.conversation_id,
                last_name=values.get("last_name"),
                dob=values.get("date_of_birth"),
                zip_or_ssn4=values.get("zip_or_ssn4"),
                secret=settings.secret_key,
                max_attempts=settings.verification_max_attempts,
                lockout_minutes=settings.verification_lockout_minutes,
                factors=required,
            )

        result = await in_transaction(turn, work)
        if result.status == "verified":
            return [
                SlotSet("verified", True),
                SlotSet("account_id", str(result.account_id)),
                *_clear_facts(),
                SlotSet(REQUESTED_SLOT, None),
            ]
        if result.status == "locked":
            dispatcher.utter_message(text=texts.VERIFY_FAILED_FINAL)
            return [
                SlotSet("verification_locked", True),
                *_clear_facts(),
                SlotSet(REQUESTED_SLOT, None),
            ]
        dispatcher.utter_message(text=texts.VERIFY_FAILED)
        return [*_clear_facts(), SlotSet(REQUESTED_SLOT, required[0])]


def _sealed(found: dict[str, str], secret: str) -> dict[str, str]:
    """The facts with the date of birth and the ZIP / SSN last-4 sealed (the name stays: the
    accounts table holds it in plain text too)."""
    sealed = dict(found)
    if "date_of_birth" in found:
        sealed["date_of_birth"] = seal(secret, "dob", found["date_of_birth"])
    if "zip_or_ssn4" in found:
        value = found["zip_or_ssn4"]
        sealed["zip_or_ssn4"] = seal(secret, "zip" if parse_zip(value) else "ssn4", value)
    return sealed


def _first_missing(required: list[str], values: dict[str, Any]) -> str | None:
    return next((slot for slot in required if not values.get(slot)), None)


class ActionVerificationComplete(Action):
    """After the form: welcome and disclose, then answer what the debtor asked before it; or,
    when locked, say a person will follow up and queue it (`verification_locked`)."""

    def name(self) -> str:
        return "action_verification_complete"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        turn = Turn.of(tracker)
        pending = pending_request(tracker, PENDING_INTENTS, self.name()) or {}
        pending_intent = ((pending.get("parse_data") or {}).get("intent") or {}).get("name")
        pending_text = str(pending.get("text") or "")

        def work(session: Session) -> Reply:
            reply = Reply()
            conversation = conversations.get_or_create(session, turn.conversation_id)
            account = conversations.verified_account(session, conversation)
            if account is not None:
                reply.events += [
                    SlotSet("verified", True),
                    SlotSet("account_id", str(account.id)),
                    SlotSet("verification_locked", False),
                ]
                reply.say(texts.VERIFIED.format(first_name=account.first_name))
                disclose_if_needed(session, conversation, reply)
                if pending_intent == "ask_balance":
                    add_balance(session, conversation, account, reply)
                elif pending_intent == "ask_debt_details":
                    add_details(session, conversation, account, reply)
                elif pending_intent in PAYMENT_INTENTS:
                    # The negotiation starts from the request made before verification.
                    negotiate(
                        session, conversation, account, reply, pending_intent, pending_text, False
                    )
                elif pending_intent in ESCALATING_INTENTS:
                    reason = REASON_FOR_INTENT[pending_intent]
                    escalate_and_say(session, conversation, reason, pending_text, reply)
                else:
                    reply.respond("utter_how_can_i_help")
            elif conversations.is_locked(conversation):
                reply.events.append(SlotSet("verification_locked", True))
                escalate(session, conversation, EscalationReason.VERIFICATION_LOCKED, turn.text)
                reply.say(texts.VERIFY_LOCKED)
            return reply

        return (await in_transaction(turn, work)).send(dispatcher)
