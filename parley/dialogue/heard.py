"""What the NLU made of a debtor's message, and how sure it has to be before anything follows.

SPEC §11: intents with consequences are never acted on a guess, nor missed. `consequence` reads
one message into: act on it, ask one short question about it (or about two close readings), or
nothing consequential. The thresholds were chosen from measurements (cross-validation on the
training data, docs/bot.md "Calibration"), not guessed; missing a dispute is worse than asking
once, so the asking threshold is low.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

from parley.escalations.reasons import dispute_kind
from parley.negotiation.terms import is_refusal

CONSEQUENTIAL: Final = (
    "dispute",
    "bankruptcy",
    "attorney",
    "stop_contact",
    "wrong_number",
    "hardship",
)
# Acted on only after verification (SPEC §10: they need the account); the others act at once.
NEED_ACCOUNT: Final = frozenset({"dispute", "bankruptcy", "attorney", "hardship"})

# At or above ACT the top intent is acted on; from ASK it is confirmed first. A consequential
# intent that is not the top one is asked about when it is within MARGIN of the top and at least
# ASK_SECOND. See docs/bot.md for the measurements behind these numbers.
ACT: Final = 0.90
ASK: Final = 0.25
ASK_SECOND: Final = 0.25
MARGIN: Final = 0.25
# A message in the words of a dispute (parley.escalations.reasons.dispute_kind) is asked about
# when the classifier gives dispute at least this much, whatever its top intent.
DISPUTE_WORDS_ASK: Final = 0.02
# A consequential runner-up at or above this, named in so many words, is asked about too.
WORDED_SECOND: Final = 0.05
# Below this the NLU's reading of any intent is a guess: the message is read by context only.
UNSURE: Final = 0.40

# A reply that opens with a plain yes is a yes even when the classifier reads the rest ("Yes,
# thank you", "yes $400 on the 15th" as an offer of the same terms): see `affirms`.
_YES_OPENER = re.compile(
    r"^\W*(?:y|ya|ye|yea|yeah|yes+|yep|yup|ok|okay|okey|k|kk|sure|deal|perfect|great|alright|"
    r"all right|si|sí|correct|absolutely|definitely|sounds good|that works|works for me|"
    r"go ahead|please do|do it|let'?s do (?:it|that)|i agree|agreed)\b",
    re.I,
)
_YES_ANYWHERE = re.compile(
    r"\b(?:i accept|i'?ll accept|i agree|accepted|agreed|sounds good|that works|works for me|"
    r"let'?s do (?:it|that)|i'?ll take (?:it|that)|go ahead)\b",
    re.I,
)
# A weak yes ("ok", "k", "cool") that says goodbye ("k thx bye") ends the chat; it agrees to
# nothing (a strong one, "yes, thanks, bye", still does).
_WEAK_YES = re.compile(
    r"^\W*(?:ok|okay|okey|k|kk|alright|all right|cool|great|perfect|fine|sure)\b", re.I
)
_BYE = re.compile(
    r"\b(?:bye+|goodbye|good bye|bye bye|cya|see ya|see you|ttyl|talk later|gotta go|got to go|"
    r"(?:talk|speak|catch you|chat) (?:to you )?later|laters|take care|"
    r"have a (?:good|nice|great) (?:one|day|night|evening))\b",
    re.I,
)
_YES_ONLY = re.compile(r"^\W*(?:y|ya|ye|yea|yeah|yes+|yep|yup|ok|okay|k|sure|si|sí)\W*$", re.I)
_NO_ONLY = re.compile(r"^\W*(?:n|no+|nah|nope|naw|no thanks?(?: you)?|not really|no way)\W*$", re.I)
# "No thanks, I just wanted the amount", "nope. not now": a no first, whatever follows.
_NO_OPENER = re.compile(
    r"^\W*(?:no+|nope|nah|naw)\b(?:\s+thanks?(?: you)?)?\s*[,.!;:]|"
    r"^\W*(?:not (?:now|today|right now|yet|at the moment)|maybe later|i'?ll get back to you)\b",
    re.I,
)
# "no keep texting me, i was just thinking": a no that opens a reply without a comma. Not "no
# more texts", "no contact", and not when the rest asks to stop all the same ("no don't").
_LEADING_NO = re.compile(
    r"^\W*(?:no+|nope|nah|naw)\b(?!\W*(?:more|further|longer|contact|calls?|texts?|"
    r"messages?|emails?)\b)",
    re.I,
)
_STILL_STOP = re.compile(
    r"\b(?:stop|quit|don'?t|dont|do not|leave me alone|no more|cease|lose (?:my|this) number)\b",
    re.I,
)
# "stop, let me think a sec", "hold on", "give me a minute": a pause, not a request to stop.
_PAUSE = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|um+|hmm+|wait|stop|hold on|hang on|one (?:sec|second|moment|min))\W+)*"
    r"(?:let me|lemme|i need to|i have to|i gotta|gotta|give me|gimme|i(?:'| a)?m gonna)\s+"
    r"(?:a\s+|some\s+)?(?:think|sec|second|minute|min|moment|time|check|look|find|grab|get)\b|"
    r"^\W*(?:wait|stop|hold on|hang on)\W+(?:a\s+|one\s+)?(?:sec|second|minute|min|moment)\b|"
    r"^\W*(?:one|1|a) (?:sec|second|moment|min|minute)\W*$|^\W*(?:hold on|hang on|wait)\W*$",
    re.I,
)
# "I'm not ready to set anything up yet", "I'll get back to you": not now, not never.
_DEFER = re.compile(
    r"\b(?:not ready|(?:i'?ll|i will|let me|lemme) (?:get back to you|think (?:about it|it over)|"
    r"come back)|think it over|maybe later|another time|some other time|"
    r"not (?:yet|right now|now|today|at the moment)|"
    r"(?:look at|check|go over|figure out|sort out) my (?:budget|finances|money|bills)|"
    r"(?:talk|speak) (?:to|with) my (?:wife|husband|partner|family|spouse) first)\b",
    re.I,
)
_GIBBERISH_ROWS: Final = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_SHORTHAND: Final = frozenset(
    """
    hmm hmmm mmm thx pls plz txt msg ppl lmk brb smh ttyl nvm tbh bc dm cc shh psst
    k kk ok np nw wtf omg idk
    """.split()  # noqa: SIM905 - a word list reads better as text
)
# Asking for a person in words the classifier may read as a question about the bot ("id
# rather deal w a real human") or as a name ("representative").
_PERSON = re.compile(
    r"^\W*(?:an?\s+)?(?:live\s+|real\s+)?(?:agent|human|person|representative|rep|operator|"
    r"supervisor|manager|someone)\W*(?:please|pls|plz)?\W*$|"
    r"\b(?:talk|speak|deal|chat|work)\s+(?:to|with|w)\s+(?:a|an|some|your|the)?\s*(?:real\s+|live\s+|"
    r"actual\s+)?(?:human|person|agent|representative|rep|someone|somebody|supervisor|manager)\b|"
    r"\b(?:want|need|get|like|prefer)\s+(?:to\s+\w+\s+)?(?:a|an|some)?\s*(?:real|live|actual)\s+"
    r"(?:human|person|agent|one)\b|"
    r"\b(?:go over|discuss|talk about|talk through|review)\s+(?:this|it|that|things)?\s*with\s+"
    r"(?:someone|somebody|a person|a human|an agent|a rep|a representative|one of you)|"
    # "is there a real live person I can talk to?", "put me through to a manager"
    r"\b(?:is there|are there|got|have you got|do you have|can i (?:get|have)|could i (?:get|have)|"
    r"get me|give me|put me (?:through )?(?:to|with)|connect me (?:to|with)|"
    r"transfer me (?:to|with)|"
    r"pass me (?:to|on to))\s+(?:an?\s+|some\s+|your\s+|the\s+)?(?:(?:real|live|actual|living|"
    r"breathing)\s+)*(?:human|person|people|agent|rep|representative|someone|somebody|"
    r"manager|supervisor|operator|being)\b|"
    # "I'd rather not do this with a machine", "I don't want to talk to a bot"
    r"\b(?:don'?t|dont|do not|rather not|won'?t|will not|refuse to)\b(?:\W+\w+){0,5}?\W+"
    r"(?:(?:with|to)\s+)?(?:a|an|the|this|some)\s+(?:machine|bot|robot|computer|ai|automated"
    r"(?:\s+\w+)?|program)\b|"
    # "is somebody real there", "anyone human there?"
    r"\b(?:someone|somebody|anyone|anybody|a person)\s+(?:real|human|alive)\b",
    re.I,
)
_NEGATION = (
    r"(?:not|never|no|n'?t|without|cannot|"
    r"(?:do|does|did|is|are|was|were|have|has|had|ca|could|would|should|wo|ai)n'?t)"
)
# A consequence named only to be denied ("I'm not filing bankruptcy or anything", "I'm not
# disputing it"), said of someone else ("my brother is a lawyer") or hedged ("I thought I had
# paid it") is asked about, never acted on: the classifier reads the topic, not the stance.
_DENIED: Final[dict[str, re.Pattern[str]]] = {
    "bankruptcy": re.compile(
        rf"\b{_NEGATION}\b(?:\W+\w+){{0,3}}?\W+(?:bankrupt\w*|chapter\b|fil(?:e|ed|ing)\b)", re.I
    ),
    "attorney": re.compile(
        rf"\b{_NEGATION}\b(?:\W+\w+){{0,3}}?\W+(?:lawyer|attorney|counsel)|"
        # "my attorney is handling my divorce, not this": a lawyer for another matter
        r"\b(?:lawyer|attorney|counsel|legal aid)\b[^.?!]{0,60}?\b(?:divorce|custody|immigration|"
        r"estate|probate|other (?:case|matter|thing)|different (?:case|matter|thing)|"
        r"not (?:for |about |on |with )?this)\b|"
        r"\b(?:my|a|his|her|our)\s+(?:brother|sister|friend|cousin|dad|mom|father|mother|uncle|"
        r"aunt|wife|husband|son|daughter|neighbou?r|boss)\s+(?:is|was|works as)\s+(?:a|an)\s+"
        r"(?:lawyer|attorney)",
        re.I,
    ),
    "dispute": re.compile(
        rf"\b{_NEGATION}\b(?:\W+\w+){{0,2}}?\W+disput\w*|"
        r"\bi (?:thought|think|guess) i(?:'?d| had)? (?:paid|already)",
        re.I,
    ),
}


# Words that say the consequence itself, not only its topic. A wrong number is acted on at once
# (the number is opted out), so the classifier alone is not enough: "so what number r we looking
# at here" is about an amount. And a consequence in words wins over a request for a person in
# the same message ("that isn't mine and I want to talk to someone"): the person comes with it.
_WORDS_OF: Final[dict[str, re.Pattern[str]]] = {
    "wrong_number": re.compile(
        r"wrong (?:number|person|guy|girl|lady|man|one|#)|\bnot (?:me|him|her|them|my number|"
        r"(?:the )?(?:right|correct) (?:person|number))\b|"
        r"(?:don'?t|do not|dont) know (?:him|her|them|who|any|this|that|a )|"
        r"(?:no one|nobody|noone|no)\b(?:\W+\w+){0,2}\W+(?:by|named|called|with) th|"
        r"new number|(?:recycled|reassigned|just got (?:this|the) (?:number|phone))|"
        r"never heard of|(?:does|do)(?:n'?t| not) live|no longer (?:has|have|uses?|lives?|at)|"
        r"\b(?:moved|passed away|died|deceased)\b|not (?:my|his|her) (?:phone|cell)",
        re.I,
    ),
    "bankruptcy": re.compile(r"bankrupt|chapter\s*(?:7|13|seven|thirteen)\b|trustee", re.I),
    "attorney": re.compile(r"lawyer|attorney|counsel|legal (?:aid|representation)", re.I),
    "stop_contact": re.compile(
        r"\bstop\b|leave me alone|(?:don'?t|do not|dont) (?:ever )?(?:contact|call|text|message|"
        r"email)|cease|no (?:more|further) (?:calls|texts|messages|contact)|quit (?:calling|"
        r"texting|messaging|contacting)|lose my number|unsubscribe",
        re.I,
    ),
}


def in_words(intent: str, text: str) -> bool:
    """Whether `text` says the consequence `intent` in so many words (a dispute: its kind)."""
    plain = text.replace("\u2019", "'")
    if intent == "dispute":
        return dispute_kind(plain) != "other"
    pattern = _WORDS_OF.get(intent)
    return pattern is not None and pattern.search(plain) is not None


def said_not(intent: str, text: str) -> bool:
    """Whether `text` names the consequence `intent` only to deny, hedge or attribute it."""
    pattern = _DENIED.get(intent)
    return pattern is not None and pattern.search(text.replace("\u2019", "'")) is not None


_PAYLOAD = re.compile(r"^/(?P<intent>[a-z_]+)(?P<entities>\{.*\})?$", re.S)


@dataclass(frozen=True)
class Heard:
    """One debtor message as the NLU read it. `text` is what the gateway passed on (redacted);
    a pressed button arrives as its payload ("/affirm"), which is certain."""

    intent: str | None
    confidence: float
    text: str
    ranking: tuple[tuple[str, float], ...] = ()
    entities: dict[str, Any] = field(default_factory=dict)

    @property
    def payload(self) -> bool:
        return self.text.startswith("/")

    @property
    def sure(self) -> bool:
        return self.payload or self.confidence >= UNSURE

    def score(self, intent: str) -> float:
        if self.intent == intent:
            return self.confidence
        return next((c for name, c in self.ranking if name == intent), 0.0)

    def is_(self, *intents: str) -> bool:
        """The top intent is one of `intents`, read with some confidence."""
        return self.intent in intents and self.sure

    def affirms(self) -> bool:
        """A yes: the classifier's (with some confidence), or a reply that opens with one and
        refuses nothing."""
        if self.payload:
            return self.intent == "affirm"
        if _BYE.search(self.text) and (_WEAK_YES.match(self.text) or self.intent == "goodbye"):
            return False
        if self.is_("affirm") and not is_refusal(self.text):
            return True
        if _YES_ONLY.match(self.text):
            return True
        opens = _YES_OPENER.match(self.text) or _YES_ANYWHERE.search(self.text)
        return bool(opens) and not is_refusal(self.text) and not self.denies()

    def opens_with_yes(self) -> bool:
        """The reply starts with a yes ("Yes, I can't afford payments right now"), whatever
        follows: for a question whose yes is itself a refusal to pay (the hardship review)."""
        return bool(_YES_OPENER.match(self.text)) and not self.denies()

    def denies(self) -> bool:
        """A no: the classifier's, a bare no, or a reply that opens with one."""
        if self.payload:
            return self.intent == "deny"
        text = self.text.replace("\u2019", "'")
        return self.is_("deny") or bool(_NO_ONLY.match(text) or _NO_OPENER.match(text))

    def pauses(self) -> bool:
        """A pause in the conversation ("stop, let me think a sec", "hold on", "give me a
        minute to check my account"): nothing is asked for, refused or agreed. Not when the
        words name another consequence ("wait, let me get my lawyer")."""
        text = self.text.replace("\u2019", "'")
        if self.payload or _PAUSE.search(text) is None:
            return False
        return not any(in_words(i, text) for i in CONSEQUENTIAL if i != "stop_contact")

    def defers(self) -> bool:
        """The debtor puts the decision off ("I'm not ready to set anything up yet")."""
        return not self.payload and _DEFER.search(self.text.replace("\u2019", "'")) is not None

    def leads_with_no(self) -> bool:
        """A reply to a yes/no question that opens with a no and asks for nothing it refused
        ("no keep texting me, i was just thinking"): a no, whatever the classifier reads."""
        if self.payload:
            return self.intent == "deny"
        text = self.text.replace("\u2019", "'")
        opener = _LEADING_NO.match(text)
        return opener is not None and not _STILL_STOP.search(text[opener.end() :])

    @property
    def gibberish(self) -> bool:
        """Keyboard mash ("asdfjkl;", "jjjjjj kkk", "qwpeoiruty"): every word is a run along
        one keyboard row, a letter typed over and over, or has no vowel. Never an answer,
        whatever the classifier makes of it."""
        if self.payload:
            return False
        words = re.findall(r"[a-z]+", self.text.lower())
        if not words or re.search(r"\d", self.text):
            return False

        def mash(word: str) -> bool:
            if word in _SHORTHAND:
                return False
            if len(word) >= 5 and any(set(word) <= set(row) for row in _GIBBERISH_ROWS):
                return True
            if re.search(r"(.)\1{3,}", word):
                return True
            return len(word) >= 3 and not re.search(r"[aeiouy]", word)

        return all(mash(word) for word in words)

    def wants_a_person(self) -> bool:
        if self.payload:
            return self.intent == "request_human"
        if self.is_("request_human"):
            return True
        return self.names_a_person and self.intent not in CONSEQUENTIAL

    @property
    def names_a_person(self) -> bool:
        """The words ask for a person, whatever the classifier read."""
        return not self.payload and bool(_PERSON.search(self.text))

    @classmethod
    def from_parse(cls, parse: dict[str, Any]) -> Heard:
        """From Rasa's parse data (`tracker.latest_message`)."""
        intent = parse.get("intent") or {}
        ranking = tuple(
            (str(item.get("name")), float(item.get("confidence") or 0.0))
            for item in parse.get("intent_ranking") or []
            if item.get("name")
        )
        text = str(parse.get("text") or "")
        entities: dict[str, Any] = {}
        match = _PAYLOAD.match(text.strip())
        if match and match["entities"]:
            try:
                loaded = json.loads(match["entities"])
                if isinstance(loaded, dict):
                    entities.update(loaded)
            except ValueError:
                pass
        for entity in parse.get("entities") or []:
            if isinstance(entity, dict) and entity.get("entity"):
                entities.setdefault(str(entity["entity"]), entity.get("value"))
        name = intent.get("name")
        return cls(
            intent=str(name) if name else None,
            confidence=float(intent.get("confidence") or 0.0),
            text=text,
            ranking=ranking,
            entities=entities,
        )


