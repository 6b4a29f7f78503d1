"""The outreach files are validated as a whole, with the place of each problem (SPEC §14)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from parley.cli import app
from parley.core.settings import ROOT, get_settings
from parley.outreach.config import (
    OutreachConfigError,
    load_cadences,
    load_contact_rules,
    parse_cadences,
    parse_contact_rules,
)
from parley.outreach.templates import render

SHIPPED = yaml.safe_load((ROOT / "config" / "cadences.yml").read_text())


def test_the_shipped_files_are_valid_and_massachusetts_allows_two_texts() -> None:
    cadences = load_cadences(ROOT / "config" / "cadences.yml")
    assert set(cadences.cadences["default"].steps()) == {
        "first_contact",
        "no_reply",
        "pre_due",
        "due_day",
        "promise_reminder",
        "missed_payment",
        "broken_promise",
        "plan_completed",
        "agreement",
        "payment_receipt",
    }
    rules = load_contact_rules(ROOT / "config" / "contact-rules.yml").frequency
    assert rules.caps_for("MA") == {"total": 3, "sms": 2}
    assert rules.caps_for("ma") == {"total": 3, "sms": 2}
    assert rules.caps_for("NY") == rules.caps_for(None) == {"total": 3}


def _with(**templates: dict[str, str]) -> dict[str, object]:
    data = yaml.safe_load(yaml.safe_dump(SHIPPED))
    data["templates"].update(templates)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with(first_contact={"subject": "x", "text": "You owe {{ amount }}"}), "uses ['amount']"),
        (
            _with(first_contact={"subject": "x", "text": "Hi {{ frist_name }}"}),
            "uses ['frist_name']",
        ),
        (_with(due_day={"subject": "x", "text": "{{ amount "}), "templates.due_day.text"),
        ({"cadences": {"other": {}}, "templates": {}}, "a cadence named 'default'"),
        (
            {"cadences": {"default": {"due_day": {"template": "nope"}}}, "templates": {}},
            "no template named 'nope'",
        ),
        (
            {
                "cadences": {"default": {"no_reply": {"template": "t", "days": [7, 3]}}},
                "templates": {"t": {"subject": "s", "text": "t"}},
            },
            "increasing",
        ),
        (
            {
                "cadences": {
                    "default": {"payment_receipt": {"template": "t", "paid_off_template": "gone"}}
                },
                "templates": {"t": {"subject": "s", "text": "t"}},
            },
            "cadences.default.payment_receipt: no template named 'gone'",
        ),
        (
            _with(payment_receipt={"subject": "x", "text": "{{ amount }} {{ ssn }}"}),
            "cadences.default.payment_receipt. uses ['ssn']",
        ),
        (
            {
                "cadences": {"default": {"first_contact": {"template": "t", "channels": ["fax"]}}},
                "templates": {"t": {"subject": "s", "text": "t"}},
            },
            "unknown channel",
        ),
    ],
)
def test_bad_cadences_are_refused_with_the_reason(data: object, message: str) -> None:
    with pytest.raises(OutreachConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_cadences(data)


def test_a_cadence_without_a_receipt_step_still_sends_the_shipped_receipt() -> None:
    """SPEC §7 owes a receipt for every payment: leaving the step out cannot switch it off."""
    cadences = parse_cadences({"cadences": {"default": {}}, "templates": {}})
    receipt = cadences.cadences["default"].receipt()
    fields = {"amount": "$10.00", "paid_on": "Dec 1, 2026", "balance": "$5.00"}
    assert render(cadences.templates[receipt.template].text, fields) == (
        "Payment received: $10.00 on Dec 1, 2026. Thank you! Your balance is now $5.00."
    )
    assert "paid off" in render(cadences.templates[receipt.paid_off_template].text, fields)


def test_bad_contact_rules_are_refused() -> None:
    with pytest.raises(OutreachConfigError, match="2-letter"):
        parse_contact_rules({"frequency": {"states": {"Mass": {"sms": 2}}}})
    with pytest.raises(OutreachConfigError, match="frequency.default.sms"):
        parse_contact_rules({"frequency": {"default": {"sms": -1}}})


def test_templates_cannot_reach_beyond_their_strings() -> None:
    from jinja2.exceptions import SecurityError

    with pytest.raises(SecurityError):
        render("{{ company.__class__.__mro__ }}", {"company": "Acme"})
    assert render("Hi  {{ first_name }}\n  there", {"first_name": "Ann"}) == "Hi Ann there"


def test_cadences_check_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    good = runner.invoke(app, ["cadences", "check"])
    assert good.exit_code == 0, good.output
    assert "default: first_contact" in good.output
    bad = tmp_path / "cadences.yml"
    bad.write_text("cadences: [\n")
    monkeypatch.setenv("PARLEY_CADENCES", str(bad))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["cadences", "check"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "cannot be read" in result.output
