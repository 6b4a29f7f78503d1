"""The one error type the core raises for expected failures; the API maps it to a response."""

from __future__ import annotations


class ParleyError(Exception):
    """An expected failure with a stable machine-readable code and a message safe to show."""

    status_code = 400

    def __init__(self, code: str, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class NotFound(ParleyError):
    status_code = 404


class BotUnavailable(ParleyError):
    status_code = 503