@dataclass(frozen=True)
class Consequence:
    """`act`: the consequential intent to act on; `ask`: one or two to ask about."""

    act: str | None = None
    ask: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return self.act is not None or bool(self.ask)

    def in_words(self, text: str) -> bool:
        """Whether a consequence read here is said in so many words (see `in_words`)."""
        return any(in_words(i, text) for i in (self.act, *self.ask) if i is not None)


def consequence(heard: Heard) -> Consequence:
    """Read one message for intents with consequences (SPEC §11)."""
    if heard.payload:
        return Consequence(act=heard.intent) if heard.intent in CONSEQUENTIAL else Consequence()
    top, confidence = heard.intent, heard.confidence
    others = [
        (name, score)
        for name, score in heard.ranking
        if name in CONSEQUENTIAL and name != top and score >= ASK_SECOND
    ]
    # "... we finally filed chapter 7 on the 3rd ..." read as hardship at 0.75, bankruptcy 0.22:
    # a runner-up the words name outright is asked about with the top reading, not lost.
    worded = [
        name
        for name, score in heard.ranking
        if name in CONSEQUENTIAL
        and name != top
        and score >= WORDED_SECOND
        and in_words(name, heard.text)
        and not said_not(name, heard.text)
    ]
    if top in CONSEQUENTIAL:
        if worded and not in_words(top, heard.text) and not said_not(top, heard.text):
            return Consequence(ask=(top, worded[0]))
        close = [name for name, score in others if confidence - score <= MARGIN]
        if close and confidence < ACT:
            return Consequence(ask=(top, close[0]))
        denied = said_not(top, heard.text) and (
            top != "dispute" or dispute_kind(heard.text) == "other"
        )
        if confidence >= ACT:
            if said_not(top, heard.text):
                # "I'm not disputing it, I just want three payments": said only to deny it.
                # Sure as the classifier is, nothing is done; a denial that still names a kind
                # of dispute ("I don't dispute the account, but I never made these charges")
                # is asked about.
                return Consequence() if denied and top == "dispute" else Consequence(ask=(top,))
            if top == "wrong_number" and not in_words(top, heard.text):
                return Consequence(ask=(top,))
            return Consequence(act=top)
        if confidence >= ASK and not denied:
            return Consequence(ask=(top,))
        return Consequence()
    close = [name for name, score in others if confidence - score <= MARGIN]
    if close:
        return Consequence(ask=(close[0],))
    legal = [name for name in worded if name in ("bankruptcy", "attorney")]
    if legal:
        return Consequence(ask=(legal[0],))
    if dispute_kind(heard.text) != "other" and heard.score("dispute") >= DISPUTE_WORDS_ASK:
        # "why is it 904?? i only owed like 400" read as an offer: the words say which kind of
        # dispute it would be, so it is asked about (missing a dispute is worse than asking).
        return Consequence(ask=("dispute",))
    return Consequence()
