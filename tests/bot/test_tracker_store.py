"""The tracker store (bot/tracker_store.py) inside real Rasa servers: a long conversation keeps a
bounded live tail, survives a Rasa process killed and started again, and moves between two
shards sharing one PostgreSQL database, with every event written once, in order, masked.

Rasa runs here as in `make run` (its own processes, the trained model, the shared stack's action
server); the tests talk to Rasa's REST channel directly and read the tracker tables themselves.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import make_url

from devstack.stack import MODEL, RASA_BIN, ROOT, TEST_SECRET, free_port
from tests.conftest import POSTGRES_ADMIN_URL
from tests.support.chat import DEMO_BALANCE, DEMO_DOB, DEMO_LAST_NAME, DEMO_ZIP

# Starting two Rasa servers takes minutes on a busy 2-core machine.
pytestmark = pytest.mark.timeout(1800)
# Small, so that a few dozen turns compact the tail several times.
KEEP = 6
# Parley's turn: the message, action_respond, one to three bot messages, action_listen.
MOST_EVENTS_PER_TURN = 8


@dataclass
class Rasa:
    """One `rasa run` process on an endpoints file, started and killed by the test."""

    endpoints: Path
    workdir: Path
    name: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, env: dict[str, str]) -> None:
        log = (self.workdir / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - fixed argument list
            [
                str(RASA_BIN),
                "run",
                "--model",
                str(MODEL),
                "--endpoints",
                str(self.endpoints),
                "--credentials",
                str(ROOT / "bot" / "credentials.yml"),
                "--enable-api",
                "--interface",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            env={**env, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_up(self, timeout: float = 900.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited:\n{self.log()[-3000:]}")
            if _answers(f"{self.url}/"):
                return
            time.sleep(0.3)
        pytest.fail(f"{self.name} not up after {timeout}s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """The fault: the process dies at once (nothing is flushed on the way out)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def log(self) -> str:
        path = self.workdir / f"{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def say(self, sender: str, text: str) -> list[str]:
        response = httpx.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=60.0,
        )
        assert response.status_code == 200, response.text
        replies = [m["text"] for m in response.json() if m.get("text")]
        assert replies, f"{self.name} said nothing to {text!r}"
        return replies


@dataclass(frozen=True)
class TrackerDb:
    backend: str
    store: dict[str, object]  # the tracker_store section of the endpoints file
    url: str  # the same database, for this test to read


@dataclass(frozen=True)
class Actions:
    """The action server (`action_respond`) on a migrated database with the demo accounts."""

    url: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Actions]:
    workdir = tmp_path_factory.mktemp("actions")
    port = free_port()
    env = {
        **os.environ,
        "PARLEY_ENV": "test",
        "PARLEY_SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": f"sqlite:///{workdir / 'parley.db'}",
        "RASA_TELEMETRY_ENABLED": "false",
        "SANIC_HOST": "127.0.0.1",
    }
    subprocess.run(  # noqa: S603
        [str(ROOT / ".venv" / "bin" / "parley"), "demo", "load"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    log = (workdir / "actions.log").open("wb")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 900
        while not _answers(f"{url}/health"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail((workdir / "actions.log").read_text(errors="replace")[-3000:])
            time.sleep(0.3)
        yield Actions(url, env)
    finally:
        process.terminate()
        process.wait(timeout=20)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def tracker_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TrackerDb]:
    store: dict[str, object] = {"type": "bot.tracker_store.FactMaskingTrackerStore"}
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("tracker") / "tracker.db"
        store |= {"dialect": "sqlite", "db": str(path), "keep_events": KEEP}
        yield TrackerDb("sqlite", store, f"sqlite:///{path}")
        return
    admin = make_url(POSTGRES_ADMIN_URL)
    name = f"parley_tracker_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    store |= {
        "dialect": "postgresql",
        "url": admin.host or "127.0.0.1",
        "port": admin.port or 5432,
        "db": name,
        "username": admin.username or "postgres",
        "keep_events": KEEP,
    }
    if admin.password:
        store["password"] = admin.password
    try:
        url = admin.set(drivername="postgresql+psycopg", database=name)
        yield TrackerDb("postgresql", store, url.render_as_string(hide_password=False))
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="module")
def shards(
    actions: Actions, tracker_db: TrackerDb, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Rasa]]:
    """Rasa processes on one tracker database: one for SQLite (as `make run` gives each shard
    its own file), two for PostgreSQL (production's shared store), started side by side."""
    tmp_path = tmp_path_factory.mktemp("rasa")
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        json.dumps(
            {
                "action_endpoint": {"url": f"{actions.url}/webhook"},
                "tracker_store": tracker_db.store,
                "lock_store": {"type": "in_memory"},
            }
        )
    )
    count = 1 if tracker_db.backend == "sqlite" else 2
    started = [Rasa(endpoints, tmp_path, f"rasa-{n}") for n in range(count)]
    try:
        for rasa in started:
            rasa.spawn(actions.env)
        for rasa in started:
            rasa.wait_up()
        yield started
    finally:
        for rasa in started:
            rasa.stop()


