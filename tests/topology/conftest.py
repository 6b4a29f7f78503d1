"""The production topology (devstack/topology.py), started once for this package's tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from devstack.topology import Topology, production_topology
from parley.core.db import make_engine, make_session_factory
from tests.topology.workload import FIGURES, write_accounts

RESULTS = Path(__file__).resolve().parents[2] / "var" / "results" / "faults.json"


@pytest.fixture(scope="package")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    accounts = write_accounts(tmp_path_factory.mktemp("faults") / "accounts.csv")
    extra_env = {
        # Bounded fault tests: a hung or dead part costs seconds, not the production 15 s.
        "PARLEY_RASA_TIMEOUT": "8",
        "PARLEY_RASA_COOLDOWN": "3",
        "PARLEY_JOBS_INTERVAL_SECONDS": "1",
        "PARLEY_JOB_LEASE_SECONDS": "10",
        "TICKET_LOCK_LIFETIME": "5",
        # One test client speaks for many debtors.
        "PARLEY_RATE_LIMIT_SESSIONS": "10000/minute",
        "PARLEY_RATE_LIMIT_VERIFICATION": "10000/minute",
    }
    with production_topology(accounts=accounts, extra_env=extra_env) as started:
        yield started
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(FIGURES, indent=2) + "\n")


@pytest.fixture(scope="package")
def topology_db(topology: Topology) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(topology.database_url)
    yield make_session_factory(engine)
    engine.dispose()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault tests on the production topology")
    header = [
        "fault",
        "convs",
        "msgs",
        "acked",
        "retried",
        "sorry",
        "again",
        "lost",
        "mute",
        "unrecov",
    ]
    terminalreporter.write_line("  ".join(f"{h:>9}" for h in header))
    for name, row in FIGURES.items():
        if "installments" in row:
            continue
        cells = [
            name,
            row["conversations"],
            row["messages"],
            row["acknowledged"],
            row["retried"],
            row["apologies"],
            row["said_again"],
            row["lost"],
            row["mute"],
            row["unrecovered"],
        ]
        terminalreporter.write_line("  ".join(f"{c!s:>9}" for c in cells))
    for name, row in FIGURES.items():
        if "installments" in row:
            terminalreporter.write_line(
                f"  {name}: {row['installments']} installments due, {row['charged_at_stripe']} "
                f"charged at Stripe (each once), {row['replayed_by_key']} re-sent with the same "
                "idempotency key and answered from Stripe's record"
            )
    terminalreporter.write_line(f"  (also in {RESULTS})")
