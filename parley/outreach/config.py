"""The outreach files, validated as a whole when loaded (SPEC §14): `config/cadences.yml` (what
is initiated, when, in which words) and `config/contact-rules.yml` (frequency caps per state).

Like the negotiation policies, a typo stops the operator at start-up (`parley cadences check`,
the worker) instead of surfacing as a wrong message at 08:00 on a Monday.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from parley.core.errors import ConfigError
from parley.outreach.templates import DISCREET_FIELDS, FIELDS, TemplateError, fields_of

DEFAULT_CADENCE = "default"
CHANNELS = ("sms", "email")
Days = Annotated[int, Field(ge=0, le=365, strict=True)]
Cap = Annotated[int, Field(ge=0, le=100, strict=True)]

# Steps whose messages may reach someone who is not (yet) known to be the debtor: they name
# nothing about the debt (SPEC §14 "first-contact messages disclose nothing").
DISCREET_STEPS = frozenset({"first_contact", "no_reply"})
# Steps that pursue the debt: stopped by a collection pause and by a paid balance. The thanks
# after a completed plan is not collection.
COLLECTION_STEPS = frozenset(
    {
        "first_contact",
        "no_reply",
        "pre_due",
        "due_day",
        "promise_reminder",
        "missed_payment",
        "broken_promise",
    }
)
# Steps that are a record for the debtor, sent as notices (not collection messages).
NOTICE_STEPS = frozenset({"plan_completed", "agreement"})
# Steps that do not count toward the frequency caps: the written agreement answers the debtor's
# own agreement a moment ago (like a receipt); counting it would push back their reminders.
UNCOUNTED_STEPS = frozenset({"agreement"})
# Steps a collection pause (dispute, bankruptcy, attorney, cease) stops: every collection step,
# and the agreement too, which tells the debtor how to pay.
PAUSED_STEPS = COLLECTION_STEPS | {"agreement"}


class OutreachConfigError(ConfigError, ValueError):
    """An outreach file is missing, unreadable or breaks a rule; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Template(_Strict):
    subject: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=1000)


class _Step(_Strict):
    template: str

    def template_names(self) -> tuple[str, ...]:
        return (self.template,)


class FirstContact(_Step):
    channels: tuple[str, ...] = CHANNELS

    @field_validator("channels")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(CHANNELS))
        if unknown or not value:
            raise ValueError(f"unknown channel(s) {unknown}; choose from {list(CHANNELS)}")
        return value