def stored(url: str, sender: str) -> tuple[list[tuple[int, str, str | None, dict]], dict]:  # type: ignore[type-arg]
    """The sender's event rows (id, type, action, data) and its head row."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = [
                (row.id, row.type_name, row.action_name, json.loads(row.data))
                for row in conn.execute(
                    sa.text(
                        "SELECT id, type_name, action_name, data FROM events "
                        "WHERE sender_id = :sender ORDER BY id"
                    ),
                    {"sender": sender},
                )
            ]
            head = conn.execute(
                sa.text("SELECT * FROM tracker_heads WHERE sender_id = :sender"),
                {"sender": sender},
            ).one()
    finally:
        engine.dispose()
    return rows, dict(head._mapping)


def test_a_long_conversation_survives_a_restart_and_moves_between_shards(
    shards: list[Rasa], tracker_db: TrackerDb, actions: Actions
) -> None:
    sender = str(uuid.uuid4())
    sent: list[str] = []
    bot_messages = 0
    turn = 0

    def say(text: str) -> list[str]:
        nonlocal bot_messages, turn
        rasa = shards[turn % len(shards)]  # alternate between the shards when there are two
        turn += 1
        replies = rasa.say(sender, text)
        sent.append(text)
        bot_messages += len(replies)
        return replies

    say("/greet")
    say(DEMO_LAST_NAME)
    say(f"my date of birth is {DEMO_DOB}")
    assert any("verified" in r for r in say(DEMO_ZIP))
    for _ in range(12):
        assert any(DEMO_BALANCE in r for r in say("what's my balance"))
        say("thanks")
    rows_before, head_before = stored(tracker_db.url, sender)

    # The live tail stays bounded however long the conversation: it was compacted.
    tail = [row for row in rows_before if row[0] > head_before["base_id"]]
    assert head_before["base_id"] > 0 and head_before["base_state"] is not None
    assert len(tail) == head_before["tail_events"]
    assert KEEP <= len(tail) < 2 * KEEP + MOST_EVENTS_PER_TURN
    assert tail[0][1] == "user", "the tail starts at a turn, after an action_listen"

    shards[0].kill()
    shards[0].spawn(actions.env)
    shards[0].wait_up()
    first = len(sent)
    for _ in range(3):
        assert any(DEMO_BALANCE in r for r in say("what's my balance"))
        say("thanks")
    rows, head = stored(tracker_db.url, sender)

    # Nothing written before the restart was written again or lost; the turns after it only
    # appended their own events, and the conversation did not start over.
    assert rows[: len(rows_before)] == rows_before
    assert [r[1] for r in rows].count("session_started") == 1
    users = [r[3]["text"] for r in rows if r[1] == "user"]
    masked_dob = "my date of birth is ##/##/####"
    assert users == [*sent[:2], masked_dob, "#####", *sent[4:]]
    assert users[first:] == sent[first:]
    assert sum(1 for r in rows if r[1] == "bot") == bot_messages
    responded = [r for r in rows if r[1] == "action" and r[2] == "action_respond"]
    assert len(responded) == len(sent), "one action_respond per message"
    # Every event row belongs to the turn order: user, action_respond, bot..., action_listen.
    kinds = [(r[1], r[2]) for r in rows if r[1] in {"user", "action"}]
    turns = [kinds[i : i + 3] for i in range(len(kinds)) if kinds[i][0] == "user"]
    assert all(t[1:] == [("action", "action_respond"), ("action", "action_listen")] for t in turns)
    assert len(turns) == len(sent)
    tail = [row for row in rows if row[0] > head["base_id"]]
    assert len(tail) == head["tail_events"] < 2 * KEEP + MOST_EVENTS_PER_TURN
    assert not head["verified"]  # Parley's domain sets no `verified` slot


def test_a_replaced_conversation_continues_from_the_replacement(
    shards: list[Rasa], tracker_db: TrackerDb
) -> None:
    """The gateway repairs a broken conversation by replacing its events with none (Rasa's
    `PUT .../tracker/events`); the next message starts a new session from there."""
    sender = str(uuid.uuid4())
    rasa = shards[-1]
    rasa.say(sender, "/greet")
    rasa.say(sender, DEMO_LAST_NAME)
    response = httpx.put(f"{rasa.url}/conversations/{sender}/tracker/events", json=[], timeout=30.0)
    assert response.status_code == 200, response.text
    assert response.json()["events"] == []
    rows_reset, head = stored(tracker_db.url, sender)
    assert head["base_id"] == rows_reset[-1][0] and head["tail_events"] == 0
    assert shards[0].say(sender, "hello")
    rows, head = stored(tracker_db.url, sender)
    assert rows[: len(rows_reset)] == rows_reset, "history is kept"
    after = [r[1] for r in rows[len(rows_reset) :]]
    assert after[:2] == ["action", "session_started"] and "user" in after
    assert [r[1] for r in rows].count("session_started") == 2
    assert head["base_id"] == rows[len(rows_reset) + 1][0] - 1, "continues from the new session"


def test_two_store_instances_on_one_database_write_every_event_once(
    tracker_db: TrackerDb,
) -> None:
    """The same store without a server (fast, both backends): two instances alternate on one
    conversation and the first is replaced by a new one part-way, as shards and a restart."""
    sender = str(uuid.uuid4())
    settings = {k: v for k, v in tracker_db.store.items() if k != "type"}
    done = subprocess.run(  # noqa: S603
        [
            str(RASA_BIN.parent / "python"),
            str(Path(__file__).with_name("store_drive.py")),
            json.dumps(settings),
            sender,
            "30",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])["loaded_events"]
    rows, head = stored(tracker_db.url, sender)
    users = [r[3]["text"] for r in rows if r[1] == "user"]
    assert users == [f"turn {'#' * len(str(n))} born ##/##/####" for n in range(30)]
    assert [r[1] for r in rows].count("session_started") == 1
    assert len(rows) == 3 + 30 * 4, "every event once"
    tail = [r for r in rows if r[0] > head["base_id"]]
    assert len(tail) == head["tail_events"] < 2 * KEEP + MOST_EVENTS_PER_TURN
    assert loaded < 2 * KEEP + MOST_EVENTS_PER_TURN + 8, "the tracker read back is bounded"
