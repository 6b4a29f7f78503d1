"""Console users, roles and login sessions (SPEC §10).

Passwords are argon2id hashes (argon2-cffi's defaults). A login session lives in the database, so
it works across API replicas and can be revoked; the browser's cookie holds a random token whose
SHA-256 is the row's key, and each session has its own CSRF token (synchronizer pattern).

Roles are cumulative: a supervisor may do everything an agent may, an admin everything a
supervisor may. What each permission covers is in `PERMISSIONS` and docs/console.md.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from parley.core.clock import utcnow
from parley.core.errors import Forbidden, InvalidRequest, NotFound
from parley.records.audit import Kind, record, user_actor
from parley.tables import ConsoleSession, Role, User

ROLES: Final = Role.values()
_RANK: Final = {role: rank for rank, role in enumerate(ROLES)}

# The least role that holds each permission.
PERMISSIONS: Final[dict[str, str]] = {
    "view": "agent",  # queue, transcripts, read-only API
    "claim": "agent",  # take an unclaimed conversation
    "reply": "agent",  # write to the debtor on their channel
    "note": "agent",  # internal notes
    "hand_back": "agent",  # return a conversation to the bot (not one that paused collection)
    "take_over": "supervisor",  # take a conversation another user holds
    "close": "supervisor",  # close a conversation with an outcome
    "resolve_paused": "supervisor",  # resolve dispute / bankruptcy / attorney / cease requests
    "lift_pause": "supervisor",  # resume collection on an account
    "resend_link": "agent",  # re-send a plan's payment link to the debtor
    "record_promise": "agent",  # record a promise to pay the debtor made to a person (SPEC §14)
    "export_transcript": "agent",  # download one conversation's transcript
    "legal_review": "supervisor",  # move an account to legal review, or take it out
    "pause_outreach": "supervisor",  # pause or resume an account's cadence (SPEC §14)
    "export": "supervisor",  # the bulk CSV exports (every account's personal data)
    "assign": "supervisor",  # assign a waiting conversation to a team member
    "manage_canned": "supervisor",  # the canned replies agents insert with /shortcut
    "view_config": "supervisor",  # the policies, cadences and queue settings in force
    "view_outbox": "supervisor",  # local-mode outbound messages
    "manage_users": "admin",  # create, disable, reset passwords (also possible from the CLI)
    "import_accounts": "admin",  # upload an account CSV (SPEC §3's admin endpoint)
    "api_token": "admin",  # use the read-only JSON API with a bearer token
}

SESSION_HOURS: Final = 12
MIN_PASSWORD_LENGTH: Final = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_hasher = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so a wrong name costs as long as a wrong
    password and timing does not tell which one was wrong (computed once, on first use)."""
    return _hasher.hash("not-a-real-password-" + "x" * 16)


class UserError(InvalidRequest):
    """A user could not be created as asked (bad name, role or password, or a duplicate)."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_user", message)


@dataclass(frozen=True)
class LoginSession:
    """What a request learns from a valid session cookie."""

    user_id: int
    username: str
    role: str
    csrf_token: str


def require(actor: LoginSession, permission: str) -> None:
    """Refuse with 403 unless the actor's role holds `permission` (checked server-side)."""
    if not can(actor.role, permission):
        raise Forbidden("forbidden", "Your role does not allow this action.")


def can(role: str, permission: str) -> bool:
    """Whether `role` holds `permission`; unknown roles and permissions hold nothing."""
    least = PERMISSIONS.get(permission)
    if least is None or role not in _RANK:
        return False
    return _RANK[role] >= _RANK[least]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _check(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(
    session: Session, username: str, password: str, role: str, *, actor: str = "system"
) -> User:
    """Add a console user; raises UserError with a message fit for the operator."""
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise UserError(
            "username must be 2-64 characters: lowercase letters, digits, '.', '_' or '-'"
        )
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise UserError(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), role=Role(role))
    session.add(user)
    session.flush()
    record(session, Kind.USER_CREATED, actor=actor, user=username, role=role)
    return user


