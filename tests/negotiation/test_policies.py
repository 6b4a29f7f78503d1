"""`config/policies.yml` loads, and `parley policies check` names the policy and key at fault.

(No database here; it sits with the other operator-command tests.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parley.cli import app
from parley.core.settings import ROOT, get_settings
from parley.negotiation.policies import PolicyError, load_policies

VALID = """
policies:
  default:
    min_installment: "25.00"
    max_installments: 12
    max_plan_days: 365
    frequencies: [weekly, biweekly, monthly]
    first_payment_within_days: 30
    min_down_payment_percent: 0
    settlement: {enabled: true, opening_percent: 90, floor_percent: 70, step_percent: 10,
                 pay_within_days: 14}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policies.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_policies_load() -> None:
    policies = load_policies(ROOT / "config" / "policies.yml")
    default = policies["default"]
    assert default.min_installment_cents == 2500
    assert default.frequencies == ("weekly", "biweekly", "monthly")
    assert (default.settlement.opening_percent, default.settlement.floor_percent) == (90, 70)
    assert not policies["medical"].settlement.enabled


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '"25.00"',
            '"25.005"',
            "policy 'default': min_installment: amount '25.005' has more than 2",
        ),
        ('"25.00"', '"-1"', "policy 'default': min_installment: amount '-1' is negative"),
        ('"25.00"', "25.5", "policy 'default': min_installment: write money as a quoted decimal"),
        ("max_installments: 12", "max_installments: 0", "policy 'default': max_installments:"),
        ("monthly]", "daily]", "policy 'default': frequencies.2:"),
        (
            "floor_percent: 70",
            "floor_percent: 95",
            "policy 'default': settlement: floor_percent (95)",
        ),
        ("step_percent: 10", "step_percent: 10, bogus: 1", "policy 'default': settlement.bogus:"),
        (
            "max_plan_days: 365",
            "max_plan_days: 365\n    max_days: 3",
            "policy 'default': max_days:",
        ),
        ("  default:", "  standard:", "policies: a 'default' policy is required"),
        ('"25.00"', '"0.00"', "policy 'default': min_installment: must be at least 0.01"),
        ("[weekly, biweekly, monthly]", "[]", "policy 'default': frequencies: "),
        ("[weekly, biweekly, monthly]", "[weekly, weekly]", "frequencies are listed more than"),
        ("max_plan_days: 365", "max_plan_days: 0", "policy 'default': max_plan_days:"),
        (
            "first_payment_within_days: 30",
            "first_payment_within_days: -1",
            "policy 'default': first_payment_within_days:",
        ),
        (
            "min_down_payment_percent: 0",
            "min_down_payment_percent: 101",
            "policy 'default': min_down_payment_percent:",
        ),
        ("opening_percent: 90", "opening_percent: 120", "policy 'default': settlement.opening"),
        (
            "floor_percent: 70",
            "floor_percent: 0",
            "policy 'default': settlement: floor_percent must be at least 1",
        ),
        ("step_percent: 10", "step_percent: 0", "policy 'default': settlement.step_percent:"),
        ("pay_within_days: 14", "pay_within_days: 0", "settlement.pay_within_days:"),
        ("max_installments: 12", 'max_installments: "12"', "policy 'default': max_installments:"),
        ("enabled: true", "enabled: 2", "policy 'default': settlement.enabled:"),
    ],
)
def test_invalid_policies_name_policy_and_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in VALID
    with pytest.raises(PolicyError) as caught:
        load_policies(write(tmp_path, VALID.replace(old, new, 1)))
    assert message in str(caught.value)


def test_missing_or_malformed_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policies(tmp_path / "nope.yml")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policies(write(tmp_path, "policies: [unclosed"))
    with pytest.raises(PolicyError, match="expected a mapping"):
        load_policies(write(tmp_path, "- 1\n"))


@pytest.fixture
def policies_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "policies.yml"
    monkeypatch.setenv("PARLEY_POLICIES", str(path))
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def test_cli_policies_check(policies_env: Path) -> None:
    policies_env.write_text(VALID, encoding="utf-8")
    ok = CliRunner().invoke(app, ["policies", "check"])
    assert ok.exit_code == 0, ok.output
    assert "default: installments >= $25.00" in ok.stdout

    policies_env.write_text(VALID.replace("max_installments: 12", "max_installments: -2"))
    bad = CliRunner().invoke(app, ["policies", "check"])
    assert bad.exit_code == 2
    assert "policy 'default': max_installments:" in bad.stderr


def test_get_policy_and_cache(tmp_path: Path) -> None:
    from parley.negotiation.policies import cached_policies, get_policy

    path = write(tmp_path, VALID)
    assert get_policy(None, path).min_installment_cents == 2500
    assert get_policy("", path) is get_policy("default", path)  # parsed once per file version
    with pytest.raises(PolicyError, match="unknown policy 'medical'; known: default"):
        get_policy("medical", path)
    assert cached_policies(path) is cached_policies(path)
    with pytest.raises(PolicyError, match="cannot read"):
        get_policy("default", tmp_path / "missing.yml")


def test_policy_record_is_json_safe() -> None:
    import json

    from parley.negotiation.policies import policy_record

    record = policy_record(load_policies(ROOT / "config" / "policies.yml")["default"])
    assert record["min_installment_cents"] == 2500
    assert record["frequencies"] == ["weekly", "biweekly", "monthly"]
    json.dumps(record)
