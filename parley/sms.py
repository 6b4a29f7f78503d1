"""The SMS channel (SPEC §7): signatures, keywords, rendering, segments, and one inbound turn.

How an inbound text travels: the webhook's signature is checked (`signature_valid`); the
`MessageSid` is claimed in `processed_events` in the same transaction that stores the (redacted)
message, so a replay is answered with an empty TwiML response and never reaches the bot twice;
STOP / START / HELP words are answered here without the bot; an opted-out number gets no answer;
a reply that is just a number is mapped to that button of the previous bot turn; then the bot's
replies are rendered for SMS (buttons as numbered choices) and packed into as few SMS as fit in
`sms_max_segments` segments, each ending with the opt-out statement once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.messaging_response import MessagingResponse

from parley import optout
from parley.bot_client import BotClient, OutMessage
from parley.db import transaction
from parley.errors import BotUnavailable
from parley.messaging import CARD_DETAILS_TRIGGER
from parley.models import AuditEvent, Conversation, Message, OutboundMessage, ProcessedEvent
from parley.redaction import redact
from parley.settings import Settings

log = logging.getLogger(__name__)

TWILIO_SOURCE = "twilio"
STATUS_PATH = "/sms/twilio/status"

# --- Encoding and segments -------------------------------------------------------------------

# GSM 03.38 default alphabet and its extension table (an extension character costs two septets,
# and the escape + character pair is never split across segments).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# Typographic punctuation that would force the whole SMS into UCS-2 (70 characters a segment)
# for no visible gain; what carriers' "smart encoding" does, done here so that counting is exact.
_SMART = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2026": "...",
        "\u2022": "-",
    }
)


def smart_encode(text: str) -> str:
    """Typographic quotes, dashes and ellipses as their GSM-7 equivalents (letters untouched)."""
    return text.translate(_SMART)


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def segment_count(text: str) -> int:
    """How many SMS segments `text` takes: GSM-7 160 alone or 153 per part, otherwise UCS-2 70
    alone or 67 per part; two-unit characters (GSM-7 escapes, UTF-16 surrogate pairs) are never
    split across parts."""
    if is_gsm7(text):
        units = [2 if char in GSM7_EXTENSION else 1 for char in text]
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        units = [2 if ord(char) > 0xFFFF else 1 for char in text]
        single, part = UCS2_SINGLE, UCS2_PART
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for unit in units:
        if used + unit > part:
            segments += 1
            used = 0
        used += unit
    return segments


def fits(text: str, max_segments: int) -> bool:
    return segment_count(text) <= max_segments


# --- Rendering ---------------------------------------------------------------------------------

_NUMBER_REPLY = re.compile(r"^\s*#?(\d{1,2})\s*[.)]?\s*$")


def choices_line(titles: Sequence[str], first: int = 1) -> str:
    """ "Reply 1 for A, 2 for B or 3 for C." — what replaces buttons on SMS."""
    items = [f"{first + index} for {title}" for index, title in enumerate(titles)]
    listed = ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else items[0]
    return f"Reply {listed}."


@dataclass(frozen=True)
class Part:
    """One reply as it reads on SMS, with the buttons its numbers stand for."""

    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)


def render(replies: Sequence[OutMessage]) -> list[Part]:
    """Bot replies as SMS text; buttons become choices numbered across the whole turn."""
    parts: list[Part] = []
    number = 1
    for reply in replies:
        text = smart_encode(reply.text.strip())
        buttons = [b for b in reply.buttons if b.get("title") and b.get("payload")]
        if buttons:
            line = choices_line([smart_encode(b["title"]) for b in buttons], number)
            text = f"{text}\n{line}" if text else line
            number += len(buttons)
        if text:
            parts.append(Part(text, buttons))
    return parts


@dataclass(frozen=True)
class SmsBody:
    """One SMS as sent: its full text (statement included) and the buttons it offers."""

    text: str
    buttons: list[dict[str, str]]


def _split_long(text: str, statement: str, max_segments: int) -> list[str]:
    """Cut one reply too long for a single SMS at word boundaries (characters as a last resort)."""
    chunks: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if fits(f"{candidate}\n{statement}", max_segments):
            current = candidate
            continue
        if current:
            chunks.append(current)
        current = ""
        for char in word:
            if fits(f"{current}{char}\n{statement}", max_segments):
                current += char
            else:
                chunks.append(current)
                current = char
    if current:
        chunks.append(current)
    return chunks


def pack(parts: Sequence[Part], statement: str, max_segments: int) -> list[SmsBody]:
    """The replies of one turn as few SMS as possible, in order, each ending with `statement`
    once and within `max_segments` segments."""
    bodies: list[SmsBody] = []
    texts: list[str] = []
    buttons: list[dict[str, str]] = []

    def flush() -> None:
        nonlocal texts, buttons
        if texts:
            bodies.append(SmsBody("\n".join([*texts, statement]), buttons))
        texts, buttons = [], []

    for part in parts:
        if fits("\n".join([*texts, part.text, statement]), max_segments):
            texts.append(part.text)
            buttons = buttons + part.buttons
            continue
        flush()
        if fits(f"{part.text}\n{statement}", max_segments):
            texts, buttons = [part.text], list(part.buttons)
            continue
        chunks = _split_long(part.text, statement, max_segments)
        for chunk in chunks[:-1]:
            bodies.append(SmsBody(f"{chunk}\n{statement}", []))
        texts, buttons = [chunks[-1]], list(part.buttons)
    flush()
    return bodies


def with_statement(body: str, statement: str) -> str:
    """An outbound (REST) SMS body carrying the opt-out statement exactly once."""
    text = smart_encode(body.strip())
    if text.endswith(statement):
        return text
    return f"{text}\n{statement}"


# --- Phones, signatures, TwiML ---------------------------------------------------------------


def normalize_phone(raw: str) -> str | None:
    """E.164 for a sender number; None when it is not a phone number (short codes, junk)."""
    try:
        number = phonenumbers.parse(raw.strip(), "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def signature_valid(
    auth_token: str,
    url: str,
    params: Mapping[str, Any],
    signature: str | None,
    signature_settings: str | None = None,
) -> bool:
    """Twilio's `X-Twilio-Signature` over the exact URL it called (our configured public URL +
    path + query) and the form parameters; a missing signature is simply invalid."""
    if not signature:
        return False
    validator = RequestValidator(auth_token)
    algorithm = get_signature_algorithm(signature_settings)
    return bool(validator.validate(url, params, signature, algorithm))


def status_callback_url(settings: Settings, message_ids: Sequence[int] = ()) -> str:
    """Where Twilio reports delivery; reply SMS name the stored messages they carry, because a
    TwiML reply's MessageSid is only known once Twilio calls back."""
    url = settings.public_url.rstrip("/") + STATUS_PATH
    if message_ids:
        url += "?m=" + ",".join(str(message_id) for message_id in message_ids)
    return url


