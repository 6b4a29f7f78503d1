"""Negotiation limits per portfolio, loaded from `config/policies.yml` (SPEC §6).

The file is validated as a whole when loaded, so a typo in a key or an impossible limit stops the
operator at start-up rather than surfacing mid-negotiation. Money values become integer cents.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from parley.core.errors import ConfigError
from parley.core.money import parse_money
from parley.negotiation.schedules import Frequency

DEFAULT_POLICY = "default"
Percent = Annotated[int, Field(ge=0, le=100, strict=True)]
Count = Annotated[int, Field(ge=1, strict=True)]
Days = Annotated[int, Field(ge=0, strict=True)]


class PolicyError(ConfigError, ValueError):
    """The policies file is missing, unreadable or breaks a rule; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SettlementPolicy(_Strict):
    """Lump-sum settlement limits; disabled unless the file turns it on."""

    enabled: bool = False
    opening_percent: Percent = 100
    floor_percent: Percent = 100
    step_percent: Annotated[int, Field(ge=1, le=100, strict=True)] = 5
    pay_within_days: Count = 14

    @model_validator(mode="after")
    def _floor_not_above_opening(self) -> SettlementPolicy:
        if self.enabled and self.floor_percent < 1:
            # A 0% floor would let the assistant "settle" a debt for nothing.
            raise ValueError("floor_percent must be at least 1 when settlements are enabled")
        if self.floor_percent > self.opening_percent:
            raise ValueError(
                f"floor_percent ({self.floor_percent}) is above opening_percent "
                f"({self.opening_percent})"
            )
        return self


class Policy(_Strict):
    """One named set of limits; `min_installment_cents` is read from `min_installment`."""

    min_installment_cents: int = Field(alias="min_installment")
    max_installments: Count
    max_plan_days: Count
    frequencies: tuple[Frequency, ...] = Field(min_length=1)
    first_payment_within_days: Days
    min_down_payment_percent: Percent = 0
    settlement: SettlementPolicy = SettlementPolicy()
    # Declined off-session installment charges tolerated (each retried after
    # `payment_retry_days`); one more failure breaks the plan (SPEC §8).
    failed_payment_tolerance: Annotated[int, Field(ge=0, le=10, strict=True)] = 2
    payment_retry_days: Annotated[int, Field(ge=1, le=30, strict=True)] = 3

    @field_validator("min_installment_cents", mode="before")
    @classmethod
    def _money(cls, value: object) -> int:
        # YAML floats are refused: money is written as a quoted decimal, as in the spec.
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError('write money as a quoted decimal, e.g. "25.00"')
        cents = parse_money(str(value))
        if cents < 1:
            # Zero would allow plans of one-cent payments; the floor must mean something.
            raise ValueError("must be at least 0.01")
        return cents

    @field_validator("frequencies")
    @classmethod
    def _unique(cls, value: tuple[Frequency, ...]) -> tuple[Frequency, ...]:
        if len(set(value)) != len(value):
            raise ValueError("frequencies are listed more than once")
        return value


class _PolicyFile(_Strict):
    policies: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")], Policy]

    @field_validator("policies")
    @classmethod
    def _has_default(cls, value: dict[str, Policy]) -> dict[str, Policy]:
        if DEFAULT_POLICY not in value:
            raise ValueError(f"a {DEFAULT_POLICY!r} policy is required (blank account policies)")
        return value


def _describe(error: Any) -> str:
    """Turn a pydantic error location into "policy 'medical': settlement.floor_percent: ..."."""
    loc = [str(part) for part in error["loc"]]
    message = str(error["msg"]).removeprefix("Value error, ")
    if len(loc) >= 2 and loc[0] == "policies":
        where = f"policy {loc[1]!r}"
        key = ".".join(part for part in loc[2:] if part != "[key]")
        return f"{where}: {key}: {message}" if key else f"{where}: {message}"
    return f"{'.'.join(loc) or 'file'}: {message}"


def load_policies(path: str | Path) -> dict[str, Policy]:
    """Read and validate the policies file; raises PolicyError naming the policy and key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policies file: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: expected a mapping with a 'policies' key")
    try:
        parsed = _PolicyFile.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(_describe(error) for error in exc.errors())
        raise PolicyError(f"{path}: {details}") from exc
    return dict(parsed.policies)


def policy_record(policy: Policy) -> dict[str, Any]:
    """The policy as JSON-safe values (cents, lists), stored with every negotiation decision."""
    return policy.model_dump(mode="json")


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> dict[str, Policy]:
    return load_policies(path)


def cached_policies(path: str | Path) -> dict[str, Policy]:
    """`load_policies`, parsed once per file version (the cache key includes the mtime)."""
    resolved = Path(path).resolve()
    try:
        mtime_ns = resolved.stat().st_mtime_ns
    except OSError:
        return load_policies(resolved)  # raises the usual "cannot read" PolicyError
    return _load_cached(str(resolved), mtime_ns)


def get_policy(name: str | None, path: str | Path) -> Policy:
    """The named policy (blank -> `default`) from the policies file at `path` (the settings'
    `policies_path`); an unknown name is a PolicyError, never a guess."""
    policies = cached_policies(path)
    key = name or DEFAULT_POLICY
    try:
        return policies[key]
    except KeyError:
        known = ", ".join(sorted(policies))
        raise PolicyError(f"{path}: unknown policy {key!r}; known: {known}") from None


def account_policy(path: str | Path, name: str | None) -> tuple[str, Policy]:
    """An account's policy name (blank -> `default`) and its limits."""
    key = name or DEFAULT_POLICY
    return key, get_policy(key, path)
