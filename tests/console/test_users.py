"""Console users: roles, argon2 hashes, sessions and tokens (parley.users)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from parley.console import users
from parley.console.users import LoginSession
from parley.core.errors import Forbidden
from parley.tables import ConsoleSession, User, utcnow

PASSWORD = "correct horse battery"


def test_roles_are_cumulative_and_unknown_things_hold_nothing() -> None:
    assert users.can("agent", "reply")
    assert not users.can("agent", "close")
    assert not users.can("agent", "lift_pause")
    assert users.can("supervisor", "close") and users.can("supervisor", "reply")
    assert not users.can("supervisor", "manage_users")
    assert all(users.can("admin", permission) for permission in users.PERMISSIONS)
    assert not users.can("admin", "launch_missiles")
    assert not users.can("intern", "view")


def test_password_is_stored_as_argon2_and_checked(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        users.create_user(session, "Alice", PASSWORD, "agent")
    with session_factory.begin() as session:
        stored = session.scalars(select(User).where(User.username == "alice")).one()
        assert stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash
        assert users.authenticate(session, "alice", PASSWORD) is not None
        assert users.authenticate(session, "ALICE ", PASSWORD) is not None
        assert users.authenticate(session, "alice", PASSWORD + "x") is None
        assert users.authenticate(session, "nobody", PASSWORD) is None
        stored.active = False
        assert users.authenticate(session, "alice", PASSWORD) is None


@pytest.mark.parametrize(
    ("name", "password", "role"),
    [("a", PASSWORD, "agent"), ("bob", "short", "agent"), ("bob", PASSWORD, "root")],
)
def test_bad_users_are_refused(
    session_factory: sessionmaker[Session], name: str, password: str, role: str
) -> None:
    with session_factory.begin() as session, pytest.raises(users.UserError):
        users.create_user(session, name, password, role)


def test_duplicate_user_is_refused(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        users.create_user(session, "carol", PASSWORD, "supervisor")
    with session_factory.begin() as session, pytest.raises(users.UserError, match="exists"):
        users.create_user(session, "carol", PASSWORD, "agent")


def test_session_token_is_hashed_expires_and_ends(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        user = users.create_user(session, "dave", PASSWORD, "admin")
        token = users.start_session(session, user)
    with session_factory.begin() as session:
        assert session.get(ConsoleSession, token) is None, "the raw token is never stored"
        login = users.load_session(session, token)
        assert login is not None and login.username == "dave" and login.role == "admin"
        assert users.csrf_matches(login.csrf_token, login.csrf_token)
        assert not users.csrf_matches(login.csrf_token, None)
        assert not users.csrf_matches(login.csrf_token, login.csrf_token + "x")
        later = utcnow() + timedelta(hours=users.SESSION_HOURS + 1)
        assert users.load_session(session, token, now=later) is None
        assert users.load_session(session, "forged") is None
        users.end_session(session, token)
    with session_factory() as session:
        assert users.load_session(session, token) is None


def test_api_token_only_for_active_admins(session_factory: sessionmaker[Session]) -> None:
    secret = "s" * 40
    with session_factory.begin() as session:
        users.create_user(session, "root", PASSWORD, "admin")
        users.create_user(session, "eve", PASSWORD, "supervisor")
    with session_factory() as session:
        admin = users.user_for_api_token(session, secret, users.api_token_for(secret, "root"))
        assert admin is not None and admin.username == "root"
        assert users.user_for_api_token(session, secret, users.api_token_for(secret, "eve")) is None
        assert (
            users.user_for_api_token(session, "t" * 40, users.api_token_for(secret, "root")) is None
        )
        assert users.user_for_api_token(session, secret, "root.deadbeef") is None


def test_admin_lists_creates_disables_and_resets(session: Session) -> None:
    admin_user = users.create_user(session, "adm-x", "a long enough password", "admin")
    admin = LoginSession(admin_user.id, admin_user.username, admin_user.role, "")
    agent = users.create_user_as(session, admin, "agent-x", "another long password", "agent", "Sam")
    assert agent.display_name == "Sam"
    token = users.start_session(session, agent)
    assert users.load_session(session, token) is not None
    users.set_active(session, admin, "agent-x", active=False)
    assert users.load_session(session, token) is None, "a disabled user's session ends at once"
    assert users.authenticate(session, "agent-x", "another long password") is None
    users.set_active(session, admin, "agent-x", active=True)
    users.reset_password(session, admin, "agent-x", "a brand new password")
    assert users.authenticate(session, "agent-x", "another long password") is None
    assert users.authenticate(session, "agent-x", "a brand new password") is not None
    with pytest.raises(users.UserError):
        users.reset_password(session, admin, "agent-x", "short")
    with pytest.raises(users.UserError):
        users.set_active(session, admin, "adm-x", active=False)
    plain = LoginSession(agent.id, agent.username, agent.role, "")
    with pytest.raises(Forbidden):
        users.set_active(session, plain, "adm-x", active=False)
    with pytest.raises(Forbidden):
        users.create_user_as(session, plain, "sneaky", "a long enough password", "admin")
    assert [u.username for u in users.list_users(session)][:2] == ["adm-x", "agent-x"]