def twiml(replies: Sequence[OutgoingSms], settings: Settings) -> str:
    response = MessagingResponse()
    for reply in replies:
        response.message(
            reply.text, action=status_callback_url(settings, reply.message_ids), method="POST"
        )
    return str(response.to_xml())


# --- One inbound text --------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingSms:
    text: str
    message_ids: tuple[int, ...]


@dataclass(frozen=True)
class SmsTurn:
    """What to answer one inbound text with; `replay` marks a MessageSid seen before."""

    conversation_id: str | None
    replies: list[OutgoingSms]
    replay: bool = False


class _Replay(Exception):
    pass


def opted_out_text(settings: Settings) -> str:
    return (
        f"You're opted out of texts from {settings.company_name}. No more messages will be "
        "sent. Reply START to opt back in."
    )


def opted_in_text(settings: Settings) -> str:
    return f"You're opted back in to texts from {settings.company_name}."


def help_text(settings: Settings) -> str:
    return f"{settings.company_name}. For help, contact {settings.company_contact}."


UNAVAILABLE_TEXT = "Sorry, we can't reply right now. Please text us again in a few minutes."


def find_or_open_conversation(session: Session, phone: str) -> Conversation:
    """The open SMS conversation of this number, or a new one (a closed one stays closed)."""
    conversation = session.scalars(
        select(Conversation)
        .where(
            Conversation.channel == "sms",
            Conversation.phone == phone,
            Conversation.status != "closed",
        )
        .order_by(Conversation.created_at.desc(), Conversation.id)
        .limit(1)
    ).first()
    if conversation is None:
        conversation = Conversation(channel="sms", phone=phone)
        session.add(conversation)
        session.flush()
        session.add(
            AuditEvent(
                kind="conversation.started",
                conversation_id=conversation.id,
                data={"channel": "sms"},
            )
        )
    return conversation


