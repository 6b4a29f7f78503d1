"""Starts the real stack (Rasa server, action server, API) on free loopback ports.

Used once per pytest session by the end-to-end and browser tests, and by `make bench`. Each
start gets its own SQLite databases in a temporary directory, migrated and loaded with the demo
accounts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.stripe_standin import TEST_WEBHOOK_SECRET, StripeStandIn, stripe_standin
from devstack.twilio_standin import (
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    TEST_FROM_NUMBER,
    TwilioStandIn,
    twilio_standin,
)

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "var" / "models" / "parley.tar.gz"
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
TEST_SECRET = "test-secret-key-0123456789abcdef0123456789"  # noqa: S105 - test only
TEST_RASA_TOKEN = "test-rasa-token-0123456789abcdef0123456789"  # noqa: S105 - test only


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    workdir: Path
    api_url: str
    rasa_url: str
    actions_url: str
    database_url: str
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started_in_seconds: float = 0.0
    # The local Twilio REST stand-in the API's outbound SMS go to (what it received).
    twilio: TwilioStandIn | None = None
    # The local Stripe REST stand-in. The stack itself runs payments in local mode (no
    # STRIPE_SECRET_KEY: links open the demo checkout); tests point the charging job at this.
    stripe: StripeStandIn | None = None

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.processes.items()}


def _spawn(stack: Stack, name: str, args: list[str], extra_env: dict[str, str]) -> None:
    log = (stack.workdir / f"{name}.log").open("wb")
    stack.processes[name] = subprocess.Popen(  # noqa: S603 - fixed argument lists
        args, cwd=ROOT, env={**stack.env, **extra_env}, stdout=log, stderr=subprocess.STDOUT
    )


@contextmanager
def running_stack(
    timeout: float = 180.0,
    extra_env: dict[str, str] | None = None,
    extra_accounts: Path | None = None,
    rasa_shards: int = 2,
    engine: str = "rasa",
    api_workers: int = 1,
    redis_url: str = "redis://127.0.0.1:6379/5",
    database_url: str | None = None,
) -> Iterator[Stack]:
    """The stack as `make run` runs it: `rasa_shards` Rasa processes, each with its own tracker
    file, the action server and the API pinning each conversation to one shard. With
    `engine="in_process"` only the API runs, answering with the same model and dialogue itself
    (PARLEY_BOT_ENGINE, parley.conversations.in_process). With `api_workers` > 1 the API runs
    that many processes (uvicorn `--workers`), sharing turn locks and rate limits in Redis at
    `redis_url`, as API replicas do in production. `database_url` (an empty database, e.g. on
    PostgreSQL) replaces the stack's own SQLite file."""
    if not MODEL.exists():
        raise RuntimeError(f"no trained model at {MODEL}: run `make train` first")
    with (
        tempfile.TemporaryDirectory(prefix="parley-stack-") as tmp,
        twilio_standin() as twilio,
        stripe_standin() as stripe,
    ):
        workdir = Path(tmp)
        api_port, actions_port = free_port(), free_port()
        rasa_ports = [free_port() for _ in range(rasa_shards)]
        database_url = database_url or f"sqlite:///{workdir / 'parley.db'}"
        env = {
            **os.environ,
            "PARLEY_ENV": "test",
            "PARLEY_SECRET_KEY": TEST_SECRET,
            "DATABASE_URL": database_url,
            "PARLEY_RASA_URL": ",".join(f"http://127.0.0.1:{port}" for port in rasa_ports),
            "PARLEY_ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}",
            "PARLEY_PORT": str(api_port),
            # Webhook signatures (Twilio, Stripe) are checked against this base URL.
            "PARLEY_PUBLIC_URL": f"http://127.0.0.1:{api_port}",
            # SMS: signed webhooks, and outbound messages to the local Twilio stand-in.
            "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": TEST_FROM_NUMBER,
            "PARLEY_TWILIO_API_URL": twilio.url,
            # Payments: signed Stripe webhooks; the REST base is used only with a secret key.
            "STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
            "PARLEY_STRIPE_API_BASE": stripe.url,
            "RASA_TELEMETRY_ENABLED": "false",
            "PARLEY_RASA_TOKEN": TEST_RASA_TOKEN,
            # The suites drive many sessions and attempts from one address on purpose.
            "PARLEY_RATE_LIMIT_SESSIONS": "10000/minute",
            "PARLEY_RATE_LIMIT_VERIFICATION": "10000/minute",
            "PARLEY_RATE_LIMIT_LOGIN": "1000/minute",
            "PARLEY_BOT_ENGINE": engine,
            **({"PARLEY_REDIS_URL": redis_url} if api_workers > 1 else {}),
            "PARLEY_NLU_MODEL": str(MODEL),
            **(extra_env or {}),
        }
        stack = Stack(
            workdir=workdir,
            api_url=f"http://127.0.0.1:{api_port}",
            rasa_url=env["PARLEY_RASA_URL"],
            actions_url=env["PARLEY_ACTION_SERVER_URL"],
            database_url=database_url,
            env=env,
            twilio=twilio,
            stripe=stripe,
        )
        (workdir / "endpoints.yml").write_text(
            (ROOT / "bot" / "endpoints.yml")
            .read_text()
            .replace("http://127.0.0.1:5055/webhook", f"http://127.0.0.1:{actions_port}/webhook")
        )
        subprocess.run(  # noqa: S603
            [str(ROOT / ".venv" / "bin" / "parley"), "demo", "load"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        if extra_accounts is not None:
            subprocess.run(  # noqa: S603
                [str(ROOT / ".venv" / "bin" / "parley"), "accounts", "import", str(extra_accounts)],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
        began = time.monotonic()
        try:
            for shard, port in enumerate(rasa_ports if engine == "rasa" else []):
                _spawn(
                    stack,
                    f"rasa{shard}",
                    [
                        str(RASA_BIN),
                        "run",
                        "--model",
                        str(MODEL),
                        "--endpoints",
                        str(workdir / "endpoints.yml"),
                        "--credentials",
                        str(ROOT / "bot" / "credentials.yml"),
                        "--enable-api",
                        "--auth-token",
                        env["PARLEY_RASA_TOKEN"],
                        "--interface",
                        "127.0.0.1",
                        "--port",
                        str(port),
                    ],
                    # PYTHONPATH: the fact-masking tracker store (bot/tracker_store.py).
                    {
                        "RASA_TRACKER_DB": str(workdir / f"tracker-{shard}.db"),
                        "PYTHONPATH": str(ROOT),
                    },
                )
            if engine == "rasa":
                _spawn(
                    stack,
                    "actions",
                    [
                        sys.executable,
                        "-m",
                        "rasa_sdk",
                        "--actions",
                        "actions",
                        "--port",
                        str(actions_port),
                    ],
                    {"SANIC_HOST": "127.0.0.1"},
                )
            _spawn(
                stack,
                "api",
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "api.app:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(api_port),
                    "--log-level",
                    "warning",
                    *(["--workers", str(api_workers)] if api_workers > 1 else []),
                ],
                {},
            )
            _wait_ready(stack, timeout)
            stack.started_in_seconds = time.monotonic() - began
            yield stack
        finally:
            for proc in stack.processes.values():
                proc.terminate()
            for proc in stack.processes.values():
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _wait_ready(stack: Stack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for name, proc in stack.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{stack.log(name)[-4000:]}")
        try:
            response = httpx.get(f"{stack.api_url}/healthz", timeout=2.0)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    logs = "\n".join(f"--- {n}\n{stack.log(n)[-3000:]}" for n in stack.processes)
    raise RuntimeError(f"stack not ready after {timeout}s: {last}\n{logs}")