def authenticate(
    session: Session, username: str, password: str, *, client: str = ""
) -> User | None:
    """The active user with this name and password, or None (whichever part was wrong). A
    failure is audited with the name as typed and the client address (operators' data, never
    a debtor's)."""
    name = username.strip().lower()
    user = session.scalars(select(User).where(User.username == name)).first()
    if user is None or not user.active or not _check(user.password_hash, password):
        if user is None or not user.active:
            _check(_dummy_hash(), password)
        record(session, Kind.CONSOLE_LOGIN_FAILED, username=name[:64], client=client[:64])
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, now: datetime | None = None) -> str:
    """Open a login session for `user` and return the cookie token (shown once, never stored)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    )
    user.last_login_at = now
    record(session, Kind.CONSOLE_LOGIN, actor=user_actor(user.username))
    return token


def load_session(
    session: Session, token: str | None, now: datetime | None = None
) -> LoginSession | None:
    """The login behind a cookie token, if it exists, has not expired and its user is active."""
    if not token:
        return None
    row = session.get(ConsoleSession, _token_hash(token))
    if row is None or row.expires_at <= (now or utcnow()) or not row.user.active:
        return None
    return LoginSession(row.user_id, row.user.username, row.user.role, row.csrf_token)


def end_session(session: Session, token: str | None) -> None:
    """Log out: the token stops working at once, on every replica."""
    if token:
        token_hash = _token_hash(token)
        session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash))


def csrf_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the one a request carried."""
    return given is not None and secrets.compare_digest(expected.encode(), given.encode())


def api_token_for(secret_key: str, username: str) -> str:
    """A bearer token for an admin's read-only API use, derived from the server secret: it needs
    no storage and stops working when the secret rotates. `parley users token NAME` prints it."""
    digest = hashlib.blake2b(
        f"console-api:{username}".encode(), key=secret_key.encode()[:64], digest_size=24
    ).hexdigest()
    return f"{username}.{digest}"


def user_for_api_token(session: Session, secret_key: str, token: str) -> User | None:
    """The active admin a bearer token belongs to, or None."""
    username, _, _digest = token.partition(".")
    if not username or not secrets.compare_digest(
        api_token_for(secret_key, username).encode(), token.encode()
    ):
        return None
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active or not can(user.role, "api_token"):
        return None
    return user


def list_users(session: Session) -> list[User]:
    """Every console user, active first, by name."""
    return list(session.scalars(select(User).order_by(User.active.desc(), User.username)))


def _managed(session: Session, actor: LoginSession, username: str) -> User:
    require(actor, "manage_users")
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise NotFound("user_not_found", "No such user.")
    return user


def create_user_as(
    session: Session,
    actor: LoginSession,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
) -> User:
    """An admin creates a user from the console (the CLI uses `create_user` directly)."""
    require(actor, "manage_users")
    user = create_user(session, username, password, role, actor=user_actor(actor.username))
    user.display_name = display_name.strip()[:64] or None
    return user


def set_active(session: Session, actor: LoginSession, username: str, active: bool) -> User:
    """Disable (or re-enable) a user. A disabled user's sessions and API token stop working at
    once (both check `active`); their history stays. Nobody disables themselves, so an admin
    cannot lock the last admin out by accident."""
    user = _managed(session, actor, username)
    if user.id == actor.user_id and not active:
        raise UserError("you cannot disable your own account")
    user.active = active
    if not active:
        session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
    record(
        session,
        Kind.USER_ENABLED if active else Kind.USER_DISABLED,
        actor=user_actor(actor.username),
        user=user.username,
    )
    return user


def reset_password(session: Session, actor: LoginSession, username: str, password: str) -> User:
    """Set a new password (the admin tells the user); every open session of theirs ends."""
    user = _managed(session, actor, username)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(password)
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
    record(session, Kind.USER_PASSWORD_RESET, actor=user_actor(actor.username), user=user.username)
    return user
