"""Portal sign-in for the web chat (SPEC §4): a short-lived signed token naming the account.

A creditor's portal has already authenticated the debtor, so asking for their date of birth
again would be friction without security. The portal signs a JWT (HS256, the shared secret
`PARLEY_PORTAL_TOKEN_SECRET`) with `sub` = the account reference, `iat` and `exp` (at most
`MAX_LIFETIME_SECONDS` after `iat`), a unique `jti`, and `aud` when
`PARLEY_PORTAL_TOKEN_AUDIENCE` is set. The widget passes it when it starts a session; a valid one
starts the conversation verified, once: its `jti` is recorded and a second use is refused.

Every refusal is one `PortalTokenError` (401) whose message does not say which check failed
beyond "expired", so a forged token learns nothing about accounts.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parley.core.errors import NotAuthenticated
from parley.tables import Account, PortalTokenUse

ALGORITHM = "HS256"
# A token is a sign-in hand-off, not a session: minutes, so a leaked page source goes stale fast.
MAX_LIFETIME_SECONDS = 600
LEEWAY_SECONDS = 30  # clock skew between the portal's servers and ours
MIN_SECRET_LENGTH = 32


class PortalTokenError(NotAuthenticated):
    """A refused portal token (401)."""


def issue(
    secret: str,
    account_ref: str,
    *,
    lifetime_seconds: int = 300,
    audience: str | None = None,
    now: datetime | None = None,
) -> str:
    """Sign a token as a portal would (the demo portal page and the tests use it)."""
    now = now or datetime.now(timezone.utc)
    claims: dict[str, object] = {
        "sub": account_ref,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=lifetime_seconds)).timestamp()),
        "jti": secrets.token_urlsafe(16),
    }
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


@dataclass(frozen=True)
class Claims:
    """What a valid token says: the account reference, its one-time id, when it expires."""

    account_ref: str
    jti: str
    expires_at: datetime


def verify(
    token: str,
    secret: str | None,
    *,
    audience: str | None = None,
    now: datetime | None = None,
) -> Claims:
    """The claims of a valid token; raises `PortalTokenError` otherwise."""
    if not secret:
        raise PortalTokenError("portal_sign_in_disabled", "Portal sign-in is not configured.")
    options: dict[str, object] = {
        "require": ["sub", "exp", "iat", "jti"],
        "verify_aud": bool(audience),
    }
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],  # never "none", never an algorithm the token picks
            audience=audience,
            leeway=LEEWAY_SECONDS,
            options=options,  # type: ignore[arg-type]
        )
    except jwt.ExpiredSignatureError as exc:
        raise PortalTokenError(
            "portal_token_expired", "The sign-in link has expired. Sign in again."
        ) from exc
    except jwt.PyJWTError as exc:
        raise _invalid() from exc
    issued, expires, subject = claims.get("iat"), claims.get("exp"), claims.get("sub")
    jti = claims.get("jti")
    if not isinstance(issued, int) or not isinstance(expires, int) or not isinstance(subject, str):
        raise _invalid()
    if not isinstance(jti, str) or not 8 <= len(jti) <= 128:
        raise _invalid()
    current = int((now or datetime.now(timezone.utc)).timestamp())
    # A long-lived token defeats the point of a hand-off; so does one issued in the future.
    if expires - issued > MAX_LIFETIME_SECONDS or issued > current + LEEWAY_SECONDS:
        raise _invalid()
    if not subject.strip():
        raise _invalid()
    return Claims(subject, jti, datetime.fromtimestamp(expires, timezone.utc))


def sign_in(
    session: Session,
    token: str,
    secret: str | None,
    *,
    audience: str | None = None,
    now: datetime | None = None,
) -> Account:
    """The account a valid token names, once: the token's `jti` is recorded in the caller's
    transaction, so a second use (a leaked page, a replay) is refused like a forged token, and
    so is an unknown account."""
    claims = verify(token, secret, audience=audience, now=now)
    account = session.scalars(
        select(Account).where(Account.account_ref == claims.account_ref)
    ).first()
    if account is None:
        raise _invalid()
    try:
        with session.begin_nested():
            session.add(
                PortalTokenUse(jti=claims.jti, account_id=account.id, expires_at=claims.expires_at)
            )
            session.flush()
    except IntegrityError:
        raise _invalid() from None
    return account


def give_back(session: Session, jti: str) -> None:
    """Undo a sign-in that opened no conversation (the assistant could not greet): the debtor
    may try the same link again. A token that opened a conversation is never given back."""
    session.execute(delete(PortalTokenUse).where(PortalTokenUse.jti == jti))


def _invalid() -> PortalTokenError:
    return PortalTokenError("portal_token_invalid", "The sign-in link is not valid.")
