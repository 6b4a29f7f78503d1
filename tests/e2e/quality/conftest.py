"""The conversation-quality suite's fixtures: the shared stack with this folder's accounts
loaded, and the summary printed at the end of the pytest session."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from devstack.stack import ROOT, Stack
from parley.core.settings import Settings
from tests.e2e.quality import driver


@pytest.fixture(scope="session")
def quality_stack(stack: Stack) -> Stack:
    """The session's stack with accounts.csv imported (the import is idempotent)."""
    subprocess.run(  # noqa: S603 - fixed argument list
        [str(ROOT / ".venv" / "bin" / "parley"), "accounts", "import", str(driver.ACCOUNTS_CSV)],
        cwd=ROOT,
        env=stack.env,
        check=True,
        capture_output=True,
    )
    return stack


@pytest.fixture(scope="session")
def stack_settings(stack: Stack) -> Settings:
    """The settings the stack runs with (its public URL, Twilio token, policies file)."""
    return driver.settings_of(stack.env)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for engine, data in driver.LAST.items():
        _summary(terminalreporter, engine, data)


def _summary(terminalreporter: pytest.TerminalReporter, engine: str, data: dict[str, Any]) -> None:
    write = terminalreporter.write_line
    terminalreporter.section(f"conversation quality ({engine})")
    write(
        f"  {data['resolved']}/{data['scenarios']} resolved ({data['resolution_rate']:.1%}), "
        f"false escalation {data['false_escalation_rate']:.1%} ({data['false_escalations']}), "
        f"missed escalation {data['missed_escalation_rate']:.1%} "
        f"({data['missed_escalations']}/{data['expecting_escalation']}), "
        f"breaches {data['breaches']} {data['breaches_by_kind'] or ''}"
    )
    turns = data["turns_to_resolution"]
    write(
        f"  debtor turns to resolution: median {turns['median']}, p90 {turns['p90']}, "
        f"mean {turns['mean']}; "
        f"run {data['runtime_seconds']} s"
    )
    if data.get("notes_by_kind"):
        write(f"  notes (not breaches): {data['notes_by_kind']}")
    for file, row in data["by_file"].items():
        write(
            f"  {file:<26} {row['resolved']:>3}/{row['scenarios']:<3} "
            f"breaches {row['breaches']:<3} false {row['false_escalations']:<3} "
            f"missed {row['missed_escalations']}"
        )
    write(f"  (failing scenarios with transcripts in {data['results_path']})")
