"""Identity verification (SPEC §4): checking the facts a debtor gave against the accounts.

A failed check never says which fact was wrong, and every check is recorded so that guessing is
cut off: after `max_attempts` failures in one conversation, or against one account from any
conversations within the lockout window, verification is locked for `lockout_minutes` (the
conversation's `locked_until`, and a `VerificationLock` row per account guessed at).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parley.core.clock import utcnow
from parley.models import Account, Channel, Conversation, VerificationAttempt, VerificationLock
from parley.records.audit import Kind, record
from parley.verification.factors import (
    factor_hash,
    last_name_key,
    parse_ssn4,
    parse_zip,
)

Status = Literal["verified", "failed", "locked"]


def _name_keys(last_name: str) -> set[str]:
    """Keys to compare: the whole answer and its trailing words, so "Maria Garcia" or
    "De La Cruz" both match a stored "Garcia" / "De La Cruz"."""
    words = last_name.split()
    keys = {last_name_key(" ".join(words[i:])) for i in range(len(words))}
    keys.discard("")
    return keys


def _same(stored: str | None, given: str | None) -> bool:
    return stored is not None and given is not None and hmac.compare_digest(stored, given)


@dataclass(frozen=True)
class VerificationResult:
    status: Status
    account_id: int | None
    attempts_left: int


@dataclass(frozen=True)
class _Given:
    name_keys: set[str]
    dob_hash: str | None
    zip_hash: str | None
    ssn4_hash: str | None


def _hash_or_none(
    secret: str, factor: Literal["dob", "zip", "ssn4"], value: str | None
) -> str | None:
    if value is None:
        return None
    try:
        return factor_hash(secret, factor, value)
    except ValueError:
        return None


def _given(
    secret: str, last_name: str | None, dob: date | str | None, zip_or_ssn4: str | None
) -> _Given:
    dob_text = dob.isoformat() if isinstance(dob, date) else dob
    zip_value = parse_zip(zip_or_ssn4) if zip_or_ssn4 else None
    ssn4_value = parse_ssn4(zip_or_ssn4) if zip_or_ssn4 and zip_value is None else None
    return _Given(
        name_keys=_name_keys(last_name) if last_name else set(),
        dob_hash=_hash_or_none(secret, "dob", dob_text),
        zip_hash=_hash_or_none(secret, "zip", zip_value),
        ssn4_hash=_hash_or_none(secret, "ssn4", ssn4_value),
    )


def _name_ok(account: Account, given: _Given, name_required: bool) -> bool:
    if not name_required:
        return True
    return any(hmac.compare_digest(account.last_name_key, key) for key in given.name_keys)


def _matches(account: Account, given: _Given, required: set[str]) -> bool:
    """Every required factor matches; the ZIP-or-SSN factor matches on either."""
    ok = _name_ok(account, given, "last_name" in required)
    if "date_of_birth" in required:
        ok = _same(account.dob_hash, given.dob_hash) and ok
    if "zip_or_ssn4" in required:
        either = _same(account.zip_hash, given.zip_hash) or _same(
            account.ssn4_hash, given.ssn4_hash
        )
        ok = either and ok
    return ok


def _candidates(session: Session, conversation: Conversation, given: _Given) -> list[Account]:
    """Accounts this check could be about: the SMS sender's phone narrows them (never verifies
    alone); otherwise, or when no account has that phone, the last name does."""
    if conversation.channel == Channel.SMS and conversation.phone:
        by_phone = list(
            session.scalars(
                select(Account).where(Account.phone == conversation.phone).order_by(Account.id)
            )
        )
        if by_phone:
            return by_phone
    if given.name_keys:
        return list(
            session.scalars(
                select(Account)
                .where(Account.last_name_key.in_(sorted(given.name_keys)))
                .order_by(Account.id)
            )
        )
    if given.dob_hash is not None:
        return list(
            session.scalars(
                select(Account).where(Account.dob_hash == given.dob_hash).order_by(Account.id)
            )
        )
    return []


def _target(candidates: list[Account], given: _Given, name_required: bool) -> Account | None:
    """The account a failed attempt was aimed at, when that is clear, so guessing against one
    account from many conversations is counted against it."""
    named = [a for a in candidates if _name_ok(a, given, name_required)]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        closer = [a for a in named if _same(a.dob_hash, given.dob_hash)]
        if len(closer) == 1:
            return closer[0]
    return None


def account_locked_until(session: Session, account_id: int, *, now: datetime) -> datetime | None:
    """When the account's verification lock ends, or None if it is not locked now."""
    lock = session.get(VerificationLock, account_id)
    if lock is None or lock.locked_until <= now:
        return None
    return lock.locked_until


def _lock_account(session: Session, account_id: int, until: datetime, conversation_id: str) -> None:
    lock = session.get(VerificationLock, account_id)
    if lock is None:
        session.add(
            VerificationLock(
                account_id=account_id, locked_until=until, conversation_id=conversation_id
            )
        )
    elif lock.locked_until < until:
        lock.locked_until, lock.conversation_id = until, conversation_id


