"""Confirmation before consequences (SPEC §10, §11).

A dispute, bankruptcy, attorney, cease request, wrong number or hardship changes what happens to
an account (collection paused, a number opted out, a review opened), so it is acted on only when
the NLU is sure or the debtor confirmed it: one short question with choices, and a yes acts. Two
close readings ("not mine" vs "can't pay") get one question with both. Before verification
the ones that need the account are acknowledged at once and kept (`state.held`), then acted on
(or asked about) right after verification; a cease request or a wrong number acts at once.
"""

from __future__ import annotations

from typing import Any

from parley.dialogue import texts
from parley.dialogue.heard import NEED_ACCOUNT, Consequence, Heard
from parley.dialogue.turn import Turn
from parley.dialogue.verification import wants_to_pay
from parley.escalations.queue import has_open_escalation
from parley.escalations.reasons import REASON_FOR_INTENT, dispute_kind
from parley.escalations.rules import escalate
from parley.tables import ConversationStatus, EscalationReason

SUB_REASONS = frozenset(kind for kind, _title in texts.DISPUTE_CHOICES)


def escalate_and_say(
    turn: Turn, reason: EscalationReason, said: str, sub_reason: str | None = None
) -> None:
    """Open (or find) the escalation and acknowledge it in words fit for the debtor."""
    conversation = turn.conversation
    if (
        reason == EscalationReason.HUMAN_REQUESTED
        and conversation.status in (ConversationStatus.QUEUED, ConversationStatus.HUMAN)
        and has_open_escalation(turn.session, conversation)
    ):
        turn.say(texts.ALREADY_QUEUED)
        return
    done = escalate(turn.session, conversation, reason, said, sub_reason)
    turn.state.expect = None
    if done.created:
        turn.say(texts.ESCALATION_ACK[reason][done.verified])
    elif reason in (EscalationReason.HUMAN_REQUESTED, EscalationReason.BOT_FAILURE):
        turn.say(texts.ALREADY_QUEUED)
    else:
        turn.say(texts.ESCALATION_REPEAT)


def act(
    turn: Turn, intent: str, said: str, sub_reason: str | None = None, *, asked_kind: bool = False
) -> None:
    """Do what the intent means (after verification, or a reason that needs no account)."""
    if intent == "hardship":
        # SPEC §6: the most lenient plan is offered and asked about before a hardship review.
        from parley.dialogue import negotiation

        negotiation.hardship_said(turn, said)
        return
    reason = REASON_FOR_INTENT[intent]
    if reason == EscalationReason.DISPUTE and sub_reason is None:
        kind = dispute_kind(said)
        if kind not in SUB_REASONS and turn.account is not None and not asked_kind:
            # A dispute, but which kind is not said ("there's some mistake"): one question, and
            # whatever the answer short of "neither", the dispute is recorded (it is sure).
            ask(turn, ("dispute",), said, sure=True)
            return
        sub_reason = kind if kind in SUB_REASONS else None
    escalate_and_say(turn, reason, said, sub_reason)


def ask(turn: Turn, intents: tuple[str, ...], said: str, *, sure: bool = False) -> None:
    """One short question about what the debtor meant; remembered in `state.confirming`.
    `sure`: the consequence itself is certain, only its kind is asked."""
    turn.state.confirming = {"intents": list(intents), "text": said[:500], "sure": sure}
    if len(intents) == 1 and intents[0] == "dispute" and turn.account is not None:
        buttons = [
            texts.button(title, f'/dispute{{"sub_reason":"{kind}"}}')
            for kind, title in texts.DISPUTE_CHOICES
        ]
        turn.say(texts.DISPUTE_WHICH, [*buttons, texts.button(texts.NEITHER, "/deny")])
    elif len(intents) == 1:
        turn.say(texts.CONFIRM[intents[0]], [texts.YES, texts.NO])
    else:
        buttons = [texts.button(texts.CHOICE_TITLE[i], f"/{i}") for i in intents]
        turn.say(texts.CHOOSE, [*buttons, texts.button(texts.NEITHER, "/deny")])


