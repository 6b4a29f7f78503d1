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
    check: Annotated[
        bool,
        typer.Option("--check", help="Health check: exit 0 if a worker beat recently, else 1."),
    ] = False,
) -> None:
    """Run the job engine (deferred SMS, installment charges, cadence steps, promise checks)
    until stopped (SIGTERM / Ctrl-C).

    The production topology runs this as its own process and the API replicas run no timed
    work. Every job is claimed with a lease before it runs, so a worker killed mid-batch loses
    nothing and any number of workers (PostgreSQL) never run one job twice.
    """
    import signal
    from datetime import timedelta

    from parley.core.clock import utcnow
    from parley.jobs.engine import last_heartbeat
    from parley.jobs.runner import JobRunner
    from parley.outreach.config import OutreachConfigError

    settings = get_settings()
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        if check:
            with factory() as session:
                beat = last_heartbeat(session)
            fresh = beat is not None and utcnow() - beat < timedelta(
                seconds=settings.worker_stale_seconds
            )
            typer.echo(f"worker: last heartbeat {beat.isoformat() if beat else 'never'}")
            raise typer.Exit(0 if fresh else 1)
        try:
            _check_outreach_files()
        except OutreachConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        runner = JobRunner(factory, settings, settings.jobs_interval_seconds)
        if once:
            typer.echo(f"{runner.run_once()} job(s) run.")
            return
        if settings.jobs_interval_seconds <= 0:
            typer.echo(
                "error: PARLEY_JOBS_INTERVAL_SECONDS must be above 0 for the worker", err=True
            )
            raise typer.Exit(2)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: runner.request_stop())
        typer.echo(f"worker: running jobs every {settings.jobs_interval_seconds:g}s")
        runner.loop()
        typer.echo("worker: stopped")
    finally:
        engine.dispose()


def _check_outreach_files() -> None:
    """Load and validate the cadences and contact rules (raises OutreachConfigError)."""
    from parley.outreach.config import load_cadences, load_contact_rules

    settings = get_settings()
    load_cadences(settings.cadences_path)
    load_contact_rules(settings.contact_rules_path)


cadences_app = typer.Typer(help="Outreach cadences (config/cadences.yml).", no_args_is_help=True)
app.add_typer(cadences_app, name="cadences")
outreach_app = typer.Typer(help="Outreach: cadence steps and contact rules.", no_args_is_help=True)
app.add_typer(outreach_app, name="outreach")


@cadences_app.command("check")
def cadences_check() -> None:
    """Validate config/cadences.yml and config/contact-rules.yml; exit 2 with the reason."""
    from parley.outreach.config import OutreachConfigError, load_cadences

    settings = get_settings()
    try:
        _check_outreach_files()
    except OutreachConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    cadences = load_cadences(settings.cadences_path)
    for name, cadence in sorted(cadences.cadences.items()):
        typer.echo(f"{name}: {', '.join(cadence.steps())}")
    typer.echo(f"{len(cadences.cadences)} cadence(s), {len(cadences.templates)} template(s) OK.")


@outreach_app.command("run-once")
def outreach_run_once() -> None:
    """Plan and run every due job now (outreach, deferred SMS, charges, promise checks)."""
    from parley.jobs.runner import JobRunner

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        runner = JobRunner(make_session_factory(engine), settings, 0)
        total = 0
        for _ in range(20):
            ran = runner.run_once()
            total += ran
            if ran == 0:
                break
        typer.echo(f"{total} job(s) run.")
    finally:
        engine.dispose()


@outreach_app.command("preview")
def outreach_preview(
    account_ref: Annotated[str, typer.Argument(help="The creditor's account reference.")],
) -> None:
    """What would be sent to the account and when, and what is blocked and why."""
    from sqlalchemy import select

    from parley.core.clock import utcnow
    from parley.jobs.kinds import make_engine as make_job_engine
    from parley.outreach.control import history, preview
    from parley.tables import Account

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        factory = make_session_factory(engine)
        make_job_engine(factory, settings).plan()  # what is due to be planned, planned
        with factory() as session:
            account = session.scalars(
                select(Account).where(Account.account_ref == account_ref)
            ).first()
            if account is None:
                typer.echo(f"error: no account {account_ref!r}", err=True)
                raise typer.Exit(1)
            now = utcnow()
            steps = preview(session, settings, account, now)
            typer.echo(f"Scheduled for {account.account_ref}:")
            for item in steps:
                verdict = (
                    "would send"
                    if item.would_be == "sent"
                    else f"blocked: {item.would_be}"
                    + (f" (until {item.retry_at:%Y-%m-%d %H:%M} UTC)" if item.retry_at else "")
                )
                typer.echo(
                    f"  {item.due_at:%Y-%m-%d %H:%M} UTC  {item.step:<15} {item.channel:<6} "
                    f"{verdict}"
                )
            if not steps:
                typer.echo("  (nothing)")
            typer.echo("History:")
            for event in history(session, account.id, 50):
                why = f" ({event.reason})" if event.reason else ""
                typer.echo(
                    f"  {event.created_at:%Y-%m-%d %H:%M} UTC  {event.step:<15} "
                    f"{event.channel:<6} {event.outcome}{why}"
                )
    finally:
        engine.dispose()
