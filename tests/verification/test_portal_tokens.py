"""Portal sign-in tokens (SPEC §4): only a fresh token signed with the shared secret, for the
configured audience, names an account; every other token is refused with 401."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import jwt
import pytest
from sqlalchemy.orm import Session, sessionmaker

from parley.verification import portal_tokens
from parley.verification.portal_tokens import PortalTokenError, issue, sign_in, verify
from tests.support.accounts import make_account

SECRET = "portal-secret-0123456789abcdef0123456789"  # noqa: S105 - test only
AUD = "parley-widget"


def refused(token: str, *, secret: str | None = SECRET, audience: str | None = AUD) -> str:
    with pytest.raises(PortalTokenError) as caught:
        verify(token, secret, audience=audience)
    assert caught.value.status_code == 401
    return caught.value.code


def test_a_fresh_token_names_the_account() -> None:
    claims = verify(issue(SECRET, "ACC-1", audience=AUD), SECRET, audience=AUD)
    assert claims.account_ref == "ACC-1" and len(claims.jti) >= 16
    # Without a configured audience, `aud` is not required.
    assert verify(issue(SECRET, "ACC-1"), SECRET).account_ref == "ACC-1"


def test_expired_token_is_refused_as_expired() -> None:
    old = datetime.now(timezone.utc) - timedelta(minutes=10)
    assert refused(issue(SECRET, "ACC-1", audience=AUD, now=old)) == "portal_token_expired"


@pytest.mark.filterwarnings("ignore:The HMAC key")  # HS512 with a short key, on purpose
def test_forged_tokens_are_refused() -> None:
    good = issue(SECRET, "ACC-1", audience=AUD)
    assert refused(issue("another-secret-0123456789abcdef01234", "ACC-1", audience=AUD)) == (
        "portal_token_invalid"
    )
    head, _payload, sig = good.split(".")
    other = issue(SECRET, "ACC-2", audience=AUD).split(".")[1]
    assert refused(f"{head}.{other[:-2]}xx.{sig}") == "portal_token_invalid"
    assert refused("not a token") == "portal_token_invalid"
    # alg=none, and a symmetric algorithm the server did not choose, are refused.
    claims = {"sub": "ACC-1", "aud": AUD, "iat": int(datetime.now(timezone.utc).timestamp())}
    claims["exp"] = claims["iat"] + 60
    assert refused(jwt.encode(claims, None, algorithm="none")) == "portal_token_invalid"
    assert refused(jwt.encode(claims, SECRET, algorithm="HS512")) == "portal_token_invalid"


def test_wrong_or_missing_audience_is_refused() -> None:
    assert refused(issue(SECRET, "ACC-1", audience="someone-else")) == "portal_token_invalid"
    assert refused(issue(SECRET, "ACC-1")) == "portal_token_invalid"


def test_long_lived_missing_claims_and_future_tokens_are_refused() -> None:
    lifetime = portal_tokens.MAX_LIFETIME_SECONDS + 60
    assert refused(issue(SECRET, "ACC-1", audience=AUD, lifetime_seconds=lifetime)) == (
        "portal_token_invalid"
    )
    future = datetime.now(timezone.utc) + timedelta(minutes=5)
    assert refused(issue(SECRET, "ACC-1", audience=AUD, now=future)) == "portal_token_invalid"
    no_iat = jwt.encode({"sub": "ACC-1", "aud": AUD, "exp": 2_000_000_000}, SECRET, "HS256")
    assert refused(no_iat) == "portal_token_invalid"
    now = int(datetime.now(timezone.utc).timestamp())
    no_sub = jwt.encode({"aud": AUD, "iat": now, "exp": now + 60, "jti": "j" * 16}, SECRET, "HS256")
    assert refused(no_sub) == "portal_token_invalid"
    no_jti = jwt.encode({"sub": "ACC-1", "aud": AUD, "iat": now, "exp": now + 60}, SECRET, "HS256")
    assert refused(no_jti) == "portal_token_invalid"


def test_without_a_secret_portal_sign_in_is_off() -> None:
    token = issue(SECRET, "ACC-1", audience=AUD)
    assert refused(token, secret=None) == "portal_sign_in_disabled"


def test_a_token_signs_in_once(session_factory: sessionmaker[Session]) -> None:
    """SPEC §4 and docs/widget.md: a portal token is a one-time hand-off."""
    with session_factory.begin() as session:
        session.add(make_account(account_ref="ACC-1"))
    token = issue(SECRET, "ACC-1", audience=AUD)
    with session_factory.begin() as session:
        assert sign_in(session, token, SECRET, audience=AUD).account_ref == "ACC-1"
    for _ in range(3):
        with pytest.raises(PortalTokenError) as caught, session_factory.begin() as session:
            sign_in(session, token, SECRET, audience=AUD)
        assert caught.value.code == "portal_token_invalid"
    # Another token for the same account still works.
    with session_factory.begin() as session:
        fresh = issue(SECRET, "ACC-1", audience=AUD)
        assert sign_in(session, fresh, SECRET, audience=AUD).account_ref == "ACC-1"


def test_an_unknown_account_is_refused_like_a_forged_token(
    session_factory: sessionmaker[Session],
) -> None:
    with pytest.raises(PortalTokenError) as caught, session_factory.begin() as session:
        sign_in(session, issue(SECRET, "NOBODY", audience=AUD), SECRET, audience=AUD)
    assert caught.value.code == "portal_token_invalid"
