"""Everything the assistant says, in one place (SPEC §4-§7, §10, §11).

Everything in `PRE_VERIFICATION` may be sent before the debtor is verified, so none of it may
mention a debt, an amount, a payment, a balance or a creditor (SPEC §4); a test checks that.
Questions the debtor answers end with a recognisable phrase (`ASKS`), which the
conversation-quality driver also uses to tell what it is being asked.
"""

from __future__ import annotations

from typing import Final

Button = dict[str, str]


def button(title: str, payload: str) -> Button:
    return {"title": title, "payload": payload}


# --- greeting and small talk (any time) -------------------------------------------------------

GREETING = (
    "Hi, this is {company}. I need to verify your identity before we can discuss an account matter."
)
GREETING_VERIFIED = "Hi {first_name}, this is {company}. How can I help you today?"
ASK_WHO = (
    "This is {company}. I'm contacting you about an account matter, and I need to verify your "
    "identity before I can share any details."
)
ASK_WHO_VERIFIED = "This is {company}, a debt collector. I'm here to help with your account."
BOT_CHALLENGE = (
    "I'm an automated assistant for {company}. You can ask for a person at any time, just type "
    '"agent".'
)
COME_BACK_ANY_TIME = "No problem. You can message us here any time to continue."
GOODBYE = "Thanks for your time. You can message us here any time."
WELCOME = "You're welcome!"
OUT_OF_SCOPE = "Sorry, I can only help with your account matter with {company}."
NO_CARDS = (
    "For your security I can't take card details in chat. I can send you a secure payment "
    "link instead."
)
NO_CARDS_UNVERIFIED = "For your security, please don't send card details here."
CREDIT_REPORT = (
    "I can't answer questions about how this account is reported in this chat. A team member "
    "can: ask for a person at any time."
)
PAY_BY_MAIL = (
    "In this chat I can only take payments through the secure payment link I send (card or bank "
    "account). To pay by check or money order, ask for a person and a team member will give "
    "you the mailing details."
)
CLARIFY = "Sorry, I didn't quite get that. Could you say it another way?"
HOW_CAN_I_HELP = "How can I help you today?"
ANYTHING_ELSE = "Is there anything else I can help with?"
HELLO_AGAIN = "Hello!"
OK = "Okay."
TAKE_YOUR_TIME = "Take your time."
NO_RUSH = (
    "No problem, there's no rush. When you're ready, message us here and we'll pick up where "
    "we left off."
)
TAKE_YOUR_TIME_OFFER = "Take your time: nothing is set up until you say yes."

# --- verification (SPEC §4) ------------------------------------------------------------------

ASK_FACT: Final[dict[str, str]] = {
    "last_name": "To start, what is your last name?",
    "date_of_birth": "Thanks. What is your date of birth? (MM/DD/YYYY)",
    "zip_or_ssn4": "What is your 5-digit ZIP code? You can also give the last 4 digits of your "
    "SSN.",
}
ASK_FACT_AGAIN: Final[dict[str, str]] = {
    "last_name": "What is your last name?",
    "date_of_birth": "What is your date of birth? (MM/DD/YYYY)",
    "zip_or_ssn4": "What is your 5-digit ZIP code (or the last 4 digits of your SSN)?",
}
FORMAT_HINTS: Final[dict[str, str]] = {
    "last_name": "Please type your last name using letters only.",
    "date_of_birth": "Please give your date of birth as MM/DD/YYYY.",
    "zip_or_ssn4": "Please give your 5-digit ZIP code or the last 4 digits of your SSN.",
}
# Every way a fact is asked (so a question is never asked twice in one reply).
FACT_QUESTIONS: Final = frozenset({*ASK_FACT.values(), *ASK_FACT_AGAIN.values()})
VERIFY_HOLDER_ONLY = (
    "I can only discuss an account with the account holder. If they're with you, they can "
    "answer the questions here themselves."
)
VERIFY_FIRST = "I can help with that once I've verified your identity."
VERIFY_LEGIT = (
    "Fair question. I'm the automated assistant of {company}. I only ask for your last name, "
    "date of birth and ZIP code (or SSN last 4), never a password, a full SSN or a card "
    "number in this chat. You can ask for a person at any time."
)
VERIFY_WHY = (
    "I need to confirm I'm speaking with the right person before I can discuss an account "
    "matter. Reply whenever you're ready, or ask for a person at any time."
)
VERIFY_FAILED = "Sorry, I couldn't verify those details. Let's try again."
VERIFY_LOCKED = (
    "I'm sorry, I can't continue verification right now. A team member will follow up with you "
    "here."
)
VERIFIED = "Thanks, {first_name}, you're verified."
SESSION_EXPIRED = (
    "Welcome back. It's been a while, so I need to verify your identity again before we continue."
)
# A consequential statement made before verification: acknowledged at once, acted on after.
HELD: Final[dict[str, str]] = {
    "dispute": "I've noted that, and I'll record it as soon as you're verified.",
    "bankruptcy": "I've noted that, and I'll record it as soon as you're verified.",
    "attorney": "I've noted that, and I'll record it as soon as you're verified.",
    "hardship": "I've noted that, and we'll look at it together as soon as you're verified.",
    "request": "I'll come back to that as soon as you're verified.",
}