def _conversation_failures(session: Session, conversation: Conversation) -> int:
    """Failures since the conversation's last lock ended (a new window of attempts after it)."""
    query = select(func.count(VerificationAttempt.id)).where(
        VerificationAttempt.conversation_id == conversation.id,
        VerificationAttempt.success.is_(False),
    )
    if conversation.locked_until is not None:
        query = query.where(VerificationAttempt.created_at >= conversation.locked_until)
    return session.scalar(query) or 0


def _account_failures(session: Session, account_id: int, *, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count(VerificationAttempt.id)).where(
                VerificationAttempt.account_id == account_id,
                VerificationAttempt.success.is_(False),
                VerificationAttempt.created_at > since,
            )
        )
        or 0
    )


def _audit(
    session: Session,
    kind: Kind,
    conversation: Conversation,
    account_id: int | None,
    now: datetime,
    **data: Any,
) -> None:
    record(session, kind, conversation_id=conversation.id, account_id=account_id, at=now, **data)


def check_identity(
    session: Session,
    *,
    conversation_id: str,
    last_name: str | None,
    dob: date | str | None,
    zip_or_ssn4: str | None,
    secret: str,
    max_attempts: int,
    lockout_minutes: int,
    now: datetime | None = None,
    factors: list[str] | tuple[str, ...] | None = None,
) -> VerificationResult:
    """Check the facts a debtor gave against the accounts and record the attempt.

    `factors` is the configured set (default: all three); a factor left out is not compared.
    While the conversation or the targeted account is locked the answer is "locked", even for
    correct facts. Audit events carry ids only.
    """
    now = now or utcnow()
    required = set(factors) if factors else {"last_name", "date_of_birth", "zip_or_ssn4"}
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise LookupError(f"conversation {conversation_id} not found")
    if conversation.locked_until is not None and conversation.locked_until > now:
        _audit(session, Kind.VERIFICATION_REFUSED, conversation, None, now, reason="locked")
        return VerificationResult("locked", None, 0)

    given = _given(secret, last_name, dob, zip_or_ssn4)
    candidates = _candidates(session, conversation, given)
    matched = [account for account in candidates if _matches(account, given, required)]
    target = matched[0] if matched else _target(candidates, given, "last_name" in required)

    if target is not None:
        account_lock = account_locked_until(session, target.id, now=now)
        if account_lock is not None:
            conversation.locked_until = max(account_lock, conversation.locked_until or account_lock)
            _audit(
                session, Kind.VERIFICATION_REFUSED, conversation, target.id, now, reason="locked"
            )
            return VerificationResult("locked", None, 0)

    attempt = VerificationAttempt(
        conversation_id=conversation.id,
        account_id=target.id if target is not None else None,
        success=bool(matched),
        created_at=now,
    )
    session.add(attempt)
    session.flush()

    if matched:
        # Several accounts of one debtor match alike; the oldest is the one discussed first.
        account = matched[0]
        conversation.account_id = account.id
        conversation.verified_at = now
        _audit(
            session,
            Kind.VERIFICATION_SUCCEEDED,
            conversation,
            account.id,
            now,
            attempt_id=attempt.id,
        )
        return VerificationResult("verified", account.id, max_attempts)

    conversation_failures = _conversation_failures(session, conversation)
    account_failures = 0
    if target is not None:
        account_failures = _account_failures(
            session, target.id, since=now - timedelta(minutes=lockout_minutes)
        )
    attempts_left = max(0, max_attempts - max(conversation_failures, account_failures))
    _audit(
        session,
        Kind.VERIFICATION_FAILED,
        conversation,
        attempt.account_id,
        now,
        attempt_id=attempt.id,
        attempts_left=attempts_left,
    )
    if attempts_left > 0:
        return VerificationResult("failed", None, attempts_left)

    # Lock the conversation and every account it was guessing at, so moving to another
    # conversation does not buy more attempts.
    targeted = _targeted_accounts(session, conversation)
    until = now + timedelta(minutes=lockout_minutes)
    conversation.locked_until = until
    for account_id in targeted:
        _lock_account(session, account_id, until, conversation.id)
    lock_ids: list[int | None] = [*targeted] or [None]  # an unattributed lock is on record too
    for locked_id in lock_ids:
        _audit(
            session,
            Kind.VERIFICATION_LOCKED,
            conversation,
            locked_id,
            now,
            attempt_id=attempt.id,
            lockout_minutes=lockout_minutes,
        )
    return VerificationResult("locked", None, 0)


def _targeted_accounts(session: Session, conversation: Conversation) -> list[int]:
    """Accounts aimed at by this conversation's failures since its previous lock ended."""
    query = select(VerificationAttempt.account_id).where(
        VerificationAttempt.conversation_id == conversation.id,
        VerificationAttempt.success.is_(False),
        VerificationAttempt.account_id.is_not(None),
    )
    if conversation.locked_until is not None:
        query = query.where(VerificationAttempt.created_at >= conversation.locked_until)
    return sorted({account_id for account_id in session.scalars(query) if account_id is not None})