def answer(turn: Turn) -> bool:
    """Read the debtor's answer to a confirmation question. True when it was one (a yes, a
    no, a choice); False when the debtor moved on, and the message is read afresh."""
    pending: dict[str, Any] | None = turn.state.confirming
    if not pending:
        return False
    heard = turn.heard
    intents = [str(i) for i in pending.get("intents") or []]
    said = str(pending.get("text") or "")
    turn.state.confirming = None
    chosen: str | None = None
    sub_reason = heard.entities.get("sub_reason")
    # "No, I already paid it" to "are you saying this isn't your debt, ...?" names a dispute.
    names_kind = "dispute" in intents and dispute_kind(heard.text) != "other"
    if (heard.denies() or heard.leads_with_no()) and not names_kind:
        # "No, no bankruptcy. Just a payment plan.": a no first, whatever the words name.
        turn.state.denied = sorted({*turn.state.denied, *intents})
        turn.say(texts.NOT_CONSEQUENCE)
        account = turn.account
        if intents == ["hardship"]:
            pays = wants_to_pay(said)
        else:  # nothing else on the table that carrying on would pick up
            pays = turn.state.expect is None and wants_to_pay(f"{said} {heard.text}")
        if account is not None and pays:
            # "I want to pay but money is tight", then "no" to "can't you afford payments?";
            # "no, no lawyer on this one. just want payments": they want to pay, so the payment
            # options follow, not "how can I help?".
            from parley.dialogue import negotiation

            negotiation.negotiate(turn, account, "options")
            return True
        return _carry_on(turn)
    if heard.intent in intents and (heard.payload or heard.sure):
        chosen = heard.intent
    elif heard.affirms() and len(intents) == 1:
        chosen = intents[0]
    elif (heard.intent == "dispute" or names_kind) and "dispute" in intents:
        chosen = "dispute"
    if chosen is None and pending.get("sure"):
        chosen = intents[0]  # the kind was asked, not the dispute: it is recorded regardless
    if chosen is None:
        return False
    if chosen == "dispute" and sub_reason is None:
        kind = dispute_kind(f"{said} {heard.text}")
        sub_reason = kind if kind in SUB_REASONS else None
    if turn.account is None and chosen in NEED_ACCOUNT:
        hold(turn, chosen, said, sure=True, sub_reason=sub_reason)
        return True
    act(
        turn,
        chosen,
        f"{said} / {heard.text}" if heard.text and not heard.payload else said,
        sub_reason if isinstance(sub_reason, str) else None,
        asked_kind=True,
    )
    return True


def not_denied(turn: Turn, reading: Consequence) -> Consequence:
    """`reading` less the guesses at intents the debtor already said no to (an act stays)."""
    if reading.act is not None or not set(reading.ask) & set(turn.state.denied):
        return reading
    left = tuple(intent for intent in reading.ask if intent not in turn.state.denied)
    return Consequence(ask=left) if left else Consequence()


def _carry_on(turn: Turn) -> bool:
    """After "no, that's not what I meant": pick up what was pending."""
    from parley.dialogue import respond

    respond.resume(turn)
    return True


def hold(
    turn: Turn,
    intent: str,
    said: str,
    *,
    sure: bool,
    sub_reason: Any = None,
    asks: list[str] | None = None,
) -> None:
    """Before verification: acknowledge at once, act (or ask) right after verification."""
    turn.state.hold(intent, said, sure=sure, sub_reason=sub_reason, asks=asks or [intent])
    turn.say(texts.HELD[intent])


def handle(turn: Turn, reading: Consequence) -> bool:
    """Act on, ask about, or (before verification) keep a consequential reading. False when the
    message has no consequence to deal with."""
    heard: Heard = turn.heard
    verified = turn.account is not None
    sub_reason = heard.entities.get("sub_reason")
    if reading.act is not None:
        if not verified and reading.act in NEED_ACCOUNT:
            hold(turn, reading.act, heard.text, sure=True, sub_reason=sub_reason)
        else:
            act(turn, reading.act, heard.text, sub_reason if isinstance(sub_reason, str) else None)
        return True
    if reading.ask:
        if not verified and all(i in NEED_ACCOUNT for i in reading.ask):
            # Asked right after verification: the question itself could tell of a debt.
            hold(turn, reading.ask[0], heard.text, sure=False, asks=list(reading.ask))
            return True
        ask(turn, reading.ask, heard.text)
        return True
    return False


def after_verification(turn: Turn) -> bool:
    """Act on (or ask about) what was held before verification. True if something was."""
    held = [item for item in turn.state.held if item.get("kind") in NEED_ACCOUNT]
    turn.state.held = [item for item in turn.state.held if item.get("kind") not in NEED_ACCOUNT]
    if not held:
        return False
    first = held[0]
    said = str(first.get("text") or "")
    if first.get("sure"):
        sub = first.get("sub_reason")
        act(turn, str(first["kind"]), said, sub if isinstance(sub, str) else None)
    else:
        asks = tuple(str(i) for i in first.get("asks") or [first["kind"]])
        ask(turn, asks, said)
    return True