# --- confirmation before consequences (SPEC §11) ---------------------------------------------

CONFIRM_QUESTION_END = "Is that right?"
CONFIRM: Final[dict[str, str]] = {
    "dispute": "Just to be sure: are you saying you dispute this?",
    "bankruptcy": "Just to be sure: have you filed for bankruptcy?",
    "attorney": "Just to be sure: is an attorney representing you about this?",
    "stop_contact": "Just to be sure: do you want us to stop contacting you?",
    "wrong_number": "Just to be sure: have we reached the wrong person?",
    "hardship": "Just to be sure: are you saying you can't afford payments right now?",
}
CHOOSE = "Just to be sure, which is closer to what you mean?"
CHOICE_TITLE: Final[dict[str, str]] = {
    "dispute": "I dispute this",
    "bankruptcy": "I filed for bankruptcy",
    "attorney": "I have an attorney",
    "stop_contact": "Stop contacting me",
    "wrong_number": "Wrong person",
    "hardship": "I can't afford payments",
}
DISPUTE_CHOICES: Final[tuple[tuple[str, str], ...]] = (
    ("not_mine", "It isn't my debt"),
    ("already_paid", "I already paid it"),
    ("wrong_amount", "The amount is wrong"),
    ("fraud", "Fraud or identity theft"),
)
DISPUTE_WHICH = (
    "Just to be sure: are you saying this isn't your debt, that you already paid it, that the "
    "amount is wrong, or that it's fraud?"
)
NOT_CONSEQUENCE = "Thanks for clarifying."
NEITHER = "Neither"

# --- escalations (SPEC §10): (before verification, after verification) ----------------------

