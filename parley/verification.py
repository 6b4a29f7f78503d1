"""Identity verification (SPEC §4): reading the facts a debtor types, and checking them.

A failed check never says which fact was wrong, and every check is recorded so that guessing is
cut off: after `max_attempts` failures in one conversation, or against one account from any
conversations within the lockout window, verification is locked for `lockout_minutes`.

The account-level lock is the `verification.locked` audit event naming the account (the models
have no column for it): an account is locked while such an event is younger than the window.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parley.identity import (
    factor_hash,
    last_name_key,
    parse_date_of_birth,
    parse_ssn4,
    parse_zip,
)
from parley.models import Account, AuditEvent, Conversation, VerificationAttempt, utcnow

Status = Literal["verified", "failed", "locked"]

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_ORD = r"(?:st|nd|rd|th)?"
# Broad date shapes, only to find the span; `parse_date_of_birth` decides what it means.
_DATE_SPANS = (
    re.compile(r"(?<!\d)\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)"),
    re.compile(r"(?<!\d)\d{1,2}[-/.\s]\d{1,2}[-/.\s](?:\d{4}|\d{2})(?!\d)"),
    re.compile(
        rf"(?<!\d)\d{{1,2}}{_ORD}\s*(?:of\s+)?{_MONTH}\b\.?,?\s*(?:\d{{4}}|\d{{2}})(?!\d)", re.I
    ),
    re.compile(rf"\b{_MONTH}\b\.?\s*\d{{1,2}}{_ORD},?\s*(?:\d{{4}}|\d{{2}})(?!\d)", re.I),
    re.compile(r"(?<!\d)(?:\d{8}|\d{6})(?!\d)"),
)
# Money is never an identity fact: "$1000" is not an SSN last 4.
_MONEY_SPAN = re.compile(
    r"\$\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:dollars|bucks|usd)\b", re.I
)
_ZIP_SPAN = re.compile(r"(?<!\d)\d{5}(?:-\d{4})?(?!\d)")
_SSN4_SPAN = re.compile(r"(?<![\d-])\d{4}(?![\d-])")
# Words around a name that are not the name ("my last name is ...", "it's ...", "DOB").
_FILLER = re.compile(
    r"\b(?:my|the|last|family|sur|first|full|name'?s?|names|surname|is|it'?s|its|it|was|this|"
    r"i'?m|im|i|am|called|ok(?:ay)?|sure|yes|yeah|yep|hi|hello|hey|thanks|thank|you|please|pls|"
    r"and|dob|date|of|birth|born|on|zip|code|postal|ssn|social|security|number|last4|four|"
    r"digits?|here|in|lives?|at)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"^[^\W\d_]+(?:['’.\-][^\W\d_]+)*\.?$")
MAX_NAME_WORDS = 4


@dataclass(frozen=True)
class Facts:
    """What one message contained; `rest` is the text left once the numbers are taken out."""

    dob: date | None
    zip: str | None
    ssn4: str | None
    rest: str

    @property
    def zip_or_ssn4(self) -> str | None:
        return self.zip or self.ssn4


def extract_facts(text: str, *, today: date | None = None) -> Facts:
    """Find a date of birth, a ZIP and an SSN last-4 anywhere in a message.

    Dates are taken out first so that the year of "03/14/1985" is never read as a last four.
    """
    rest = _MONEY_SPAN.sub(" ", text)
    dob: date | None = None
    for pattern in _DATE_SPANS:
        for match in pattern.finditer(rest):
            parsed = parse_date_of_birth(match[0], today=today)
            if parsed is not None:
                dob = parsed
                rest = rest[: match.start()] + " " + rest[match.end() :]
                break
        if dob is not None:
            break
    zip5: str | None = None
    zip_match = _ZIP_SPAN.search(rest)
    if zip_match is not None:
        zip5 = parse_zip(zip_match[0])
        rest = rest[: zip_match.start()] + " " + rest[zip_match.end() :]
    ssn4 = parse_ssn4(rest)
    if ssn4 is not None:
        rest = _SSN4_SPAN.sub(" ", rest, count=1)
    return Facts(dob=dob, zip=zip5, ssn4=ssn4, rest=rest)


def extract_last_name(rest: str) -> str | None:
    """The last name left in a message once facts and filler words are removed, or None.

    "my last name is O'Brien" gives "O'Brien"; anything with digits or too many words is not a
    name, so the debtor is asked again rather than checked against a garbled value.
    """
    cleaned = _FILLER.sub(" ", rest)
    words = [word.strip(' ,;:!?"()') for word in cleaned.split()]
    words = [word for word in words if word and word not in {"-", "'", "."}]
    if not words or len(words) > MAX_NAME_WORDS:
        return None
    if not all(_NAME.match(word) for word in words):
        return None
    return " ".join(words)


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
    if conversation.channel == "sms" and conversation.phone:
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


def account_locked_until(
    session: Session, account_id: int, *, lockout_minutes: int, now: datetime
) -> datetime | None:
    """When the account's verification lock ends, or None if it is not locked."""
    window_start = now - timedelta(minutes=lockout_minutes)
    latest = session.scalar(
        select(func.max(AuditEvent.created_at)).where(
            AuditEvent.kind == "verification.locked",
            AuditEvent.account_id == account_id,
            AuditEvent.created_at > window_start,
        )
    )
    if latest is None:
        return None
    if latest.tzinfo is None:  # func.max bypasses the column type on SQLite
        latest = latest.replace(tzinfo=now.tzinfo)
    return latest + timedelta(minutes=lockout_minutes)


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
    kind: str,
    conversation: Conversation,
    account_id: int | None,
    now: datetime,
    **data: object,
) -> None:
    session.add(
        AuditEvent(
            kind=kind,
            conversation_id=conversation.id,
            account_id=account_id,
            data=dict(data),
            created_at=now,
        )
    )


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
        _audit(session, "verification.refused", conversation, None, now, reason="locked")
        return VerificationResult("locked", None, 0)

    given = _given(secret, last_name, dob, zip_or_ssn4)
    candidates = _candidates(session, conversation, given)
    matched = [account for account in candidates if _matches(account, given, required)]
    target = matched[0] if matched else _target(candidates, given, "last_name" in required)

    if target is not None:
        account_lock = account_locked_until(
            session, target.id, lockout_minutes=lockout_minutes, now=now
        )
        if account_lock is not None:
            conversation.locked_until = max(account_lock, conversation.locked_until or account_lock)
            _audit(session, "verification.refused", conversation, target.id, now, reason="locked")
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
            session, "verification.succeeded", conversation, account.id, now, attempt_id=attempt.id
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
        "verification.failed",
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
    conversation.locked_until = now + timedelta(minutes=lockout_minutes)
    lock_ids: list[int | None] = [*targeted] or [None]
    for account_id in lock_ids:
        _audit(
            session,
            "verification.locked",
            conversation,
            account_id,
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
