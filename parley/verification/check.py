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
from parley.core.db import by_key
from parley.records.audit import Kind, record
from parley.tables import (
    Account,
    Channel,
    Conversation,
    VerificationAttempt,
    VerificationAttemptTarget,
    VerificationLock,
)
from parley.verification.factors import (
    factor_hash,
    last_name_key,
    parse_ssn4,
    parse_zip,
    unseal,
)

Status = Literal["verified", "failed", "locked"]


# Said after a surname, never part of the stored one's comparison on their own: generational
# suffixes and the honorifics some debtors add ("Lawson Jr.", "pryce III", "deguzman po").
_AFTER_NAME = frozenset({"jr", "sr", "ii", "iii", "iv", "v", "po", "esq"})


def _name_keys(last_name: str) -> set[str]:
    """Keys to compare: the whole answer and its trailing words, so "Maria Garcia" or
    "De La Cruz" both match a stored "Garcia" / "De La Cruz"; and the same without a suffix, so
    "Lawson Jr." matches a stored "Lawson" as well as "Lawson Jr."."""
    keys: set[str] = set()
    words = last_name.split()
    bare = [w for w in words if last_name_key(w) not in _AFTER_NAME]
    for variant in (words, bare):
        keys |= {last_name_key(" ".join(variant[i:])) for i in range(len(variant))}
    keys.discard("")
    return keys - (_AFTER_NAME if bare else set())


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
    """The given facts as hashes; a fact may arrive sealed already (`factors.seal`)."""
    hashes: dict[str, str | None] = {"dob": None, "zip": None, "ssn4": None}
    dob_text = dob.isoformat() if isinstance(dob, date) else dob
    for value in (dob_text, zip_or_ssn4):
        sealed = unseal(value) if value else None
        if sealed is not None:
            hashes[sealed[0]] = sealed[1]
    if dob_text and unseal(dob_text) is None:
        hashes["dob"] = _hash_or_none(secret, "dob", dob_text)
    if zip_or_ssn4 and unseal(zip_or_ssn4) is None:
        zip_value = parse_zip(zip_or_ssn4)
        ssn4_value = parse_ssn4(zip_or_ssn4) if zip_value is None else None
        hashes["zip"] = _hash_or_none(secret, "zip", zip_value)
        hashes["ssn4"] = _hash_or_none(secret, "ssn4", ssn4_value)
    return _Given(
        name_keys=_name_keys(last_name) if last_name else set(),
        dob_hash=hashes["dob"],
        zip_hash=hashes["zip"],
        ssn4_hash=hashes["ssn4"],
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


# More candidates than this for one set of facts is not one debtor's accounts: stop looking.
MAX_CANDIDATES = 50


def _candidates(
    session: Session, conversation: Conversation, given: _Given, required: set[str]
) -> list[Account]:
    """The accounts this check could be about, each found through an index, never by scanning
    everyone who shares a surname:

    - over SMS, the accounts listing the sender's phone (it narrows; it never verifies alone);
    - otherwise the accounts whose surname matches *and* one more given factor (date of birth,
      ZIP or SSN last 4): one lookup on each (last_name_key, factor hash) index. A surname
      alone aims at nobody in particular; the conversation's own limit still applies.
    """
    if conversation.channel == Channel.SMS and conversation.phone:
        by_phone = list(
            session.scalars(
                select(Account)
                .where(Account.phone == conversation.phone)
                .order_by(Account.id)
                .limit(MAX_CANDIDATES)
            )
        )
        if by_phone:
            return by_phone
    factors = [
        (column, value)
        for column, value in (
            (Account.dob_hash, given.dob_hash),
            (Account.zip_hash, given.zip_hash),
            (Account.ssn4_hash, given.ssn4_hash),
        )
        if value is not None
    ]
    found: dict[int, Account] = {}
    for column, value in factors:
        query = select(Account).where(column == value)
        if "last_name" in required:
            if not given.name_keys:
                return []
            query = query.where(Account.last_name_key.in_(sorted(given.name_keys)))
        for account in session.scalars(query.order_by(Account.id).limit(MAX_CANDIDATES)):
            found.setdefault(account.id, account)
    return [found[key] for key in sorted(found)]


def account_locked_until(session: Session, account_id: int, *, now: datetime) -> datetime | None:
    """When the account's verification lock ends, or None if it is not locked now."""
    lock = by_key(session, VerificationLock, account_id)
    if lock is None or lock.locked_until <= now:
        return None
    return lock.locked_until


def _lock_account(session: Session, account_id: int, until: datetime, conversation_id: str) -> None:
    lock = by_key(session, VerificationLock, account_id)
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


def _most_account_failures(session: Session, account_ids: list[int], *, since: datetime) -> int:
    """The most failed attempts aimed at any one of these accounts since `since`."""
    if not account_ids:
        return 0
    counts = session.execute(
        select(VerificationAttemptTarget.account_id, func.count())
        .where(
            VerificationAttemptTarget.account_id.in_(account_ids),
            VerificationAttemptTarget.created_at > since,
        )
        .group_by(VerificationAttemptTarget.account_id)
    ).all()
    return max((int(count) for _account, count in counts), default=0)


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
    A locked account is never verified, even with correct facts, and the answer is then an
    ordinary failure: nothing tells a locked account from a wrong fact or an unknown person.
    Only a conversation that has used up its own attempts answers "locked". Audit events carry
    ids only.
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
    candidates = _candidates(session, conversation, given, required)
    locked = {a.id for a in candidates if account_locked_until(session, a.id, now=now) is not None}
    matched = [a for a in candidates if _matches(a, given, required) and a.id not in locked]

    attempt = VerificationAttempt(
        conversation_id=conversation.id,
        account_id=matched[0].id if matched else None,
        success=bool(matched),
        created_at=now,
    )
    session.add(attempt)
    session.flush()
    if not attempt.success:
        session.info[_FAILED_HERE] = failed_here(session) + 1

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

    # The failure counts against every account it could have been aimed at.
    targets = [a.id for a in candidates]
    for account_id in targets:
        session.add(
            VerificationAttemptTarget(attempt_id=attempt.id, account_id=account_id, created_at=now)
        )
    session.flush()
    conversation_failures = _conversation_failures(session, conversation)
    # Accounts already locked stay locked; their failures do not shorten this conversation, so
    # a first try at a locked account reads exactly like a first wrong fact.
    account_failures = _most_account_failures(
        session,
        [a for a in targets if a not in locked],
        since=now - timedelta(minutes=lockout_minutes),
    )
    attempts_left = max(0, max_attempts - max(conversation_failures, account_failures))
    _audit(
        session,
        Kind.VERIFICATION_FAILED,
        conversation,
        None,
        now,
        attempt_id=attempt.id,
        targets=len(targets),
        target_locked=bool(locked),
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
    query = (
        select(VerificationAttemptTarget.account_id)
        .join(VerificationAttempt, VerificationAttempt.id == VerificationAttemptTarget.attempt_id)
        .where(VerificationAttempt.conversation_id == conversation.id)
    )
    if conversation.locked_until is not None:
        query = query.where(VerificationAttempt.created_at >= conversation.locked_until)
    return sorted(set(session.scalars(query)))


# Failed identity checks recorded through one Session (`failed_here`).
_FAILED_HERE = "parley.verification.failed_here"


def failed_here(session: Session) -> int:
    """The failed identity checks `check_identity` recorded through this session: what a unit of
    work that holds a whole turn (the gateway's in-process turn, under the conversation's lock)
    added, without counting the conversation's attempts before and after."""
    count: int = session.info.get(_FAILED_HERE, 0)
    return count


def failed_attempts(session: Session, conversation_id: str) -> int:
    """Failed identity checks in a conversation, ever (the gateway's per-client rate limit
    counts the ones each turn adds)."""
    return (
        session.scalar(
            select(func.count(VerificationAttempt.id)).where(
                VerificationAttempt.conversation_id == conversation_id,
                VerificationAttempt.success.is_(False),
            )
        )
        or 0
    )