ESCALATION_ACK: Final[dict[str, tuple[str, str]]] = {
    "human_requested": (
        "I'm connecting you with a team member. They'll reply here as soon as they can.",
        "I'm connecting you with a team member. They'll reply here as soon as they can.",
    ),
    "dispute": (
        "Thanks for telling me. A team member will look into this and follow up with you here.",
        "Thanks for telling me. I've recorded your dispute and paused collection on this "
        "account while a specialist looks into it. They'll follow up with you here.",
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
        "I'm sorry things are hard right now. I've asked a specialist to review your situation "
        "(a hardship review); they'll follow up with you here about options that fit.",
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
ESCALATION_REPEAT = "I've already passed this to a team member. They'll follow up with you here."
ALREADY_QUEUED = "You're in the queue; a team member will reply here."

# --- after verification only -----------------------------------------------------------------

COLLECTION_PAUSED = (
    "A specialist is reviewing your account, so I can't set up a payment right now. They'll "
    "follow up with you here."
)
HARDSHIP_PENDING = (
    "A specialist is reviewing your situation, so I won't set up a payment right now. They'll "
    "follow up with you here."
)

# Negotiation (SPEC §6). Amounts and dates come from parley.negotiation.
OFFER_FULL_END = "Would you like to?"
OFFER_FULL = "You can clear the balance of {amount} with one payment today. " + OFFER_FULL_END
OFFER_FULL_RESUMED = "Picking up where we left off: " + OFFER_FULL
SUMMARY_INTRO: Final[dict[str, str]] = {
    "accept": "I can accept that. Here's the summary:",
    "offer_installments": "I can set up a payment plan:",
    "offer_settlement": "I can offer a one-time settlement:",
    "offer_full": "Here's the summary:",
    "resume": "Here's where we left off:",
    "update": "Here's where we left off, with the dates moved to today:",
    "counter": "Here's the closest I can offer:",
    "lenient": "The most I can spread it out is this:",
    "suggest": "Here's a plan I can set up:",
}
CONFIRM_SUMMARY = "Shall I set this up?"
SEE_OPTIONS = "Would you like to see your payment options?"
STILL_ON_OFFER = "Here's the plan on offer again:"
ASK_TERMS_END = "What could you pay, and how often?"
ASK_TERMS = (
    ASK_TERMS_END + ' For example "$50 a month", "6 payments" or "$200 now and the rest monthly".'
)
# "let's do monthly payments": the frequency is said, the amount is asked (never invented).
ASK_AMOUNT_END = "How much could you pay each time?"
ASK_AMOUNT: Final[dict[str, str]] = {
    "weekly": "Sure, weekly payments. " + ASK_AMOUNT_END + ' For example "$40 a week".',
    "biweekly": "Sure, payments every two weeks. " + ASK_AMOUNT_END + ' For example "$75".',
    "monthly": "Sure, monthly payments. " + ASK_AMOUNT_END + ' For example "$100 a month".',
}
ASK_TERMS_AFTER_NO = "No problem. " + ASK_TERMS
ASK_TERMS_AGAIN = "Okay. " + ASK_TERMS
SUGGEST_PLAN = "Suggest a plan"
AMOUNT_KIND = "Is {amount} a monthly payment, or one payment?"
HARDSHIP_OFFER = (
    "I don't want to set up something you can't keep up with. Would you like a specialist to "
    "review your situation (a hardship review)? They'd follow up with you here."
)
HARDSHIP_DECLINED = "Okay. " + ASK_TERMS
AGREED_NEXT = (
    "A secure payment link will follow in a separate message. For your security, card details "
    "are never taken in chat."
)
RECALL_INTRO = "You already have an agreed plan:"
RECALL_NEXT = "To change the plan, ask for a person."
NOTHING_OWED = "There's nothing left to pay on this account."
PROMISE_SUMMARY = "I'll note your promise to pay {amount} on {day}. The rest, {rest}, stays due."
PROMISE_CONFIRM = "Shall I note that promise?"
PROMISE_RECORDED = (
    "Noted: {amount} on {day}. We'll remind you a couple of days before (when there's time) and "
    "check that it arrived. You can set up a plan for the rest at any time."
)
PROMISE_OPEN = "You told us you'd pay {amount} on {day}."

# Self-service after agreement (SPEC §7).
LINK_AGAIN = "Here is your secure payment link again:"
NO_LINK = "There's nothing to pay by link right now."
NO_PLAN = "You don't have a payment plan yet. I can help you set one up."
NEXT_PAYMENT = "Your next payment is {amount}, due {day}."
NO_NEXT_PAYMENT = "There are no payments left to make on your plan."
PAID_SO_FAR = "You've paid {total} so far:"
PAID_NOTHING = "I don't see any payments on this account yet."
SCHEDULE = "Your payment dates:"
DUE_DATE_ASK = "Which date would you like your next payment ({amount}, now due {day}) moved to?"
DUE_DATE_SUMMARY = "I can move your next payment of {amount} from {old} to {new}."
DUE_DATE_CONFIRM = "Shall I make that change?"
DUE_DATE_FORMAT = 'Which date? For example "the 20th", "next Friday" or "in 2 weeks".'
DUE_DATE_LIMIT = "I can only move it to a date on or before {latest}."
DUE_DATE_DONE = "Done: your next payment of {amount} is now due {new}."

# --- never silent ----------------------------------------------------------------------------

FALLBACK_HUMAN = "Talk to a person"

# --- buttons ---------------------------------------------------------------------------------

HUMAN = button(FALLBACK_HUMAN, "/request_human")
WHY = button("Why this amount?", "/ask_debt_details")
BALANCE = button("My balance", "/ask_balance")
PAYMENT_OPTIONS = button("Payment options", "/ask_payment_options")
DISPUTE = button("I dispute this", "/dispute")
PAY_IN_FULL = button("Pay in full", "/pay_in_full")
PAYMENT_PLAN = button("Payment plan", "/request_payment_plan")
SUGGEST = button(SUGGEST_PLAN, '/request_payment_plan{"suggest":"yes"}')
YES = button("Yes", "/affirm")
NO = button("No", "/deny")
HELP_MENU = [BALANCE, WHY, PAYMENT_OPTIONS, HUMAN]


def balance_buttons(paused: bool) -> list[Button]:
    """Next steps after the balance; no payment offer while collection is paused."""
    return [WHY, HUMAN] if paused else [WHY, PAYMENT_OPTIONS, HUMAN]


# The questions a debtor answers, by the phrase each one ends with (the quality driver's map).
ASKS: Final[dict[str, tuple[str, ...]]] = {
    "last_name": (ASK_FACT["last_name"], ASK_FACT_AGAIN["last_name"], FORMAT_HINTS["last_name"]),
    "date_of_birth": (
        ASK_FACT["date_of_birth"],
        ASK_FACT_AGAIN["date_of_birth"],
        FORMAT_HINTS["date_of_birth"],
    ),
    "zip_or_ssn4": (
        ASK_FACT["zip_or_ssn4"],
        ASK_FACT_AGAIN["zip_or_ssn4"],
        FORMAT_HINTS["zip_or_ssn4"],
    ),
    "offer_full": (OFFER_FULL_END,),
    "ask_terms": (ASK_TERMS_END, "a monthly payment, or one payment?", ASK_AMOUNT_END),
    "summary": (CONFIRM_SUMMARY, PROMISE_CONFIRM, DUE_DATE_CONFIRM),
    "confirm": tuple(CONFIRM.values()) + (HARDSHIP_OFFER,),
    "choose": (CHOOSE, DISPUTE_WHICH),
    "more": (ANYTHING_ELSE,),
    "options": (SEE_OPTIONS,),
}

PRE_VERIFICATION: tuple[str, ...] = (
    GREETING,
    ASK_WHO,
    BOT_CHALLENGE,
    GOODBYE,
    WELCOME,
    OUT_OF_SCOPE,
    NO_CARDS_UNVERIFIED,
    CLARIFY,
    HELLO_AGAIN,
    OK,
    VERIFY_FIRST,
    VERIFY_LEGIT,
    VERIFY_WHY,
    VERIFY_FAILED,
    VERIFY_LOCKED,
    SESSION_EXPIRED,
    ALREADY_QUEUED,
    ESCALATION_REPEAT,
    CHOOSE,
    NOT_CONSEQUENCE,
    NEITHER,
    *ASK_FACT.values(),
    *ASK_FACT_AGAIN.values(),
    *FORMAT_HINTS.values(),
    *HELD.values(),
    *(before for before, _after in ESCALATION_ACK.values()),
    *(text for key, text in CONFIRM.items() if key in ("stop_contact", "wrong_number")),
    CHOICE_TITLE["stop_contact"],
    CHOICE_TITLE["wrong_number"],
    HUMAN["title"],
)

# Offered right after the disclosure (SPEC §14): what the debt is, the amount, and the debtor's
# right to dispute it, as a page they can keep.
VALIDATION_NOTICE = (
    "Here is your validation notice to keep: it says what this debt is, how much is owed and how "
    "to dispute it. You have until {date} to dispute it. {url}"
)

# With the confirmation of an agreed plan or settlement (SPEC §14).
AGREEMENT_LINK = "Your written agreement, to read, print or save: {url}"
