"""Message templates (SPEC §14 "operators can change wording without code"): Jinja2 in its
sandbox with `StrictUndefined`, over a whitelist of fields.

Jinja2's sandbox rather than `str.format`: `str.format` lets a template reach attributes
(`{account.__class__}`) of whatever it is given, while the sandbox refuses unsafe attribute
access, and the context holds only plain strings built here, so a template can read nothing
but the fields below. `StrictUndefined` turns a misspelt field into an error at start-up (the
check renders nothing it cannot resolve) instead of a message with a hole in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

# Fields a first-contact (or no-reply follow-up) message may use: nothing about the debt.
DISCREET_FIELDS = frozenset({"company", "company_contact", "first_name", "chat_url"})
# Every field a template can use; those beyond the discreet ones exist only for debtors who
# have engaged (an agreed plan, a promise they made).
FIELDS = DISCREET_FIELDS | frozenset(
    {
        "amount",
        "due_date",
        "plan_id",
        "payment_url",
        "balance",
        "creditor",
        "paid_on",
        "agreement_url",
    }
)


class TemplateError(ValueError):
    """A template that does not parse."""


_ENV = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    return _ENV.from_string(source)


def fields_of(source: str) -> set[str]:
    """The fields a template refers to."""
    try:
        return set(meta.find_undeclared_variables(_ENV.parse(source)))
    except TemplateSyntaxError as exc:
        raise TemplateError(f"line {exc.lineno}: {exc.message}") from exc


def render(source: str, context: Mapping[str, str]) -> str:
    """The template with the fields filled in, whitespace collapsed to single spaces."""
    text = _compiled(source).render(**{k: v for k, v in context.items() if k in FIELDS})
    return " ".join(str(text).split())
