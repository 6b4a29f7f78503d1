"""`StrEnum` for Python 3.10 (the standard library has it from 3.11).

Statuses and kinds are `StrEnum`s: members are strings, so they compare equal to their stored
value and format as it, and a typo is an AttributeError instead of a silently wrong string.
"""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)
