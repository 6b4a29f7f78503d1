"""One debtor turn being answered: the session, the settings, the conversation, what was heard,
the dialogue state and the reply being built. Passed to every part of the dialogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from parley.balance import disclosures
from parley.conversations.state import verified_account
from parley.core.clock import debtor_zone, local_date
from parley.core.settings import Settings
from parley.dialogue import texts
from parley.dialogue.heard import Heard
from parley.dialogue.reply import Reply
from parley.dialogue.state import DialogueState
from parley.tables import Account, Conversation


@dataclass
class Turn:
    session: Session
    settings: Settings
    conversation: Conversation
    heard: Heard
    state: DialogueState
    reply: Reply
    now: datetime

    @property
    def company(self) -> str:
        return self.settings.company_name

    @property
    def account(self) -> Account | None:
        return verified_account(self.session, self.conversation)

    @property
    def today(self) -> date:
        """Today in the debtor's zone (the account's, else the safe-harbour guess)."""
        account = self.account
        zones = account.zone_names if account is not None else []
        return local_date(self.now, debtor_zone(zones, self.now))

    def say(self, text: str, buttons: list[texts.Button] | None = None) -> None:
        self.reply.say(text, buttons)

    def disclose(self) -> None:
        """The debt-collector disclosure, once per conversation, before anything about the debt."""
        if disclosures.record_disclosure(self.session, self.conversation, self.company):
            self.say(disclosures.disclosure_text(self.company))
