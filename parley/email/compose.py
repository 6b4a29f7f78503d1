"""One email as Parley sends it (SPEC §14): `email.message.EmailMessage`, multipart/alternative.

The plain-text part is the message: the caller's text, then a footer with the debt-collector
statement (Reg F 1006.18(e): every message Parley initiates says it is from a debt collector)
and the unsubscribe line with the link (Reg F 1006.6(e): each electronic communication carries
the opt-out of its channel). The HTML part is that same text, escaped, paragraphs kept and every
link made an anchor, so both parts always say the same thing and nothing in the HTML can come
from anywhere but the text. The headers carry the same link for mail clients
(`List-Unsubscribe`, with RFC 8058's `List-Unsubscribe-Post: List-Unsubscribe=One-Click`).

Every function here is pure: the message for a stored row is rebuilt from the row alone, so a
retry sends the same bytes under the same Message-ID.
"""

from __future__ import annotations

import html
import re
import secrets
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

MAX_SUBJECT = 200
_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING_PUNCTUATION = ".,;:!?)]}"
_PARAGRAPHS = re.compile(r"\n[ \t]*\n+")
_SPACE = re.compile(r"\s+")
FOOTER_RULE = "--"


def unsubscribe_line(url: str) -> str:
    return f"To stop emails from us, unsubscribe here: {url}"


def full_text(text: str, statement: str, unsubscribe_url: str) -> str:
    """The plain-text part: the caller's text and the footer (statement, unsubscribe line).
    The statement is not repeated when the text already carries it word for word."""
    body = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    footer = [unsubscribe_line(unsubscribe_url)]
    if statement not in body:
        footer.insert(0, statement)
    return f"{body}\n\n{FOOTER_RULE}\n" + "\n".join(footer) + "\n"


def clean_subject(subject: str) -> str:
    """One line, no control characters, at most `MAX_SUBJECT` characters."""
    one_line = _SPACE.sub(" ", "".join(c if c.isprintable() else " " for c in subject)).strip()
    if not one_line:
        raise ValueError("an email needs a subject")
    return one_line[:MAX_SUBJECT]


def _linked(line: str) -> str:
    out: list[str] = []
    last = 0
    for match in _URL.finditer(line):
        url = match.group(0)
        trimmed = url.rstrip(_TRAILING_PUNCTUATION)
        end = match.start() + len(trimmed)
        out.append(html.escape(line[last : match.start()]))
        href = html.escape(trimmed, quote=True)
        out.append(f'<a href="{href}">{html.escape(trimmed)}</a>')
        last = end
    out.append(html.escape(line[last:]))
    return "".join(out)


def html_from_text(text: str, title: str) -> str:
    """The HTML part: `text` escaped, paragraphs as <p>, line breaks as <br>, links as <a>."""
    blocks: list[str] = []
    for paragraph in _PARAGRAPHS.split(text.strip()):
        lines = paragraph.split("\n")
        style = ""
        if lines[0] == FOOTER_RULE:  # the footer: a rule, then its lines in a smaller type
            blocks.append('<hr style="border:none;border-top:1px solid #ccc">')
            lines, style = lines[1:], ' style="font-size:90%;color:#444"'
            if not lines:
                continue
        blocks.append(f"<p{style}>" + "<br>\n".join(_linked(line) for line in lines) + "</p>")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n"
        '<body style="font-family:sans-serif;line-height:1.5;max-width:40em">\n'
        + "\n".join(blocks)
        + "\n</body></html>\n"
    )


def sender_domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rsplit("@", 1)[-1] if "@" in address else "localhost"


def new_message_id(sender: str) -> str:
    """A Message-ID in the sender's domain, random (it names nothing about the debtor)."""
    return f"<{secrets.token_hex(16)}@{sender_domain(sender)}>"


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    message_id: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str | None,
    date: datetime,
) -> EmailMessage:
    """The message for one row; `text` is already the full plain-text part (`full_text`)."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = str(Address(addr_spec=to))
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    targets = [f"<{unsubscribe_url}>"]
    if unsubscribe_mailto:
        targets.append(f"<mailto:{unsubscribe_mailto}?subject=unsubscribe>")
    message["List-Unsubscribe"] = ", ".join(targets)
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Replies are not read (SPEC §14: the email links to the web chat); this tells autoresponders
    # and mail clients the message was sent by a program.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html_from_text(text, subject), subtype="html")
    return message
