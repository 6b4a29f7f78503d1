"""The operator CLI (`.venv/bin/parley`): database, account import, demo data, policy checks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from parley.accounts.importer import ImportReport, import_accounts
from parley.core.db import make_engine, make_session_factory, transaction
from parley.core.migrations import upgrade_to_head
from parley.core.money import format_cents
from parley.core.settings import ROOT, get_settings
from parley.negotiation.policies import Policy, PolicyError, load_policies

DEMO_ACCOUNTS = ROOT / "config" / "demo-accounts.csv"

app = typer.Typer(help="Parley operator commands.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
accounts_app = typer.Typer(help="Debtor accounts.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data for local mode.", no_args_is_help=True)
policies_app = typer.Typer(help="Negotiation policies (config/policies.yml).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
app.add_typer(demo_app, name="demo")
app.add_typer(policies_app, name="policies")
users_app = typer.Typer(help="Console users (agents, supervisors, admins).", no_args_is_help=True)
app.add_typer(users_app, name="users")


def _policies() -> dict[str, Policy]:
    """The configured policies, or exit 2 with the reason: imports depend on the names."""
    try:
        return load_policies(get_settings().policies_path)
    except PolicyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _import(path: Path) -> ImportReport:
    """Import one file in one transaction and print the outcome; exit 1 if it was rejected."""
    settings = get_settings()
    names = set(_policies())
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            report = import_accounts(session, path, secret=settings.secret_key, policy_names=names)
    finally:
        engine.dispose()
    if not report.ok:
        for error in report.errors:
            typer.echo(str(error), err=True)
        typer.echo(
            f"{path.name}: {len(report.errors)} error(s); no accounts were imported.", err=True
        )
        raise typer.Exit(1)
    typer.echo(f"{path.name}: {report.created} created, {report.updated} updated.")
    return report


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version (safe to repeat)."""
    upgrade_to_head(get_settings().database_url)
    typer.echo("Database is up to date.")


@accounts_app.command("import")
def accounts_import(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file (SPEC §3)."),
    ],
) -> None:
    """Import accounts from a CSV; any invalid row rejects the whole file (exit status 1)."""
    _import(file)


@demo_app.command("load")
def demo_load() -> None:
    """Migrate the database and load the demo debtors from config/demo-accounts.csv."""
    upgrade_to_head(get_settings().database_url)
    _import(DEMO_ACCOUNTS)
    _demo_users()


DEMO_USERS = (("supervisor", "supervisor"), ("agent", "agent"))
DEMO_PASSWORD = "parley-demo"  # noqa: S105 - local mode only; refused in production


def _demo_users() -> None:
    """Console logins for local mode (README); never created in production."""
    from sqlalchemy import select

    from parley.console.users import create_user
    from parley.tables import User

    settings = get_settings()
    if settings.env == "production":
        return
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            for name, role in DEMO_USERS:
                if session.scalars(select(User.id).where(User.username == name)).first() is None:
                    create_user(session, name, DEMO_PASSWORD + "-" + role, role)
    finally:
        engine.dispose()


@policies_app.command("check")
def policies_check() -> None:
    """Validate config/policies.yml (or PARLEY_POLICIES) and summarise each policy."""
    policies = _policies()
    for name, policy in sorted(policies.items()):
        settlement = policy.settlement
        offer = (
            f"settlement {settlement.opening_percent}%..{settlement.floor_percent}% "
            f"in {settlement.step_percent}% steps"
            if settlement.enabled
            else "no settlement"
        )
        typer.echo(
            f"{name}: installments >= {format_cents(policy.min_installment_cents)}, "
            f"up to {policy.max_installments} over {policy.max_plan_days} days "
            f"({', '.join(policy.frequencies)}); {offer}"
        )
    typer.echo(f"{len(policies)} policies OK.")


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="Login name (lowercase letters, digits, . _ -).")],
    role: Annotated[str, typer.Option(help="agent, supervisor or admin.")] = "agent",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a console user; the password is prompted (or read from stdin) and stored as an
    argon2 hash."""
    from parley.console.users import UserError, create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = make_engine(get_settings().database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            create_user(session, name, password, role)
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    typer.echo(f"User {name.strip().lower()} ({role}) created.")


@users_app.command("token")
def users_token(name: Annotated[str, typer.Argument(help="An admin's login name.")]) -> None:
    """Print the bearer token an admin uses for the read-only console API (it changes when
    PARLEY_SECRET_KEY does)."""
    from parley.console.users import api_token_for

    typer.echo(api_token_for(get_settings().secret_key, name.strip().lower()))


@app.command("worker")
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run every due job once and exit.")] = False,
) -> None:
    """Run the timed jobs (deferred SMS, installment charges) until stopped (SIGTERM / Ctrl-C).

    The production topology runs this as its own process and sets PARLEY_JOBS_INTERVAL_SECONDS=0
    on the API replicas. Every row is claimed before it is worked, so a worker killed mid-run
    loses nothing and two workers never do one thing twice.
    """
    import signal
    import threading

    from parley.jobs.runner import JobRunner

    settings = get_settings()
    engine = make_engine(settings.database_url)
    runner = JobRunner(make_session_factory(engine), settings, settings.jobs_interval_seconds)
    stop = threading.Event()
    try:
        if once:
            typer.echo(f"{runner.run_once()} job(s) run.")
            return
        if settings.jobs_interval_seconds <= 0:
            typer.echo(
                "error: PARLEY_JOBS_INTERVAL_SECONDS must be above 0 for the worker", err=True
            )
            raise typer.Exit(2)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        typer.echo(f"worker: running jobs every {settings.jobs_interval_seconds:g}s")
        while not stop.is_set():
            runner.run_once()
            stop.wait(settings.jobs_interval_seconds)
        typer.echo("worker: stopped")
    finally:
        engine.dispose()
