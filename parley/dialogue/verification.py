"""Verifying who the debtor is, in the chat (SPEC §4).

The facts are read from the message itself: a date of birth, ZIP or SSN last-4 anywhere in a
message fills its fact whatever was asked; a last name only when it was asked for and the
message reads as one. What the debtor types while a fact is asked for is read in context: a
greeting, a question or a request is answered (or kept for after verification) and the fact
asked again; it is not taken as the fact and costs no attempt. Facts are sealed (keyed hashes)
as soon as they are read, so the plain values live only in this turn's memory.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

from parley.dialogue import texts
from parley.dialogue.heard import CONSEQUENTIAL, Heard
from parley.dialogue.turn import Turn
from parley.verification.check import VerificationResult, check_identity
from parley.verification.factors import parse_zip, seal
from parley.verification.facts import extract_facts, extract_last_name, names_the_surname

# Intents that are plainly answers (or may be): anything else read with confidence interrupts.
ANSWER_INTENTS: Final = frozenset({"inform", "nlu_fallback"})
# A message holding exactly the fact asked for is an answer unless the NLU is this sure it is
# something else ("whats my balance", "agent").
FACT_OVERRIDES_BELOW: Final = 0.7
# SMS shorthand for question words ("wat is this", "dis charge"): alone it is not a surname, and in
# a longer message it makes the message a sentence.
_SHORTHAND: Final = frozenset(
    "wat wut whut whats wats hw dis dat".split()  # noqa: SIM905 - a word list reads better as text
)
# Words that are never a last name, whatever the classifier says: greetings in the languages
# debtors write in, acknowledgements, and question words.
NOT_NAMES: Final = frozenset(
    """
    hi hii hiii hello helo hey heya hiya yo sup howdy greetings morning evening afternoon
    hola buenas buenos dias tardes noches ola alo bonjour salut ciao hallo
    ok okay okey k kk yes yeah yep yup ya si no nope nah sure fine thanks thank thx ty please pls
    what why who how when where which huh eh hm hmm idk dunno help agent human person stop quit
    unsubscribe cancel end start info balance debt money owe account bill
    charge charges scam payment text texts msg message
    """.split()  # noqa: SIM905 - a word list reads better as text
).union(_SHORTHAND)
# Words of a sentence, never of a surname: a candidate holding one is a sentence the filler
# removal left behind ("why do you need that"), not a name.
SENTENCE_WORDS: Final = frozenset(
    """
    do does did need needs want wants know that this these those the is are was were be been
    you your yours me my mine we our they them their he she him her can could would should will
    have has had why what how who when where not dont don't cant can't wont won't about for with
    from to of it its it's an and or but so if then there here just really tell give send get
    a u ur r what's hows how's whos who's whens when's wheres where's
    """.split()  # noqa: SIM905 - a word list reads better as text
).union(_SHORTHAND)
# Greetings however many letters are typed ("heyyy", "hiii", "helloo").
_GREETING = re.compile(
    r"^(?:h+e+y+|h+i+|h+e+l+o+|y+o+|s+u+p+|o+l+a+|h+o+l+a+|w+h?a+[sz]+u+p+|w+h?a+t+s+u+p+)$"
)
# Said instead of the fact asked for, before verification (whatever the classifier made of it):
# why the facts are needed, whether this is genuine, or a wish to pay (kept for afterwards).
_ASKS_WHY = re.compile(
    r"\bwhy\b.{0,30}\b(?:need|want|ask\w*|have to|must|give|tell)\b|"
    r"\bwhat (?:do|would) (?:you|u) need (?:it|that|this|my \w+) for\b",
    re.I,
)
_ASKS_LEGIT = re.compile(
    r"\blegit\w*|\bscam\w*|\bphishing\b|\bhow (?:do|can|would) i (?:know|tell|be sure|trust)\b|"
    r"\bprove\b|\bis this (?:real|for real|genuine|a real)",
    re.I,
)
_RELATIVE = (
    r"(?:husband|wife|hubby|spouse|son|daughter|kid|child|mom|mum|mother|dad|father|parent|"
    r"partner|boyfriend|girlfriend|fianc[eé]e?|brother|sister|grandson|granddaughter|grandma|"
    r"grandmother|grandpa|grandfather|aunt|uncle|nephew|niece|cousin|friend|roommate|tenant)"
)
# Someone writing for the debtor ("I'm writing on behalf of my husband", "it's my mom's
# account"): nothing about the account is theirs to hear (FDCPA §805(b)).
_FOR_SOMEONE_ELSE = re.compile(
    r"\bon behalf of\b|"
    rf"\b(?:writing|texting|messaging|asking|contacting you|here) for my {_RELATIVE}\b|"
    rf"\bmy {_RELATIVE}(?:'s|s| s) (?:account|debt|bill|loan|card|name)\b|"
    r"\b(?:it'?s|its|this is|that'?s|thats) (?:his|her|their) (?:account|debt|bill|loan)\b|"
    rf"\bmy {_RELATIVE} (?:asked|wants|wanted|told) me to\b",
    re.I,
)
_WANTS_TO_PAY = re.compile(
    r"\b(?:pay(?:ing)?|payments?|plan|settle\w*|installments?|instalments?)\b(?!\s*(?:stub|check))",
    re.I,
)
# Never taken for a surname, however it is typed: the consequences and a request for a person.
HARD_INTERRUPTS: Final = frozenset({*CONSEQUENTIAL, "request_human"})
_LETTERS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def fact_order(turn: Turn) -> list[str]:
    return list(turn.settings.verification_factors)


def ask_next(turn: Turn, *, again: bool = False) -> None:
    """Ask for the first fact still missing (and remember that it was asked)."""
    state = turn.state
    missing = next((f for f in fact_order(turn) if f not in state.facts), None)
    if missing is None:
        missing = fact_order(turn)[0]
    state.asking = missing
    question = texts.ASK_FACT_AGAIN[missing] if again else texts.ASK_FACT[missing]
    turn.reply.say(question)


def repeat_question(turn: Turn) -> None:
    """The fact pending is asked again (after an interruption was answered)."""
    ask_next(turn, again=True)


def is_name_like(text: str) -> bool:
    words = [w.lower() for w in _LETTERS.findall(text)]
    if not words or all(w in NOT_NAMES for w in words):
        return False
    return not (len(words) > 1 and any(w in SENTENCE_WORDS for w in words))


def interrupts(heard: Heard, asking: str | None, facts_found: dict[str, str]) -> bool:
    """Whether the message is something other than an answer to the question asked: an intent
    other than `inform` read with confidence. Between `UNSURE` and `FACT_OVERRIDES_BELOW` a
    message that holds exactly the fact asked for is still an answer (a surname the classifier
    never saw can come back as, say, `affirm` at 0.55)."""
    if heard.payload:
        return True
    if heard.intent in ANSWER_INTENTS or not heard.sure:
        return False
    if (
        asking == "last_name"
        and is_surname_answer(heard.text, facts_found.get("last_name"))
        and heard.intent not in HARD_INTERRUPTS
    ):
        # A single unknown word when the surname is asked is the surname ("bello", "pollard"),
        # and so is a short answer that is nothing but a name ("abdel malik", "It's
        # Hollingsworth, ma'am"), however the classifier reads it: asking again would loop.
        return False
    if heard.confidence < FACT_OVERRIDES_BELOW:
        return asking not in facts_found
    return True


def is_surname_answer(text: str, name: str | None) -> bool:
    """The message is a surname and little else: one unknown word, or a name of up to three
    words found in it with at most two words around it ("it's", "sorry", "ma'am"), none of
    them a word of a sentence, no digits and no question."""
    if name is None:
        return False
    if is_one_word_surname(text):
        return True
    words = [w.lower() for w in _LETTERS.findall(name)]
    if not 1 <= len(words) <= 3 or re.search(r"\d|\?", text):
        return False
    if any(w in NOT_NAMES or w in SENTENCE_WORDS or _GREETING.match(w) for w in words):
        return False
    return len(_LETTERS.findall(text)) <= len(words) + 2


def is_one_word_surname(text: str) -> bool:
    words = _LETTERS.findall(text)
    if len(words) != 1 or re.search(r"\d|\?", text):
        return False
    word = words[0].lower()
    return word not in NOT_NAMES and word not in SENTENCE_WORDS and not _GREETING.match(word)


def read_facts(turn: Turn, heard: Heard) -> dict[str, str]:
    """The facts in this message (plain), limited to the configured factors."""
    required = fact_order(turn)
    if heard.payload:
        return {}
    facts = extract_facts(heard.text, today=turn.today)
    found: dict[str, str] = {}
    if facts.dob is not None and "date_of_birth" in required:
        found["date_of_birth"] = facts.dob.isoformat()
    if facts.zip_or_ssn4 is not None and "zip_or_ssn4" in required:
        found["zip_or_ssn4"] = facts.zip_or_ssn4
    if turn.state.asking == "last_name" and "last_name" in required and "?" not in heard.text:
        others = facts.dob is not None or facts.zip_or_ssn4 is not None
        name = extract_last_name(facts.rest, with_other_facts=others)
        if name is not None and is_name_like(name):
            found["last_name"] = name
    return found


def named_surname(heard: Heard, found: dict[str, str]) -> bool:
    """The surname found was introduced as one ("hello, this is Gordon now. My last name is
    Mackey."): then it counts whatever else the message is read as."""
    return "last_name" in found and names_the_surname(heard.text)


def sealed(turn: Turn, found: dict[str, str]) -> dict[str, str]:
    """The date of birth and ZIP / SSN last-4 as keyed hashes; the name stays as typed (the
    accounts table holds it in plain text too)."""
    secret = turn.settings.secret_key
    out = dict(found)
    if "date_of_birth" in found:
        out["date_of_birth"] = seal(secret, "dob", found["date_of_birth"])
    if "zip_or_ssn4" in found:
        value = found["zip_or_ssn4"]
        out["zip_or_ssn4"] = seal(secret, "zip" if parse_zip(value) else "ssn4", value)
    return out


def take_answer(turn: Turn, found: dict[str, str]) -> VerificationResult | None:
    """Keep the facts; once all are in, check them. None while some are still missing."""
    state = turn.state
    state.facts = {**state.facts, **sealed(turn, found)}
    if any(f not in state.facts for f in fact_order(turn)):
        ask_next(turn)
        return None
    facts = state.facts
    result = check_identity(
        turn.session,
        conversation_id=turn.conversation.id,
        last_name=facts.get("last_name"),
        dob=facts.get("date_of_birth"),
        zip_or_ssn4=facts.get("zip_or_ssn4"),
        secret=turn.settings.secret_key,
        max_attempts=turn.settings.verification_max_attempts,
        lockout_minutes=turn.settings.verification_lockout_minutes,
        factors=fact_order(turn),
        now=turn.now,
    )
    state.forget_verification()
    if result.status == "failed":
        turn.reply.say(texts.VERIFY_FAILED)
        ask_next(turn)
    return result


def aside(text: str) -> str | None:
    """What a message typed instead of the fact asked for is about, read from its words:
    "someone_else" (written for the debtor by someone else), "why" (why the facts are needed),
    "legit" (whether this is genuine), "pay" (a wish to pay), else None. A surname never has
    these words."""
    if _FOR_SOMEONE_ELSE.search(text):
        return "someone_else"
    if _ASKS_WHY.search(text):
        return "why"
    if _ASKS_LEGIT.search(text):
        return "legit"
    if len(_LETTERS.findall(text)) > 2 and wants_to_pay(text):
        return "pay"
    return None


def is_sentence(text: str) -> bool:
    """Three words or more, one of them a word of a sentence ("never mind, I'll tell him to
    call you"): never a malformed surname, date or ZIP."""
    if re.search(r"\d", text):
        return False  # "g4rc1a", "3/14/85 i think": a malformed fact
    words = [w.lower() for w in _LETTERS.findall(text)]
    return len(words) >= 3 and any(w in SENTENCE_WORDS for w in words)


def wants_to_pay(text: str) -> bool:
    """The words speak of paying ("i want to start paying this down")."""
    return _WANTS_TO_PAY.search(text) is not None


def echoed(turn: Turn) -> bool:
    """The same words again, to the same question, as last time ("Farrow, and my birthday is
    9/23/79" each time the surname is asked): whatever made the answer not count will not
    change by itself. Only a keyed digest of the words is kept (they may hold facts, so it is
    keyed like the factors' hashes), and only until the facts are checked."""
    state = turn.state
    words = " ".join(re.findall(r"\w+", turn.heard.text.lower()))
    key = turn.settings.secret_key.encode()
    digest = hmac.new(key, f"{state.asking}|{words}".encode(), hashlib.sha256).hexdigest()[:16]
    state.echoes = state.echoes + 1 if digest == state.echo else 0
    state.echo = digest
    return state.echoes > 0


# The format hint given this many times in a row, a person takes over (never a loop).
MAX_HINTS: Final = 3


def format_hint(turn: Turn) -> bool:
    """The fact's format, once more; False when that was said `MAX_HINTS` times in a row
    already (the caller hands over to a person)."""
    state = turn.state
    state.fallbacks += 1
    if state.fallbacks >= MAX_HINTS:
        state.fallbacks = 0
        return False
    asking = state.asking or fact_order(turn)[0]
    turn.reply.say(texts.FORMAT_HINTS[asking])
    return True
