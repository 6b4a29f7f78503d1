"""Email addresses as Parley keeps them: one normal form, so an opt-out recorded for
`Maria@Example.com ` also stops mail to `maria@example.com` (SPEC §14).

The whole address is lower-cased. Mailbox local parts may be case-sensitive in theory, but no
real provider treats them so, and for an opt-out matching too much is the safe side. Only plain
`local@domain` addresses are accepted: no display names, comments, line breaks or control
characters, so an address can never smuggle a header into a message.
"""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address

MAX_LENGTH = 254  # RFC 5321's limit on a forward path, in practice the longest deliverable address
_SIMPLE = re.compile(
    r"^[^\s@<>()\[\],;:\"\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+\Z"
)


class InvalidAddress(ValueError):
    """Not an address Parley will mail."""


def normalize_address(raw: str) -> str:
    """The normal form of `raw`; raises `InvalidAddress` for anything that is not a plain
    `local@domain` address with a dotted domain."""
    address = raw.strip().lower()
    if not address or len(address) > MAX_LENGTH or not _SIMPLE.match(address):
        raise InvalidAddress("not a plain email address (local@domain.tld)")
    try:
        parsed = Address(addr_spec=address)
    except (HeaderParseError, ValueError, IndexError) as exc:
        raise InvalidAddress(f"not a valid email address: {exc}") from None
    if parsed.addr_spec != address:
        raise InvalidAddress("not a plain email address (local@domain.tld)")
    return address
