"""Portal sign-in for the web chat (SPEC §4): a short-lived signed token naming the account.

A creditor's portal has already authenticated the debtor, so asking for their date of birth
again would be friction without security. The portal signs a JWT (HS256, the shared secret
`PARLEY_PORTAL_TOKEN_SECRET`) with `sub` = the account reference, `iat` and `exp` (at most
`MAX_LIFETIME_SECONDS` after `iat`), and `aud` when `PARLEY_PORTAL_TOKEN_AUDIENCE` is set. The
widget passes it when it starts a session; a valid one starts the conversation verified.

Every refusal is one `PortalTokenError` (401) whose message does not say which check failed
beyond "expired", so a forged token learns nothing about accounts.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.core.errors import NotAuthenticated
from parley.models import Account

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
    }
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def account_ref_from(
    token: str,
    secret: str | None,
    *,
    audience: str | None = None,
    now: datetime | None = None,
) -> str:
    """The account reference a valid token names; raises `PortalTokenError` otherwise."""
    if not secret:
        raise PortalTokenError("portal_sign_in_disabled", "Portal sign-in is not configured.")
    options: dict[str, object] = {"require": ["sub", "exp", "iat"], "verify_aud": bool(audience)}
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
    if not isinstance(issued, int) or not isinstance(expires, int) or not isinstance(subject, str):
        raise _invalid()
    current = int((now or datetime.now(timezone.utc)).timestamp())
    # A long-lived token defeats the point of a hand-off; so does one issued in the future.
    if expires - issued > MAX_LIFETIME_SECONDS or issued > current + LEEWAY_SECONDS:
        raise _invalid()
    if not subject.strip():
        raise _invalid()
    return subject


def account_for_token(
    session: Session, token: str, secret: str | None, *, audience: str | None = None
) -> Account:
    """The account a valid token names; an unknown account is refused like a forged token."""
    ref = account_ref_from(token, secret, audience=audience)
    account = session.scalars(select(Account).where(Account.account_ref == ref)).first()
    if account is None:
        raise _invalid()
    return account


def _invalid() -> PortalTokenError:
    return PortalTokenError("portal_token_invalid", "The sign-in link is not valid.")