def last_turn_buttons(session: Session, conversation_id: str) -> list[dict[str, str]]:
    """The numbered choices of the latest outbound turn (the messages since the debtor's last
    text, in order), or [] if it offered none."""
    rows = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(20)
    )
    turn: list[Message] = []
    for row in rows:
        if row.direction == "inbound":
            break
        turn.append(row)
    if not turn or turn[0].sender != "bot":
        return []  # an agent or system message came after the choices: they no longer apply
    buttons: list[dict[str, str]] = []
    for row in reversed(turn):
        buttons.extend(
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in row.buttons or []
        )
    return buttons


def choice_payload(text: str, buttons: Sequence[Mapping[str, str]]) -> str | None:
    """The payload of the numbered choice `text` names, if it is just a number in range."""
    match = _NUMBER_REPLY.match(text)
    if match is None:
        return None
    index = int(match.group(1)) - 1
    if 0 <= index < len(buttons):
        payload = buttons[index].get("payload")
        return str(payload) if payload else None
    return None


@dataclass
class _Inbound:
    conversation_id: str
    phone: str
    action: str  # bot | silent | stop | start | help
    bot_text: str = ""
    answered_by: str = "system"
    texts: list[str] = field(default_factory=list)


def handle_inbound_sms(
    factory: sessionmaker[Session],
    bot: BotClient,
    settings: Settings,
    *,
    message_sid: str,
    from_number: str,
    body: str,
    now: datetime | None = None,
) -> SmsTurn:
    """Store one signed inbound text and work out the SMS that answer it (at most once)."""
    phone = normalize_phone(from_number) or from_number.strip()[:20]
    try:
        inbound = _record_inbound(factory, settings, message_sid, phone, body)
    except _Replay:
        log.info("sms replay ignored", extra={"message_sid": message_sid})
        return SmsTurn(None, [], replay=True)
    statement = settings.sms_opt_out_text
    if inbound.action == "silent":
        return SmsTurn(inbound.conversation_id, [])
    if inbound.action != "bot":
        parts = [Part(smart_encode(text)) for text in inbound.texts]
        # The opt-out confirmation is the last SMS the number gets: it ends with how to opt back
        # in instead of how to opt out.
        ending = "" if inbound.action == "stop" else statement
        return _store_outgoing(factory, settings, inbound.conversation_id, parts, ending, "system")
    sender = "bot"
    try:
        replies = bot.send(inbound.conversation_id, inbound.bot_text)
    except BotUnavailable:
        replies, sender = [OutMessage(UNAVAILABLE_TEXT)], "system"
    parts = render(replies)
    with transaction(factory) as session:
        opted_out_now = optout.is_opted_out(session, inbound.phone)
    ending = statement
    if opted_out_now:
        # The bot honoured a plain-language stop this turn: acknowledge, confirm, then silence.
        parts.append(Part(opted_out_text(settings)))
        ending = ""
    return _store_outgoing(factory, settings, inbound.conversation_id, parts, ending, sender)


