"""What the assistant is waiting for in a conversation, kept on the conversation row.

The dialogue's memory lives in the database, not in Rasa's tracker: any Rasa process, any
replica, and a conversation reset after a failure all read the same state, and a person who
takes a conversation over sees what was pending. The negotiation's own state (what is on the
table) is in its events (`parley.negotiation.dialogue`); this holds the rest:

- `asking`: the identity fact asked for, while verifying;
- `facts`: the facts given so far (the date of birth and ZIP / SSN last-4 sealed, never plain);
- `held`: what the debtor asked or stated before verification, answered right after it;
- `confirming`: a consequential intent the assistant asked about ("are you saying ...?");
- `expect`: what a yes / no / bare figure answers (a summary, the full offer, the terms asked
  for, the hardship-review offer, a due-date change, ...), so it binds to the pending question;
- `fallbacks`: turns in a row the assistant could not understand (twice: a person);
- `pending`: details of the question pending (an amount whose kind was asked, a new due date);
- `expired`: the verified session ran out since the last message (verify again);
- `denied`: consequential intents the debtor said no to when asked, not asked about again;
- `echo` / `echoes`: a digest of the last message before verification and the question it
  answered, and how many times in a row the same words came back to the same question (a
  loop is broken, never played again: `parley.dialogue.verification.echoed`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from parley.tables import Conversation

Expect = Literal[
    "choice",  # the full-balance offer, with its choices
    "summary",  # a plan summary waiting for yes / no
    "terms",  # asked what the debtor can pay
    "amount_kind",  # asked whether an amount is monthly or one payment
    "hardship_offer",  # offered a hardship review
    "promise",  # a promise read back for a yes
    "due_date",  # asked for a new due date
    "due_date_confirm",  # a due-date change read back for a yes
    "more",  # asked whether there is anything else
    "options",  # asked whether the debtor wants to see the payment options
]


@dataclass
class DialogueState:
    asking: str | None = None
    facts: dict[str, str] = field(default_factory=dict)
    held: list[dict[str, Any]] = field(default_factory=list)
    confirming: dict[str, Any] | None = None
    expect: Expect | None = None
    fallbacks: int = 0
    pending: dict[str, Any] = field(default_factory=dict)
    # Set by the gateway when a verified session ran out (SPEC §4): say so, verify again.
    expired: bool = False
    echo: str | None = None
    echoes: int = 0
    # Consequential intents the debtor said no to when asked ("is an attorney representing
    # you?" "no"): a guess at them is not asked again in this session (an act still is).
    denied: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, conversation: Conversation) -> DialogueState:
        data = conversation.dialogue or {}
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, conversation: Conversation) -> None:
        """Write the state back (a new dict, so SQLAlchemy sees the change)."""
        conversation.dialogue = asdict(self)

    def hold(self, kind: str, text: str, **extra: Any) -> None:
        if not any(item["kind"] == kind for item in self.held):
            self.held = [*self.held, {"kind": kind, "text": text[:500], **extra}]

    def forget_verification(self) -> None:
        self.asking, self.facts = None, {}
        self.echo, self.echoes = None, 0


def reset(conversation: Conversation, *, expired: bool = False) -> None:
    """A new session (SPEC §4): nothing pending carries over."""
    conversation.dialogue = asdict(DialogueState(expired=True)) if expired else None
