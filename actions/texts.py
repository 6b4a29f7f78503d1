"""Reply texts the actions compose (fixed ones live in the domain's responses).

Everything in `PRE_VERIFICATION` may be sent before the debtor is verified, so none of it may
mention a debt, an amount, a payment, a balance or a creditor (SPEC §4); a test checks that.
"""

from __future__ import annotations

from actions.common import Button, button

VERIFY_FAILED = "Sorry, I couldn't verify those details. Let's try again."
VERIFY_FAILED_FINAL = "Sorry, I couldn't verify those details."
VERIFY_LOCKED = (
    "I'm sorry, I can't continue verification right now. "
    "A team member will follow up with you here."
)
FORMAT_HINTS = {
    "last_name": "Please type your last name using letters only.",
    "date_of_birth": "Please give your date of birth as MM/DD/YYYY.",
    "zip_or_ssn4": "Please give your 5-digit ZIP code or the last 4 digits of your SSN.",
}
CLARIFY = "Sorry, I didn't quite get that. Could you rephrase?"
ALREADY_QUEUED = "You're in the queue; a team member will reply here."

# Acknowledgements after an escalation: (before verification, after verification).
ESCALATION_ACK: dict[str, tuple[str, str]] = {
    "human_requested": (
        "I'm connecting you with a team member. They'll reply here as soon as they can.",
        "I'm connecting you with a team member. They'll reply here as soon as they can.",
    ),
    "dispute": (
        "Thanks for telling me. A team member will look into this and follow up with you here.",
        "Thanks for telling me. I've recorded your dispute and paused collection on this account "
        "while a specialist looks into it. They'll follow up with you here.",
    ),
    "bankruptcy": (
        "Thanks for letting us know. A team member will review this and follow up with you here.",
        "Thanks for letting us know. I've paused collection on this account and passed it to a "
        "specialist, who will follow up with you here.",
    ),
    "attorney": (
        "Understood. A team member will follow up to get your attorney's contact details.",
        "Understood. I've paused collection on this account. A team member will follow up to "
        "get your attorney's contact details.",
    ),
    "cease_communication": (
        "Understood. A team member will review your request, and we won't contact you further "
        "except where the law requires it.",
        "Understood. I've paused collection on this account. We won't contact you about it "
        "further except where the law requires it, and a team member will review your request.",
    ),
    "hardship": (
        "I'm sorry things are hard right now. A specialist will review your situation and "
        "follow up with you here.",
        "I'm sorry things are hard right now. A specialist will review your situation and "
        "follow up with you here about options that fit.",
    ),
    "wrong_number": (
        "Thanks for letting us know. We'll update our records and won't contact this number "
        "again about this.",
        "Thanks for letting us know. We'll update our records and won't contact this number "
        "again about this.",
    ),
    "bot_failure": (
        "Sorry, I'm having trouble understanding. A team member will help you here shortly.",
        "Sorry, I'm having trouble understanding. A team member will help you here shortly.",
    ),
    "verification_locked": (VERIFY_LOCKED, VERIFY_LOCKED),
}
ESCALATION_REPEAT = (
    "I've already passed this to a team member. They'll follow up with you here.",
    "I've already passed this to a team member. They'll follow up with you here.",
)

# After verification only.
VERIFIED = "Thanks, {first_name}, you're verified."
COLLECTION_PAUSED = (
    "A specialist is reviewing your account, so I can't set up a payment right now. "
    "They'll follow up with you here."
)
NEED_VERIFICATION = "I can help with that once I've verified your identity."

# Negotiation (SPEC §6), after verification only. Amounts and dates come from parley.plans.
OFFER_FULL = "You can clear the balance of {amount} with one payment today. Would you like to?"
OFFER_FULL_RESUMED = "Picking up where we left off: " + OFFER_FULL
SUMMARY_INTRO = {
    "accept": "I can accept that. Here's the summary:",
    "offer_installments": "I can set up a payment plan:",
    "offer_settlement": "I can offer a one-time settlement:",
    "offer_full": "Here's the summary:",
    "resume": "Here's where we left off:",
    "update": "Here's where we left off, with the dates moved to today:",
    "counter": "Here's the closest I can offer:",
}
CONFIRM_QUESTION = "Shall I set this up?"
AGREED_NEXT = (
    "A secure payment link will follow in a separate message. "
    "For your security, card details are never taken in chat."
)
RECALL_INTRO = "You already have an agreed plan:"
RECALL_NEXT = "A secure payment link will follow separately. To change the plan, ask for a person."
HARDSHIP_REVIEW = (
    "I don't want to set up something you can't keep up with, so I've asked a specialist to "
    "review your situation (a hardship review). They'll follow up with you here, and I won't "
    "ask you for a payment until they have."
)
HARDSHIP_PENDING = (
    "A specialist is reviewing your situation, so I won't set up a payment right now. "
    "They'll follow up with you here."
)
ASK_TERMS = (
    'What could you pay, and how often? For example "$50 a month", "6 payments" or '
    '"$200 now and the rest monthly".'
)
NOTHING_OWED = "There's nothing left to pay on this account."

HUMAN = button("Talk to a person", "/request_human")
WHY = button("Why this amount?", "/ask_debt_details")
PAYMENT_OPTIONS = button("Payment options", "/ask_payment_options")
DISPUTE = button("I dispute this", "/dispute")
PAY_IN_FULL = button("Pay in full", "/pay_in_full")
PAYMENT_PLAN = button("Payment plan", "/request_payment_plan")
YES = button("Yes", "/affirm")
NO = button("No", "/deny")


def balance_buttons(paused: bool) -> list[Button]:
    """Next steps after the balance; no payment offer while collection is paused."""
    return [WHY, HUMAN] if paused else [WHY, PAYMENT_OPTIONS, HUMAN]


PRE_VERIFICATION: tuple[str, ...] = (
    VERIFY_FAILED,
    VERIFY_FAILED_FINAL,
    VERIFY_LOCKED,
    CLARIFY,
    ALREADY_QUEUED,
    NEED_VERIFICATION,
    *FORMAT_HINTS.values(),
    *(before for before, _after in ESCALATION_ACK.values()),
    ESCALATION_REPEAT[0],
    HUMAN["title"],
)
