"""One debtor turn, answered (the entry point of the conversation manager).

Order of reading, every turn:
1. the gateway's triggers: the greeting of a new chat, the card-number guard;
2. the answer to a confirmation question, if one is pending;
3. consequences (SPEC §11): act, ask, or (before verification) acknowledge and keep;
4. before verification: the identity question in context (SPEC §4);
5. after verification: the pending question (`state.expect`) binds yes / no / figures; a
   question asked mid-summary is answered and the summary offered again;
6. the intent itself; what is still not understood is asked about once, and the second time in
   a row a person takes over (`bot_failure`).
A turn always says something.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from parley.conversations.state import get_or_create, is_locked
from parley.core.clock import utcnow
from parley.core.settings import Settings
from parley.dialogue import account as account_answers
from parley.dialogue import consequences, negotiation, texts, topics, verification
from parley.dialogue.heard import ACT, CONSEQUENTIAL, Consequence, Heard, consequence
from parley.dialogue.reply import Reply
from parley.dialogue.state import DialogueState
from parley.dialogue.turn import Turn
from parley.escalations.queue import has_open_escalation
from parley.escalations.reasons import REASON_FOR_INTENT, dispute_kind
from parley.negotiation.agreements import live_plan
from parley.negotiation.terms import is_refusal, proposed_terms
from parley.tables import Account, EscalationReason

GREETING_TRIGGER: Final = "/greet"
CARD_TRIGGER: Final = "/card_details"
REQUESTS: Final = frozenset(
    {
        "ask_balance",
        "ask_debt_details",
        "ask_payment_link",
        "ask_next_payment",
        "ask_payments_made",
        "change_due_date",
        *negotiation.PAYMENT_INTENTS,
    }
)
QUESTIONS: Final = frozenset(
    {"ask_balance", "ask_debt_details", "ask_next_payment", "bot_challenge", "ask_who", "thank"}
)
# Asking to pay by card in the chat (the card guard answers, SPEC §9).
_CARD_TALK: Final = re.compile(
    r"\b(?:card|credit card|debit card|card number|card details|card info)\b.{0,40}\b(?:here|chat|"
    r"now|you|over)\b|\b(?:give|send|read|type|take)\b.{0,25}\bcard\b",
    re.I,
)
NEGOTIATION_EXPECTS: Final = frozenset(
    {"choice", "summary", "terms", "amount_kind", "hardship_offer", "promise"}
)


def respond(
    session: Session,
    settings: Settings,
    conversation_id: str,
    heard: Heard,
    now: datetime | None = None,
) -> Reply:
    """Answer one debtor message; the caller commits (one unit of work per turn)."""
    conversation = get_or_create(session, conversation_id)
    state = DialogueState.of(conversation)
    turn = Turn(session, settings, conversation, heard, state, Reply(), now or utcnow())
    _answer(turn)
    if not turn.reply:
        _not_understood(turn)
    state.save(conversation)
    return turn.reply


def _answer(turn: Turn) -> None:
    heard = turn.heard
    text = heard.text.strip()
    if text == GREETING_TRIGGER:
        _greet(turn)
        return
    if text == CARD_TRIGGER:
        _card_guard(turn)
        return
    if heard.intent == "card_details":
        # Only the gateway's trigger means a card number; words the NLU took for one (an account
        # reference, say) are read by their next-best intent.
        turn.heard = _without(heard, "card_details")
    account = turn.account
    if account is None:
        _unverified(turn)
    else:
        _verified(turn, account)


def _without(heard: Heard, intent: str) -> Heard:
    ranking = tuple((name, score) for name, score in heard.ranking if name != intent)
    top, confidence = ranking[0] if ranking else ("nlu_fallback", 0.0)
    return Heard(top, confidence, heard.text, ranking, heard.entities)


# --- the gateway's triggers ---------------------------------------------------------------------


def _greet(turn: Turn) -> None:
    account = turn.account
    if account is not None:
        turn.say(
            texts.GREETING_VERIFIED.format(first_name=account.first_name, company=turn.company),
            texts.HELP_MENU,
        )
        return
    turn.say(texts.GREETING.format(company=turn.company))
    if is_locked(turn.conversation, turn.now):
        turn.say(texts.VERIFY_LOCKED)
        return
    verification.ask_next(turn)


def _card_guard(turn: Turn) -> None:
    """A card number was typed (the gateway removed it): never taken in chat (SPEC §9)."""
    account = turn.account
    if account is None:
        turn.say(texts.NO_CARDS_UNVERIFIED)
        if turn.state.asking:
            verification.repeat_question(turn)
        return
    turn.say(texts.NO_CARDS)
    if live_plan(turn.session, account) is not None:
        account_answers.payment_link(turn, account)
    elif turn.state.expect == "summary":
        negotiation.reoffer(turn, account)
    elif not account.collection_paused:
        turn.say(texts.HOW_CAN_I_HELP, [texts.PAY_IN_FULL, texts.PAYMENT_PLAN, texts.HUMAN])


# --- before verification ------------------------------------------------------------------------


def _unverified(turn: Turn) -> None:
    state, heard = turn.state, turn.heard
    fresh = False
    if state.expired:
        state.expired = False
        turn.say(texts.SESSION_EXPIRED)
        state.asking = verification.fact_order(turn)[0]
    elif state.asking is None and not state.facts and not state.held:
        # The first words of a conversation that began with the debtor's message (SMS).
        turn.say(texts.GREETING.format(company=turn.company))
        state.asking = verification.fact_order(turn)[0]
        fresh = True
    if is_locked(turn.conversation, turn.now):
        _locked(turn)
        return
    if state.confirming and consequences.answer(turn):
        _continue_verification(turn)
        return
    found = verification.read_facts(turn, heard)
    if (
        fresh
        and set(found) == {"last_name"}
        and not verification.named_surname(heard, found)
        and not verification.is_one_word_surname(heard.text)
    ):
        # The first text of a conversation ("hiii is this abt my gym thing") answers no
        # question: nobody has asked for a surname yet ("Garcia 03/14/1985 94107" still
        # counts: a name beside the other facts is an answer).
        del found["last_name"]
    reading = consequences.not_denied(turn, consequence(heard))
    if (
        verification.echoed(turn)
        and state.asking not in found
        and not heard.payload
        and not reading.in_words(heard.text)
        and not heard.wants_a_person()
    ):
        # The same message to the same question again: not played again the same way. A
        # sentence ("I don't want to give out his information without asking him") is left
        # there, with the door open; a malformed fact gets its format (after MAX_HINTS, a
        # person) instead of the same reply.
        if verification.is_sentence(heard.text) and not (heard.sure and heard.intent in REQUESTS):
            turn.say(texts.COME_BACK_ANY_TIME)
            return
        if not verification.format_hint(turn):
            consequences.escalate_and_say(turn, EscalationReason.BOT_FAILURE, heard.text)
        return
    if not found and heard.pauses():
        turn.say(texts.TAKE_YOUR_TIME)  # "hold on, let me find the letter"
        verification.ask_next(turn, again=True)
        return
    if found and reading.ask == ("wrong_number",) and not reading.in_words(heard.text):
        # "brenan.. sorry, Brennan": the fact asked for, with a "sorry" the classifier reads
        # as "sorry, wrong number". The words claim no wrong number: it is the answer.
        reading = Consequence()
        heard = turn.heard = Heard("inform", heard.confidence, heard.text, heard.ranking)
    # A date or a ZIP; a "name" may be any words, unless they say it is one ("my last name is").
    unmistakable = set(found)
    if not verification.named_surname(heard, found):
        unmistakable.discard("last_name")
    person = heard.wants_a_person() and not reading.in_words(heard.text)
    if person and reading.act is None and not unmistakable:
        consequences.escalate_and_say(turn, EscalationReason.HUMAN_REQUESTED, heard.text)
        return
    if (
        reading.ask
        and state.asking == "last_name"
        and verification.is_surname_answer(heard.text, found.get("last_name"))
        and not reading.in_words(heard.text)
    ):
        # "montes" read as 0.25 dispute, "Lawson Jr." as 0.37 attorney: a short answer that is
        # nothing but a name, at the surname question, is the surname; asking "are you saying
        # ...?" about it would only loop.
        reading = Consequence()
    if reading.act is not None or (reading.ask and not unmistakable):
        # "quit texting this number" is a request to stop, never the surname "quit texting".
        consequences.handle(turn, reading)
        _continue_verification(turn)
        return
    if not found and heard.wants_a_person():
        consequences.escalate_and_say(turn, EscalationReason.HUMAN_REQUESTED, heard.text)
        return
    if not found and heard.is_("goodbye"):
        turn.say(texts.GOODBYE)
        return
    aside = verification.aside(heard.text) if not found and not heard.payload else None
    if not found and (fresh or aside or verification.interrupts(heard, state.asking, found)):
        _interruption(turn, after_greeting=fresh, aside=aside)
        verification.ask_next(turn, again=not fresh)
        return
    if not found and verification.is_sentence(heard.text):
        # A sentence, not a malformed fact ("never mind, I'll tell him to call you"): why the
        # facts are asked, and the question again; no "letters only".
        turn.say(texts.VERIFY_WHY)
        verification.ask_next(turn, again=True)
        return
    if not found:
        if not verification.format_hint(turn):
            # The same fact misread again and again: a person takes over (SPEC §7).
            consequences.escalate_and_say(turn, EscalationReason.BOT_FAILURE, heard.text)
        return
    state.fallbacks = 0
    if verification.interrupts(heard, state.asking, found):
        # A request with facts in it: the facts count (they are unmistakable), a "name" read
        # out of the request does not.
        _interruption(turn, after_greeting=fresh)
        if "last_name" not in unmistakable:
            found.pop("last_name", None)
        if not found:
            verification.ask_next(turn, again=True)
            return
    result = verification.take_answer(turn, found)
    if result is None or result.status == "failed":
        return
    if result.status == "locked":
        _locked(turn)
        return
    _just_verified(turn)


def _continue_verification(turn: Turn) -> None:
    """After a consequence was dealt with before verification, go on verifying (unless the
    conversation went to a person)."""
    if turn.conversation.status != "bot" or is_locked(turn.conversation, turn.now):
        return
    if turn.state.confirming:
        return
    if turn.reply.texts and turn.reply.texts[-1] in texts.FACT_QUESTIONS:
        return  # already asked (after "no, that's not what I meant")
    verification.ask_next(turn, again=True)


def _interruption(turn: Turn, *, after_greeting: bool = False, aside: str | None = None) -> None:
    """Something other than the fact asked for, before verification: answer what may be
    answered, keep a request for after verification. Right after the greeting, hellos and
    "who is this" are already answered. `aside`: what the words say it is about, whatever the
    classifier read (`verification.aside`)."""
    heard = turn.heard
    intent = heard.intent if heard.sure else None
    company = turn.company
    if aside == "someone_else":
        turn.say(texts.VERIFY_HOLDER_ONLY)
        return
    if aside == "why":
        turn.say(texts.VERIFY_WHY)
        return
    if aside == "legit":
        turn.say(texts.VERIFY_LEGIT.format(company=company))
        return
    if aside == "pay" and intent not in REQUESTS:
        intent = "ask_payment_options"
        turn.heard = Heard(intent, 1.0, heard.text, heard.ranking, heard.entities)
    if after_greeting and intent in ("greet", "ask_who", "affirm"):
        return
    if intent in REQUESTS:
        turn.state.hold("request", heard.text, intent=intent)
        turn.say(texts.VERIFY_FIRST)
    elif intent == "greet":
        turn.say(texts.HELLO_AGAIN)
    elif intent == "thank":
        turn.say(texts.WELCOME)
    elif intent == "bot_challenge":
        turn.say(texts.BOT_CHALLENGE.format(company=company))
    elif intent == "ask_who":
        turn.say(texts.ASK_WHO.format(company=company))
    elif intent == "out_of_scope":
        turn.say(texts.OUT_OF_SCOPE.format(company=company))
    elif intent == "deny":
        turn.say(texts.VERIFY_WHY, [texts.HUMAN])
    elif intent == "affirm":
        turn.say(texts.OK)


def _locked(turn: Turn) -> None:
    """Verification is locked: a person follows up (`verification_locked`), with whatever
    the debtor stated before in the summary."""
    held = "; ".join(str(item.get("text") or "") for item in turn.state.held)
    said = turn.heard.text if not held else f"{turn.heard.text} (said before: {held})"
    turn.state.forget_verification()
    if has_open_escalation(turn.session, turn.conversation):
        turn.say(texts.VERIFY_LOCKED)
        return
    consequences.escalate_and_say(turn, EscalationReason.VERIFICATION_LOCKED, said)


def _just_verified(turn: Turn) -> None:
    account = turn.account
    assert account is not None  # noqa: S101 - just verified
    state = turn.state
    turn.say(texts.VERIFIED.format(first_name=account.first_name))
    turn.disclose()
    if consequences.after_verification(turn):
        return
    requests = [item for item in state.held if item.get("kind") == "request"]
    state.held = []
    if requests:
        last = requests[-1]
        intent, text = str(last.get("intent")), str(last.get("text") or "")
        if intent in ("pay_in_full", "offer_payment") and proposed_terms(text, turn.today) is None:
            # A payment request kept from before verification, without terms of its own, gets
            # the offer and its choices; never "I can accept that" to terms nobody proposed.
            intent = "ask_payment_options"
        turn.heard = Heard(intent, 1.0, text)
        _route(turn, account)
        return
    turn.say(texts.HOW_CAN_I_HELP, texts.HELP_MENU)


# --- after verification -------------------------------------------------------------------------


def _verified(turn: Turn, account: Account) -> None:
    state, heard = turn.state, turn.heard
    if state.confirming and consequences.answer(turn):
        return
    reading = consequences.not_denied(turn, consequence(heard))
    if state.expect == "hardship_offer" and {reading.act, *reading.ask} <= {"hardship", None}:
        # The hardship review is the question on the table: hardship words answer it.
        reading = Consequence()
    figures = proposed_terms(heard.text, turn.today) if not heard.payload else None
    in_negotiation = state.expect in NEGOTIATION_EXPECTS
    # Mid-negotiation, figures are an offer, and a plain refusal that only sounds like hardship
    # ("no I really can't") is a no to what is on the table: the negotiation answers it, and a
    # no to the most lenient plan leads to the hardship review anyway (SPEC §6).
    # The same for a refusal the classifier half-reads as a dispute, when its words name no kind
    # of dispute ("that is still more than I can manage, any flexibility?").
    if heard.pauses() and not figures:
        # "stop, let me think a sec": nothing asked for, refused or agreed; what was on the
        # table stays there.
        turn.say(texts.TAKE_YOUR_TIME_OFFER if in_negotiation else texts.TAKE_YOUR_TIME)
        if in_negotiation:
            resume(turn, quiet=True)
        return
    if state.expect == "terms" and heard.defers() and not figures and not reading.act:
        # Asked what they could pay: "I'm not ready to set anything up yet". Nothing is
        # pressed on them; the door stays open.
        state.expect = "more"
        turn.say(texts.NO_RUSH)
        turn.say(texts.ANYTHING_ELSE)
        return
    plain_no = dispute_kind(heard.text) == "other"
    declined = (
        in_negotiation
        and is_refusal(heard.text)
        and set(reading.ask) <= ({"hardship", "dispute"} if plain_no else {"hardship"})
    )
    if state.expect == "summary" and is_refusal(heard.text) and reading.act == "hardship":
        # "No, I can't do that, I have no income": a no to the plan on the table, however sure
        # the hardship reading; a no to the most lenient plan leads to the review (SPEC §6).
        reading, declined = Consequence(), True
    unsure_dispute = reading.act == "dispute" and plain_no
    if (
        heard.names_a_person
        and (reading.act is None or unsure_dispute)
        and not reading.in_words(heard.text)
    ):
        # "before I agree to anything I'd like to go over this with someone": the person asked
        # for, not a guessed consequence.
        consequences.escalate_and_say(turn, EscalationReason.HUMAN_REQUESTED, heard.text)
        return
    if heard.gibberish and not state.confirming:
        _not_understood(turn)
        return
    if not heard.payload and not reading.any and _CARD_TALK.search(heard.text):
        if not (in_negotiation and (figures or heard.affirms())):
            _card_guard(turn)  # "can I just give you my card number here?"
            return
        # "yes all of it. can i just give you my card number here?": the card question is
        # answered, and the yes (or the terms) still answers what was on the table.
        turn.say(texts.NO_CARDS)
    if reading.act is not None or (reading.ask and not (in_negotiation and (figures or declined))):
        consequences.handle(turn, reading)
        return
    if heard.wants_a_person():
        consequences.escalate_and_say(turn, EscalationReason.HUMAN_REQUESTED, heard.text)
        return
    if state.expect in ("due_date", "due_date_confirm"):
        if account_answers.due_date_answer(turn, account):
            state.fallbacks = 0
            return
        state.expect, state.pending = None, {}
    subject = None if heard.payload or figures else topics.topic(heard.text)
    if subject == "balance" and (not heard.sure or heard.intent in ("out_of_scope", "greet")):
        # "OK SO HOW BAD IS IT MONEY WISE": the balance, asked in idiom.
        heard = turn.heard = Heard("ask_balance", 1.0, heard.text, heard.ranking, heard.entities)
    elif subject in topics.ANSWERS and heard.intent not in REASON_FOR_INTENT:
        # "will this go on my credit report?", "can I mail a check?": answered, and what was
        # on the table is asked again.
        turn.say(topics.ANSWERS[subject])
        if in_negotiation:
            resume(turn, quiet=True)
        else:
            turn.say(texts.ANYTHING_ELSE, texts.HELP_MENU)
            state.expect = "more"
        return
    if in_negotiation and heard.is_(*QUESTIONS) and not figures and not heard.affirms():
        # A question mid-negotiation ("wait am i talking to a robot?") is answered and what was
        # on the table asked again: the summary in full, the terms question, the full offer.
        expect = state.expect
        _route(turn, account)
        state.expect = expect
        resume(turn, quiet=True)
        return
    if in_negotiation:
        if negotiation.answers(turn, account):
            state.fallbacks = 0
            return
        if heard.intent not in REQUESTS and not heard.sure and state.expect != "summary":
            _not_understood(turn)
            return
        if heard.is_("out_of_scope"):
            # An aside mid-negotiation ("are you open saturdays?"): said so, and what was on the
            # table asked again, not dropped.
            turn.say(texts.OUT_OF_SCOPE.format(company=turn.company))
            resume(turn, quiet=True)
            return
    if state.expect == "options":
        state.expect = None
        if heard.affirms():
            negotiation.negotiate(turn, account, "options")
            return
        if heard.denies():
            turn.say(texts.OK + " " + texts.ANYTHING_ELSE)
            state.expect = "more"
            return
    if state.expect == "more":
        state.expect = None
        if heard.denies() or heard.is_("goodbye"):
            turn.say(texts.GOODBYE)
            return
        if heard.affirms():
            turn.say(texts.HOW_CAN_I_HELP, texts.HELP_MENU)
            return
    _route(turn, account)


def _route(turn: Turn, account: Account) -> None:
    """Answer by intent (a verified debtor, nothing pending that the message answers)."""
    heard, state = turn.heard, turn.state
    intent = heard.intent if heard.sure else None
    company = turn.company
    misunderstood, state.fallbacks = state.fallbacks, 0
    if intent == "ask_balance":
        account_answers.balance(turn, account)
    elif intent == "ask_debt_details":
        account_answers.details(turn, account)
    elif intent in negotiation.PAYMENT_INTENTS:
        negotiation.by_intent(turn, account)
    elif intent == "ask_payment_link":
        account_answers.payment_link(turn, account)
    elif intent == "ask_next_payment":
        account_answers.next_payment(turn, account)
    elif intent == "ask_payments_made":
        account_answers.payments_made(turn, account)
    elif intent == "change_due_date":
        account_answers.change_due_date(turn, account)
    elif intent in REASON_FOR_INTENT and (heard.payload or intent not in CONSEQUENTIAL):
        consequences.act(turn, intent, heard.text)  # confirmed by payload, or request_human
    elif intent in CONSEQUENTIAL:
        # The reading decided against the consequence (said only to deny it, or already said
        # no to): what else the words ask for. "my attorney is handling my divorce, not this.
        # can i just do payments" is a request for payments.
        if verification.wants_to_pay(heard.text):
            turn.heard = Heard("request_payment_plan", 1.0, heard.text, heard.ranking)
            negotiation.by_intent(turn, account)
        else:
            turn.say(texts.HOW_CAN_I_HELP, texts.HELP_MENU)
    elif intent == "greet":
        turn.say(texts.HOW_CAN_I_HELP, texts.HELP_MENU)
    elif intent == "thank":
        turn.say(texts.WELCOME + " " + texts.ANYTHING_ELSE)
        state.expect = "more"
    elif intent == "goodbye":
        state.expect = None
        turn.say(texts.GOODBYE)
    elif intent == "bot_challenge":
        turn.say(texts.BOT_CHALLENGE.format(company=company))
    elif intent == "ask_who":
        turn.say(texts.ASK_WHO_VERIFIED.format(company=company))
    elif intent == "out_of_scope":
        turn.say(texts.OUT_OF_SCOPE.format(company=company), texts.HELP_MENU)
    elif intent in ("affirm", "deny") and (heard.payload or heard.confidence >= ACT):
        turn.say(texts.HOW_CAN_I_HELP, texts.HELP_MENU)  # a plain yes or no, nothing asked
    else:
        offer = proposed_terms(heard.text, turn.today) if not heard.payload else None
        if offer is not None and not account.collection_paused:
            negotiation.negotiate(turn, account, "offer", offer=offer)
            return
        state.fallbacks = misunderstood
        _not_understood(turn)


def _not_understood(turn: Turn) -> None:
    """Asked to say it another way once; the second time in a row a person takes over."""
    state = turn.state
    state.fallbacks += 1
    if state.fallbacks >= 2:
        state.fallbacks = 0
        consequences.escalate_and_say(turn, EscalationReason.BOT_FAILURE, turn.heard.text)
        return
    turn.say(texts.CLARIFY, [texts.HUMAN])
    resume(turn, quiet=True)


def resume(turn: Turn, *, quiet: bool = False) -> None:
    """Pick up what was pending (after a clarification, or "no, that's not what I meant")."""
    state = turn.state
    account = turn.account
    if account is None:
        if state.asking and not quiet:
            verification.repeat_question(turn)
        elif state.asking and quiet:
            turn.say(texts.ASK_FACT_AGAIN[state.asking])
        return
    if state.expect == "summary":
        negotiation.reoffer(turn, account)
    elif state.expect == "choice":
        negotiation.negotiate(turn, account, "options")  # the full offer and its choices again
    elif state.expect == "terms":
        turn.say(texts.ASK_TERMS, [texts.SUGGEST, texts.PAY_IN_FULL, texts.HUMAN])
    elif not quiet:
        turn.say(texts.HOW_CAN_I_HELP, texts.HELP_MENU)