class NoReply(_Step):
    days: tuple[Annotated[int, Field(ge=1, le=365, strict=True)], ...]

    @field_validator("days")
    @classmethod
    def _increasing(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if list(value) != sorted(set(value)):
            raise ValueError("days must be increasing and distinct")
        return value


class PreDue(_Step):
    days_before: Annotated[int, Field(ge=1, le=30, strict=True)]


class MissedPayment(_Step):
    days_after: Days = 1


class PaymentReceipt(_Step):
    """The receipt after a posted payment (SPEC §7). `paid_off_template` is used instead when
    the payment clears the balance."""

    paid_off_template: str

    def template_names(self) -> tuple[str, ...]:
        return (self.template, self.paid_off_template)


# A receipt is owed for every posted payment (SPEC §7), so a cadence that leaves the step out
# still sends one, in these shipped templates' words.
RECEIPT_TEMPLATES = {
    "payment_receipt": {
        "subject": "Payment received: {{ amount }}",
        "text": "Payment received: {{ amount }} on {{ paid_on }}. Thank you! Your balance is now "
        "{{ balance }}.",
    },
    "payment_receipt_paid_off": {
        "subject": "Payment received: your account is paid off",
        "text": "Payment received: {{ amount }} on {{ paid_on }}. Thank you! Your account is paid "
        "off.",
    },
}


class Cadence(_Strict):
    """The steps of one cadence; a step left out is not taken."""

    first_contact: FirstContact | None = None
    no_reply: NoReply | None = None
    pre_due: PreDue | None = None
    due_day: _Step | None = None
    promise_reminder: PreDue | None = None
    missed_payment: MissedPayment | None = None
    broken_promise: _Step | None = None
    plan_completed: _Step | None = None
    agreement: _Step | None = None
    payment_receipt: PaymentReceipt | None = None

    def receipt(self) -> PaymentReceipt:
        return self.payment_receipt or PaymentReceipt(
            template="payment_receipt", paid_off_template="payment_receipt_paid_off"
        )

    def steps(self) -> dict[str, _Step]:
        return {
            name: step for name in Cadence.model_fields if (step := getattr(self, name)) is not None
        }


class Cadences(_Strict):
    cadences: dict[str, Cadence]
    templates: dict[str, Template]

    @field_validator("templates", mode="before")
    @classmethod
    def _shipped_receipts(cls, value: Any) -> Any:
        """The receipt templates exist even in a file that does not define them."""
        if isinstance(value, dict):
            return {**RECEIPT_TEMPLATES, **value}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Cadences:
        if DEFAULT_CADENCE not in self.cadences:
            raise ValueError(f"a cadence named {DEFAULT_CADENCE!r} is required")
        for name, cadence in self.cadences.items():
            steps: dict[str, _Step] = {**cadence.steps(), "payment_receipt": cadence.receipt()}
            for step_name, step in steps.items():
                for template_name in step.template_names():
                    self._check_template(f"cadences.{name}.{step_name}", step_name, template_name)
        return self

    def _check_template(self, where: str, step_name: str, template_name: str) -> None:
        template = self.templates.get(template_name)
        if template is None:
            raise ValueError(f"{where}: no template named {template_name!r}")
        allowed = DISCREET_FIELDS if step_name in DISCREET_STEPS else FIELDS
        for part in ("subject", "text"):
            try:
                used = fields_of(getattr(template, part))
            except TemplateError as exc:
                raise ValueError(f"templates.{template_name}.{part}: {exc}") from exc
            unknown = sorted(used - allowed)
            if unknown:
                why = (
                    " (a first-contact message names nothing about the debt)"
                    if step_name in DISCREET_STEPS
                    else ""
                )
                raise ValueError(
                    f"templates.{template_name}.{part} (used by {where}) uses "
                    f"{unknown}; allowed: {sorted(allowed)}{why}"
                )

    def for_policy(self, policy: str | None) -> tuple[str, Cadence]:
        name = policy if policy in self.cadences else DEFAULT_CADENCE
        return name or DEFAULT_CADENCE, self.cadences[name or DEFAULT_CADENCE]


class Caps(_Strict):
    total: Cap | None = None
    sms: Cap | None = None
    email: Cap | None = None


class Frequency(_Strict):
    window_days: Annotated[int, Field(ge=1, le=60, strict=True)] = 7
    default: Caps = Caps(total=3)
    states: dict[str, Caps] = Field(default_factory=dict)

    @field_validator("states")
    @classmethod
    def _state_codes(cls, value: dict[str, Caps]) -> dict[str, Caps]:
        bad = sorted(code for code in value if len(code) != 2 or not code.isalpha())
        if bad:
            raise ValueError(f"state keys must be 2-letter USPS codes: {bad}")
        return {code.upper(): caps for code, caps in value.items()}

    def caps_for(self, state: str | None) -> dict[str, int]:
        """The caps in force for an account in `state`: the stricter of default and state."""
        merged: dict[str, int] = {}
        sources = [self.default]
        override = self.states.get((state or "").upper())
        if override is not None:
            sources.append(override)
        for caps in sources:
            for key in ("total", "sms", "email"):
                value = getattr(caps, key)
                if value is not None:
                    merged[key] = min(value, merged.get(key, value))
        return merged


class ContactRules(_Strict):
    frequency: Frequency = Frequency()


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise OutreachConfigError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise OutreachConfigError(f"{path}: cannot be read: {exc}") from exc


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or '(file)'}: {error['msg']}"
        for error in exc.errors()
    )


def parse_cadences(data: Any, source: str = "cadences") -> Cadences:
    try:
        return Cadences.model_validate(data)
    except ValidationError as exc:
        raise OutreachConfigError(f"{source}: {_problems(exc)}") from exc


def parse_contact_rules(data: Any, source: str = "contact rules") -> ContactRules:
    try:
        return ContactRules.model_validate(data or {})
    except ValidationError as exc:
        raise OutreachConfigError(f"{source}: {_problems(exc)}") from exc


@lru_cache(maxsize=8)
def _cached_cadences(path: Path, mtime: float) -> Cadences:
    return parse_cadences(_read(path), str(path))


@lru_cache(maxsize=8)
def _cached_rules(path: Path, mtime: float) -> ContactRules:
    return parse_contact_rules(_read(path), str(path))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def load_cadences(path: Path) -> Cadences:
    """The cadences file, validated (re-read when it changes on disk)."""
    return _cached_cadences(path, _mtime(path))


def load_contact_rules(path: Path) -> ContactRules:
    return _cached_rules(path, _mtime(path))
