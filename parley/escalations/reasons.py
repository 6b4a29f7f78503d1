"""Why a conversation goes to a person (SPEC §10), and what each reason implies: its priority
in the queue, whether it pauses collection, which NLU intent says it (SPEC §11), and for a
dispute which kind it is. One place, so the console, the bot and the API agree.
"""

from __future__ import annotations

import re
from typing import Final

from parley.tables import EscalationReason

R = EscalationReason

# Legal-risk reasons first: they pause collection and have response deadlines. Higher is more
# urgent; the console orders the queue by priority, then age.
PRIORITY: Final[dict[EscalationReason, int]] = {
    R.BANKRUPTCY: 90,
    R.ATTORNEY: 90,
    R.CEASE_COMMUNICATION: 80,
    R.DISPUTE: 70,
    R.HARDSHIP: 50,
    R.VERIFICATION_LOCKED: 40,
    R.HUMAN_REQUESTED: 40,
    R.BOT_FAILURE: 30,
    R.WRONG_NUMBER: 20,
}

# These stop collection on the account at once until a supervisor resolves them.
PAUSING_REASONS: Final = frozenset({R.DISPUTE, R.BANKRUPTCY, R.ATTORNEY, R.CEASE_COMMUNICATION})

# The intents with consequences (SPEC §11) and the reason each one escalates with.
REASON_FOR_INTENT: Final[dict[str, EscalationReason]] = {
    "request_human": R.HUMAN_REQUESTED,
    "dispute": R.DISPUTE,
    "bankruptcy": R.BANKRUPTCY,
    "attorney": R.ATTORNEY,
    "stop_contact": R.CEASE_COMMUNICATION,
    "hardship": R.HARDSHIP,
    "wrong_number": R.WRONG_NUMBER,
}

# Checked in order: a fraud claim outranks the rest, proof of payment outranks the amount, and
# "I never had an account with them" (or calling it a scam) is not_mine.
_DISPUTE_KINDS: Final = (
    (
        "fraud",
        re.compile(
            r"fraud|identity theft|identity (?:was |got |has been )?stolen|\bstole|stolen|"
            r"someone (?:else )?(?:\w+ ){0,2}(?:opened|used|took)|used my (?:info|information|"
            r"identity|name|ssn|social|details|card)|in my name|unauthori[sz]ed|"
            r"not authori[sz]ed|never authori[sz]ed|did(?:n'?t| not) authori[sz]e|wasn'?t me|"
            r"was not me|police report",
            re.I,
        ),
    ),
    (
        "already_paid",
        re.compile(
            r"already paid|(?<!should have )(?<!should've )paid (?:it|this|that|off|in full)|"
            r"paid .{0,20}\b(?:off|in full)|"
            r"settled|(?:was|been|is) paid|proof (?:that )?i paid|receipt|bank statement|"
            r"i paid (?:this|it|that)?\s*(?:in|on|last|back)",
            re.I,
        ),
    ),
    (
        "wrong_amount",
        re.compile(
            r"wrong amount|amount is (?:wrong|incorrect|not right)|balance is (?:wrong|not right)|"
            r"too (?:much|high)|incorrect|overcharg|more than i owe|less than (?:that|this)|"
            r"\btwice\b|two times|duplicate|\bonly \$?\d|not right|way off|doesn'?t add up|"
            r"(?:was|is|should be|owed?|owe)\s+(?:only\s+|around\s+|about\s+|like\s+|maybe\s+)"
            r"\$?\d|billed (?:it |me )?wrong|(?:insurance|medicare|medicaid) (?:was supposed to|"
            r"should(?: have|'ve)?|covered|was going to|would)|never agreed to (?:\w+ ){0,2}fees?|"
            r"fees? (?:that )?i never agreed|mistake|an error|"
            r"(?:balance|amount|total|bill|figure)\b.{0,25}\b(?:wrong|incorrect|off|not right)",
            re.I,
        ),
    ),
    (
        "not_mine",
        re.compile(
            r"not (?:even |really |actually )?(?:my|mine)|isn'?t (?:even |really |actually )?"
            r"(?:my|mine)|never (?:had|have|opened|signed|bought|heard)|"
            r"don'?t (?:recogni[sz]e|know)|do not (?:recogni[sz]e|owe)|don'?t owe|owe nothing|"
            r"not me\b|wrong person|not from me|scam|(?:my )?(?:cousin|brother|sister|dad|father|"
            r"mom|mother|son|daughter)'?s\b",
            re.I,
        ),
    ),
)


# The kind said in so many words wins over cues elsewhere in the message ("The amount is wrong,
# insurance should have paid it" is about the amount).
_STATED_KINDS: Final = (
    ("wrong_amount", re.compile(r"amount is (?:wrong|incorrect|not right)|wrong amount", re.I)),
    ("already_paid", re.compile(r"already paid|paid (?:it|this) (?:off|in full)", re.I)),
    (
        "not_mine",
        re.compile(r"\b(?:not|isn'?t) (?:even |really |actually )?(?:my debt|mine)\b", re.I),
    ),
)


def dispute_kind(text: str) -> str:
    """The dispute sub-reason from the debtor's words: not_mine, already_paid, wrong_amount, fraud
    or other. A hint for the agent, not a decision."""
    for kind, pattern in _STATED_KINDS:
        if pattern.search(text):
            return kind
    for kind, pattern in _DISPUTE_KINDS:
        if pattern.search(text):
            return kind
    return "other"
