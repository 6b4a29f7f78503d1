"""One debtor turn being answered: the session, the settings, the conversation, what was heard,
the dialogue state and the reply being built. Passed to every part of the dialogue."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from parley.balance import disclosures
from parley.conversations.state import is_verified, verified_account
from parley.core.clock import debtor_zone, local_date
from parley.core.dates import long_date
from parley.core.errors import NotConfigured
from parley.core.settings import Settings
from parley.dialogue import texts
from parley.dialogue.heard import Heard
from parley.dialogue.reply import Reply
from parley.dialogue.state import DialogueState
from parley.documents import notices
from parley.documents.links import validation_notice_url
from parley.tables import Account, Conversation

log = logging.getLogger(__name__)


@dataclass
class Turn:
    session: Session
    settings: Settings
    conversation: Conversation
    heard: Heard
    state: DialogueState
    reply: Reply
    now: datetime
    # The verified account, read once per turn (and held: the session's identity map keeps
    # objects only while something refers to them, so each read would be a query again).
    _account: Account | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def company(self) -> str:
        return self.settings.company_name

    @property
    def account(self) -> Account | None:
        """The account a verified conversation is about (None before verification). It is
        read again whenever the conversation's verified account changed during the turn."""
        cached, conversation = self._account, self.conversation
        still = cached is not None and cached.id == conversation.account_id
        if still and is_verified(conversation):
            return cached
        self._account = verified_account(self.session, self.conversation)
        return self._account

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
            self.offer_validation_notice()

    def offer_validation_notice(self) -> None:
        """SPEC §14: a debtor who first reaches Parley by chat is given the validation notice
        right after the disclosure, unless the file says one was already sent by other means or
        one was already provided (with a first contact). Giving the link is providing it, so it
        is recorded here and the validation period runs from today."""
        account = self.account
        if account is None or account.validation_notice_sent is not None:
            return
        if notices.recorded_notice(self.session, account) is not None:
            return
        try:
            notice = notices.provide_notice(
                self.session, self.settings, account, self.conversation.channel.value, self.now
            )
        except NotConfigured as exc:
            # A deployment without the collector's address cannot produce a notice: the chat
            # goes on, and the operator sees why in the log.
            log.warning("validation notice not offered: %s", exc)
            return
        self.say(
            texts.VALIDATION_NOTICE.format(
                date=long_date(notice.period_ends),
                url=validation_notice_url(self.settings, account),
            )
        )
