"""Bot replies as SMS (SPEC §7): buttons become numbered choices, the replies of one turn go out
as few SMS as fit in `sms_max_segments` segments, each ending with the opt-out statement once,
and a reply that is just a number picks that choice."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from parley.conversations.bot_client import OutMessage
from parley.sms.encoding import fits, smart_encode

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


def may_be_a_choice(text: str) -> bool:
    """Whether `text` is just a number (the only kind of text `choice_payload` maps)."""
    return _NUMBER_REPLY.match(text) is not None


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
