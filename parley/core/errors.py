"""The one error hierarchy: every expected failure the core raises is a `ParleyError`, with a
stable machine-readable code, a message safe to show, and the HTTP status the API answers with
(the API has one handler for all of them)."""

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


class InvalidRequest(ParleyError):
    status_code = 422


class NotAuthenticated(ParleyError):
    status_code = 401


class Forbidden(ParleyError):
    status_code = 403


class NotFound(ParleyError):
    status_code = 404


class Conflict(ParleyError):
    status_code = 409


class TooManyRequests(ParleyError):
    status_code = 429


class NotConfigured(ParleyError):
    """A provider (Twilio, Stripe, portal sign-in) is asked for but its settings are not set."""

    status_code = 503


class BotUnavailable(ParleyError):
    status_code = 503


class ConfigError(ParleyError):
    """An operator file or setting is wrong (policies, cadences); the message says where.
    Raised at start-up, so a typo stops the operator before a debtor meets it."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__("configuration_error", message)
