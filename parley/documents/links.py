"""The debtor's copy of a document at an unguessable URL (SPEC §14).

The token is `<id>.<signature>`: the account id (validation notice) or plan id (agreement) and
an HMAC-SHA256 of the document kind and that id under a key derived from `PARLEY_SECRET_KEY`
(192 bits, base64url). Nothing is stored: the same document always has the same link, so a
notice link sent in an email and the one offered in the chat are one link, and any number of
deliveries never pile up rows. The kind is signed too, so an agreement link can never open a
notice of the account whose id happens to equal the plan's. A token that does not verify is
answered like an unknown one (404), and changing PARLEY_SECRET_KEY revokes every link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final, Literal

from parley.core.settings import Settings
from parley.tables import Account, PaymentPlan

Kind = Literal["notice", "agreement"]
SIGNATURE_BYTES: Final = 24
_MAX_ID: Final = 10**15


def _signature(settings: Settings, kind: Kind, ident: int) -> str:
    key = hmac.new(settings.secret_key.encode(), b"parley-documents-v1", hashlib.sha256).digest()
    digest = hmac.new(key, f"{kind}:{ident}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:SIGNATURE_BYTES]).decode().rstrip("=")


def document_token(settings: Settings, kind: Kind, ident: int) -> str:
    return f"{ident}.{_signature(settings, kind, ident)}"


def read_token(settings: Settings, kind: Kind, token: str) -> int | None:
    """The id a valid token names, or None (malformed, wrong kind, forged or re-keyed)."""
    ident, dot, signature = token.partition(".")
    if not dot or not ident.isascii() or not ident.isdigit() or len(ident) > 15:
        return None
    number = int(ident)
    if not 0 < number < _MAX_ID:
        return None
    expected = _signature(settings, kind, number)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    return number


def _url(settings: Settings, kind: Kind, ident: int) -> str:
    token = document_token(settings, kind, ident)
    return f"{settings.public_url.rstrip('/')}/documents/{kind}/{token}"


def validation_notice_url(settings: Settings, account: Account) -> str:
    """The debtor's copy of the account's validation notice (page; `?format=pdf` for the PDF).
    Giving it to the debtor is providing the notice: record that with
    `parley.documents.notices.provide_notice` (opening it records it too, as a last resort)."""
    return _url(settings, "notice", account.id)


def agreement_url(settings: Settings, plan: PaymentPlan) -> str:
    """The debtor's copy of the written agreement of a plan or settlement."""
    return _url(settings, "agreement", plan.id)