def _record_inbound(
    factory: sessionmaker[Session], settings: Settings, message_sid: str, phone: str, body: str
) -> _Inbound:
    redacted = redact(body)
    word = optout.keyword(body)
    with transaction(factory) as session:
        session.add(ProcessedEvent(source=TWILIO_SOURCE, external_id=message_sid[:128]))
        try:
            session.flush()
        except IntegrityError as exc:
            raise _Replay from exc
        conversation = find_or_open_conversation(session, phone)
        buttons = [] if word else last_turn_buttons(session, conversation.id)
        opted_out = optout.is_opted_out(session, phone)
        session.add(
            Message(
                conversation_id=conversation.id,
                direction="inbound",
                sender="debtor",
                text=redacted.text,
                redacted=redacted.changed,
                external_id=message_sid[:64],
                delivery_status="received",
            )
        )
        if redacted.changed:
            session.add(
                AuditEvent(
                    kind="message.redacted",
                    conversation_id=conversation.id,
                    data={"card_numbers": redacted.card_numbers, "ssns": redacted.ssns},
                )
            )
        result = _Inbound(conversation.id, phone, "silent")
        if word == "stop":
            said = body.strip().upper()[:64]
            if optout.opt_out(session, phone, "keyword", said, conversation.id):
                result.action, result.texts = "stop", [opted_out_text(settings)]
        elif word == "start":
            optout.opt_in(session, phone, "keyword", conversation.id)
            result.action, result.texts = "start", [opted_in_text(settings)]
        elif opted_out:
            pass  # stored for the record, never answered
        elif word == "help":
            result.action, result.texts = "help", [help_text(settings)]
        elif conversation.status == "bot":
            result.action = "bot"
            mapped = choice_payload(redacted.text, buttons)
            if redacted.card_numbers:
                result.bot_text = CARD_DETAILS_TRIGGER
            else:
                result.bot_text = mapped or redacted.text
        # else: a person holds the conversation; the console shows the message.
        return result


def _store_outgoing(
    factory: sessionmaker[Session],
    settings: Settings,
    conversation_id: str,
    parts: Sequence[Part],
    statement: str,
    sender: str,
) -> SmsTurn:
    if statement:
        bodies = pack(parts, statement, settings.sms_max_segments)
    else:
        bodies = [
            SmsBody(body.text.removesuffix("\n"), body.buttons)
            for body in pack(parts, "", settings.sms_max_segments)
        ]
    replies: list[OutgoingSms] = []
    with transaction(factory) as session:
        for body in bodies:
            message = Message(
                conversation_id=conversation_id,
                direction="outbound",
                sender=sender,
                text=body.text,
                buttons=body.buttons or None,
                delivery_status="replied",
            )
            session.add(message)
            session.flush()
            replies.append(OutgoingSms(body.text, (message.id,)))
    return SmsTurn(conversation_id, replies)


# --- Delivery status callbacks ------------------------------------------------------------------

# Twilio's statuses in the order a message moves through them; a late callback never moves a
# message back (callbacks may arrive out of order).
_STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "read": 5,
    "canceled": 4,
}
# Twilio error for a recipient who replied STOP at the carrier or Twilio level.
UNSUBSCRIBED_RECIPIENT = "21610"


def _advance(current: str | None, new: str) -> bool:
    return _STATUS_RANK.get(new, 0) >= _STATUS_RANK.get(current or "", -1)


def apply_status(
    factory: sessionmaker[Session],
    *,
    message_sid: str,
    status: str,
    error_code: str | None = None,
    message_ids: Sequence[int] = (),
) -> int:
    """Record a delivery status on the outbound messages it concerns; returns how many changed."""
    status = status.strip().lower()[:32]
    changed = 0
    with transaction(factory) as session:
        rows: list[Message] = list(
            session.scalars(select(Message).where(Message.external_id == message_sid))
        )
        if message_ids:
            rows.extend(
                session.scalars(
                    select(Message).where(
                        Message.id.in_(list(message_ids)), Message.direction == "outbound"
                    )
                )
            )
        for message in {row.id: row for row in rows}.values():
            if message.external_id is None:
                message.external_id = message_sid[:64]
            if message.external_id == message_sid[:64] and _advance(
                message.delivery_status if message.delivery_status != "replied" else None, status
            ):
                message.delivery_status = status
                changed += 1
        outbound = session.scalars(
            select(OutboundMessage).where(OutboundMessage.provider_id == message_sid)
        ).all()
        for row in outbound:
            if _advance(row.delivery_status, status):
                row.delivery_status = status
                changed += 1
            if error_code == UNSUBSCRIBED_RECIPIENT:
                optout.opt_out(session, row.to, "carrier", f"twilio {error_code}")
    return changed
