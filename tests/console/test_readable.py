"""Readable labels for stored codes (parley.console.readable)."""

from __future__ import annotations

from parley.console.readable import details, label


def test_audit_details_read_as_words() -> None:
    assert details({"plan_id": 3, "delivery": "sms:outbox", "mode": "local", "kind": "x"}) == (
        "plan #3 · delivery: SMS, in the local outbox · mode: Local demo checkout"
    )
    assert details({"reason": "opted_out", "lift_pause": True}) == (
        "reason: the number opted out · lift pause: yes"
    )
    assert label("cease_communication") == "Asked to stop contact"
    assert label("brand_new_code") == "Brand new code"
    assert label(None) == "—"
