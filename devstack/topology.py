"""The production topology of docker-compose.yml, run on this machine without Docker.

The same processes, settings and files as the compose file: PostgreSQL for the application and
for Rasa's tracker store, Redis for the turn locks, the rate limits and Rasa's lock store, two
Rasa servers (`bot/endpoints.production.yml`), the action server, two API processes behind Caddy
(`docker/Caddyfile`) and the worker, with `PARLEY_ENV=production`. Only the remote providers are
stand-ins (Twilio and Stripe on loopback), and PostgreSQL and Redis are the machine's own servers
instead of containers.

`make prod-local` runs it in the foreground; the fault tests (tests/topology) start it once and
kill and restart its processes (`Topology.kill`, `Topology.start`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from devstack.stack import MODEL, RASA_BIN, ROOT, free_port
from devstack.stripe_standin import TEST_SECRET_KEY, TEST_WEBHOOK_SECRET, stripe_standin
from devstack.twilio_standin import (
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    TEST_FROM_NUMBER,
    twilio_standin,
)

PARLEY_BIN = ROOT / ".venv" / "bin" / "parley"
CADDYFILE = ROOT / "docker" / "Caddyfile"
ENDPOINTS = ROOT / "bot" / "endpoints.production.yml"
# The order processes start in, in groups (each group waits for the ones before it, as compose's
# depends_on; a group's processes start side by side).
ORDER = (("actions", "rasa-0", "rasa-1"), ("api-1", "api-2", "worker"), ("proxy",))


@dataclass(frozen=True)
class Ports:
    proxy: int
    api: tuple[int, int]
    rasa: tuple[int, int]
    actions: int

    @classmethod
    def free(cls) -> Ports:
        return cls(free_port(), (free_port(), free_port()), (free_port(), free_port()), free_port())


@dataclass
class Topology:
    workdir: Path
    url: str  # the balancer: what debtors, Twilio and Stripe reach
    database_url: str
    env: dict[str, str]
    ports: Ports
    stripe: object
    twilio: object
    commands: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def api_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports.api[index]}"

    def rasa_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports.rasa[index]}"

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, name: str) -> None:
        """Start (or restart) one process; returns once it answers."""
        self.spawn(name)
        self.wait_up(name)

    def spawn(self, name: str) -> None:
        args, extra = self.commands[name]
        old = self.processes.get(name)
        if old is not None and old.poll() is None:
            raise RuntimeError(f"{name} is already running")
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(  # noqa: S603 - fixed argument lists
            args, cwd=ROOT, env={**self.env, **extra}, stdout=log, stderr=subprocess.STDOUT
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """The fault: the process dies at once (SIGKILL), or hangs (SIGSTOP)."""
        process = self.processes[name]
        process.send_signal(sig)
        if sig == signal.SIGKILL:
            process.wait(timeout=30)

    def resume(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGCONT)

    def wait_up(self, name: str, timeout: float = 240.0) -> None:
        probe = _probe(self, name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{self.log(name)[-4000:]}")
            if probe is None or probe():
                return
            time.sleep(0.3)
        raise RuntimeError(f"{name} not up after {timeout}s:\n{self.log(name)[-4000:]}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _get_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _probe(topology: Topology, name: str):  # type: ignore[no-untyped-def]
    ports = topology.ports
    if name.startswith("rasa-"):
        return lambda: _get_ok(f"http://127.0.0.1:{ports.rasa[int(name[-1])]}/")
    if name.startswith("api-"):
        return lambda: _get_ok(f"http://127.0.0.1:{ports.api[int(name[-1]) - 1]}/livez")
    if name == "actions":
        return lambda: _get_ok(f"http://127.0.0.1:{ports.actions}/health")
    if name == "proxy":
        return lambda: _get_ok(f"{topology.url}/healthz")
    return None  # the worker: running is all there is to see


def _create_database(admin_url: str, name: str, *, drop: bool) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def _drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_url(admin_url: str, database: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{database}"


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    done = subprocess.run(  # noqa: S603 - fixed argument lists
        [str(PARLEY_BIN), *args], cwd=ROOT, env=env, input=stdin, text=True, capture_output=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"parley {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


@contextmanager
def production_topology(
    *,
    name: str | None = None,
    ports: Ports | None = None,
    admin_url: str = "postgresql://postgres@127.0.0.1:5432/test",
    redis: str = "redis://127.0.0.1:6379",
    redis_db: int = 3,
    accounts: Path | None = None,
    users: tuple[tuple[str, str, str], ...] = (),
    extra_env: dict[str, str] | None = None,
    keep: bool = False,
) -> Iterator[Topology]:
    """Start everything, yield the running topology, stop everything.

    `name` names the two databases (`<name>` and `<name>_rasa`); by default a fresh pair is
    made and dropped afterwards. `keep` keeps the databases (make prod-local). `users` are
    console logins to create: (name, role, password).
    """
    if not MODEL.exists():
        raise RuntimeError(f"no trained model at {MODEL}: run `make train` first")
    if shutil.which("caddy") is None:
        raise RuntimeError("caddy is not installed: run `make topology-deps`")
    name = name or f"parley_topo_{secrets.token_hex(4)}"
    ports = ports or Ports.free()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-topo-")))
        twilio = stack.enter_context(twilio_standin())
        stripe = stack.enter_context(stripe_standin())
        _create_database(admin_url, name, drop=not keep)
        _create_database(admin_url, f"{name}_rasa", drop=not keep)
        if not keep:
            stack.callback(_drop_database, admin_url, name)
            stack.callback(_drop_database, admin_url, f"{name}_rasa")
        database_url = _pg_url(admin_url, name)
        proxy_url = f"http://127.0.0.1:{ports.proxy}"
        rasa_urls = ",".join(f"http://127.0.0.1:{port}" for port in ports.rasa)
        pg = httpx.URL(admin_url.replace("postgresql://", "http://", 1))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "RASA_"))},
            "PYTHONDONTWRITEBYTECODE": "1",
            "RASA_TELEMETRY_ENABLED": "false",
            # The application's settings, as docker-compose.yml's x-app-env passes them.
            "PARLEY_ENV": "production",
            "PARLEY_COMPANY_NAME": "Parley Recovery Services",
            "PARLEY_PUBLIC_URL": proxy_url,
            "PARLEY_SECRET_KEY": secrets.token_urlsafe(32),
            "PARLEY_RASA_TOKEN": secrets.token_urlsafe(32),
            "PARLEY_PORTAL_TOKEN_SECRET": secrets.token_urlsafe(32),
            "PARLEY_WIDGET_ORIGINS": proxy_url,
            "DATABASE_URL": database_url,
            "PARLEY_REDIS_URL": f"{redis}/{redis_db}",
            "PARLEY_RASA_URL": rasa_urls,
            "PARLEY_ACTION_SERVER_URL": f"http://127.0.0.1:{ports.actions}",
            "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": TEST_FROM_NUMBER,
            "PARLEY_TWILIO_API_URL": twilio.url,
            "STRIPE_SECRET_KEY": TEST_SECRET_KEY,
            "STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
            "PARLEY_STRIPE_API_BASE": stripe.url,
            # Rasa's settings, as the compose file's rasa-* services get them.
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{ports.actions}/webhook",
            "RASA_DB_HOST": pg.host,
            "RASA_DB_PORT": str(pg.port or 5432),
            "RASA_DB_NAME": f"{name}_rasa",
            "RASA_DB_USER": pg.username or "postgres",
            "RASA_DB_PASSWORD": pg.password or "",
            "REDIS_HOST": httpx.URL(redis.replace("redis://", "http://", 1)).host,
            "REDIS_PORT": str(httpx.URL(redis.replace("redis://", "http://", 1)).port or 6379),
            "TICKET_LOCK_LIFETIME": "12",
            **(extra_env or {}),
        }
        topology = Topology(
            workdir=workdir,
            url=proxy_url,
            database_url=database_url,
            env=env,
            ports=ports,
            stripe=stripe,
            twilio=twilio,
        )
        _cli(env, "db", "upgrade")
        if accounts is not None:
            _cli(env, "accounts", "import", str(accounts))
        for login, role, password in users:
            _cli(env, "users", "create", login, "--role", role, "--password-stdin", stdin=password)
        topology.commands = _commands(topology, workdir)
        stack.callback(topology.stop)
        for group in ORDER:
            for process in group:
                topology.spawn(process)
            for process in group:
                topology.wait_up(process)
        yield topology


def _commands(topology: Topology, workdir: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    ports = topology.ports
    python = sys.executable
    token = topology.env["PARLEY_RASA_TOKEN"]

    def rasa(port: int) -> tuple[list[str], dict[str, str]]:
        args = [
            str(RASA_BIN),
            "run",
            "--model",
            str(MODEL),
            "--endpoints",
            str(ENDPOINTS),
            "--credentials",
            str(ROOT / "bot" / "credentials.yml"),
            "--enable-api",
            # One argument: a generated token may start with "-", which argparse would take
            # for an option ("expected one argument").
            f"--auth-token={token}",
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        return args, {"PYTHONPATH": str(ROOT)}

    def api(port: int) -> tuple[list[str], dict[str, str]]:
        args = [
            python,
            "-m",
            "uvicorn",
            "--factory",
            "api.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        # Timed work belongs to the worker (compose: PARLEY_JOBS_INTERVAL_SECONDS=0 on api-*).
        return args, {"PARLEY_JOBS_INTERVAL_SECONDS": "0", "PARLEY_PORT": str(port)}

    caddy_home = workdir / "caddy"
    caddy_home.mkdir()
    return {
        "actions": (
            [python, "-m", "rasa_sdk", "--actions", "actions", "--port", str(ports.actions)],
            {"SANIC_HOST": "127.0.0.1"},
        ),
        "rasa-0": rasa(ports.rasa[0]),
        "rasa-1": rasa(ports.rasa[1]),
        "api-1": api(ports.api[0]),
        "api-2": api(ports.api[1]),
        "worker": (
            [str(PARLEY_BIN), "worker"],
            {"PARLEY_JOBS_INTERVAL_SECONDS": topology.env.get("PARLEY_JOBS_INTERVAL_SECONDS", "2")},
        ),
        "proxy": (
            ["caddy", "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            {
                "PARLEY_DOMAIN": topology.url,
                "PARLEY_API_UPSTREAMS": " ".join(f"127.0.0.1:{port}" for port in ports.api),
                "HOME": str(caddy_home),
                "XDG_DATA_HOME": str(caddy_home / "data"),
                "XDG_CONFIG_HOME": str(caddy_home / "config"),
            },
        ),
    }


def main() -> None:
    """`make prod-local`: run the topology in the foreground on fixed ports until Ctrl-C."""
    ports = Ports(proxy=8080, api=(8101, 8102), rasa=(5105, 5106), actions=5155)
    password = os.environ.get("PROD_LOCAL_PASSWORD", "parley-prod-local")
    with production_topology(
        name="parley_prod_local",
        ports=ports,
        accounts=ROOT / "config" / "demo-accounts.csv",
        users=(("supervisor", "supervisor", password), ("agent", "agent", password)),
    ) as topology:
        print(f"  production topology up behind {topology.url}")
        print(f"    chat API {topology.url}/api/docs   console {topology.url}/console")
        print(f"    console users supervisor / agent, password {password}")
        print(f"    logs in {topology.workdir}")
        print(
            "  Ctrl-C stops everything; the databases parley_prod_local* are made afresh each run."
        )
        try:
            while all(p.poll() is None for p in topology.processes.values()):
                time.sleep(1)
            dead = [n for n, p in topology.processes.items() if p.poll() is not None]
            print(f"stopped: {dead} exited", file=sys.stderr)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
