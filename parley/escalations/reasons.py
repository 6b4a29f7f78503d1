"""Why a conversation goes to a person (SPEC §10), and what each reason implies: its priority
in the queue, whether it pauses collection, which NLU intent says it (SPEC §11), and for a
dispute which kind it is. One place, so the console, the bot and the API agree.
"""

from __future__ import annotations

import re
from typing import Final

from parley.models import EscalationReason

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

# Checked in order: a fraud claim outranks the rest, proof of payment outranks the amount.
_DISPUTE_KINDS: Final = (
    (
        "fraud",
        re.compile(
            r"fraud|identity theft|\bstole|stolen|scam|someone (?:else )?(?:opened|used|took)|"
            r"unauthori[sz]ed|not authori[sz]ed|never authori[sz]ed|did(?:n'?t| not) authori[sz]e|"
            r"wasn'?t me|was not me",
            re.I,
        ),
    ),
    (
        "already_paid",
        re.compile(
            r"already paid|paid (?:it|this|that|off|in full)|paid .{0,20}\b(?:off|in full)|"
            r"settled|(?:was|been|is) paid|proof (?:that )?i paid|receipt",
            re.I,
        ),
    ),
    (
        "wrong_amount",
        re.compile(
            r"wrong amount|amount is (?:wrong|incorrect|not right)|balance is (?:wrong|not right)|"
            r"too (?:much|high)|incorrect|overcharg|more than i owe|less than (?:that|this)|"
            r"\btwice\b|two times|duplicate|\bonly \$?\d",
            re.I,
        ),
    ),
    (
        "not_mine",
        re.compile(
            r"not (?:my|mine)|isn'?t (?:my|mine)|never (?:had|opened|signed)|"
            r"don'?t (?:recogni[sz]e|know)|do not (?:recogni[sz]e|owe)|don'?t owe|owe nothing|"
            r"not me\b|wrong person",
            re.I,
        ),
    ),
)


def dispute_kind(text: str) -> str:
    """The dispute sub-reason from the debtor's words: not_mine, already_paid, wrong_amount, fraud
    or other. A hint for the agent, not a decision."""
    for kind, pattern in _DISPUTE_KINDS:
        if pattern.search(text):
            return kind
    return "other"
