"""Email opt-out by address, and the unsubscribe token that names an address (SPEC §14).

Every email Parley sends carries a link `/unsubscribe/TOKEN` and RFC 8058 one-click headers
pointing at it. The token is an HMAC-SHA256 of the normalised address under a key derived from
`PARLEY_SECRET_KEY`: unguessable without the key, one per address (every email to an address
carries the same link, so any of them opts the address out), and it reveals nothing: the address
never appears in a URL, so it never reaches an access log.

The token is also stored on the address's `email_opt_outs` row, written before the first email
to it, and the link is resolved by that stored value. So links already delivered keep working
after the secret key is rotated (an unsubscribe link must keep working for as long as the email
may be read), and resolving a token needs no search over addresses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parley.core.clock import utcnow
from parley.core.settings import Settings
from parley.email.addresses import InvalidAddress, normalize_address
from parley.records.audit import Kind, record
from parley.tables import Account, EmailOptOut, OptOutSource

_PURPOSE = b"parley.email.unsubscribe.v1"
TOKEN_LENGTH = 43  # 32 bytes, base64url without padding
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}\Z")


def unsubscribe_token(secret_key: str, address: str) -> str:
    """The token for a normalised `address` (see `parley.email.addresses`)."""
    key = hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()
    digest = hmac.new(key, address.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def unsubscribe_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/unsubscribe/{token}"


def ensure_address(session: Session, settings: Settings, address: str) -> EmailOptOut:
    """The address's row, created (not opted out) if Parley never mailed it before. Two workers
    mailing a new address at once both end up with the one row."""
    row = session.get(EmailOptOut, address)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = EmailOptOut(
                address=address,
                token=unsubscribe_token(settings.secret_key, address),
                opted_out=False,
            )
            session.add(row)
    except IntegrityError:
        row = session.get(EmailOptOut, address, populate_existing=True)
        if row is None:  # pragma: no cover - the conflicting row cannot vanish within a txn
            raise
    return row


def is_opted_out(session: Session, address: str) -> bool:
    """Whether `address` (any spelling: it is normalised here) opted out. An address that is
    not valid is not "opted out": `send_email` refuses it for that reason instead."""
    try:
        normal = normalize_address(address)
    except InvalidAddress:
        return False
    row = session.get(EmailOptOut, normal)
    return row is not None and row.opted_out


def opt_out_address(
    session: Session,
    settings: Settings,
    address: str,
    source: OptOutSource = OptOutSource.REQUEST,
    detail: str | None = None,
) -> bool:
    """Opt an address out by name, for paths other than the link: a debtor's "stop emailing
    me" in the chat, an agent in the console. False if it already was; raises
    `InvalidAddress` for something that is not an address."""
    return opt_out(
        session, ensure_address(session, settings, normalize_address(address)), source, detail
    )


def by_token(session: Session, token: str) -> EmailOptOut | None:
    """The address row an unsubscribe token names, or None for a token Parley never issued."""
    if not _TOKEN.match(token):
        return None
    return session.scalars(select(EmailOptOut).where(EmailOptOut.token == token)).first()


def opt_out(
    session: Session,
    row: EmailOptOut,
    source: OptOutSource = OptOutSource.UNSUBSCRIBE_LINK,
    detail: str | None = None,
) -> bool:
    """Record that nothing more may be emailed to `row.address`; False (and nothing written)
    if it already was opted out, so a repeated click or one-click POST changes nothing."""
    if row.opted_out:
        return False
    row.opted_out, row.source, row.detail, row.updated_at = True, source, detail, utcnow()
    accounts = list(
        session.scalars(
            select(Account.id).where(func.lower(func.trim(Account.email)) == row.address)
        )
    )
    # Ids only: the address itself is personal data and stays out of the audit trail's data.
    record(
        session,
        Kind.EMAIL_OPTED_OUT,
        account_id=accounts[0] if len(accounts) == 1 else None,
        account_ids=accounts,
        source=str(source),
        detail=detail,
    )
    session.flush()
    return True
