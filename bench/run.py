"""Load benchmark (SPEC §13): simulated debtors through the gateway's chat API on the full stack,
side by side with bare Rasa in the same run.

Reports, in one JSON results file:
- the latency of turn 5, 50 and 200 of one long conversation (does a turn cost more the longer
  the conversation? target: turn 200 within 1.2x of turn 5);
- throughput and p50/p95/p99 per message at 1, 8 and 32 concurrent conversations, for Parley's
  full stack (gateway -> Rasa -> action server -> database) *and* for bare Rasa (`rasa init`'s
  default DIET+TED bot, REST channel, no gateway, no actions), the levels interleaved so both
  meet the same machine, with the ratios (targets at 8: >= 2.5x the messages/s, >= 2.5x lower
  p95; at 32: p95 <= 300 ms);
- the same (turns, levels, ratios, memory, targets) for the gateway's in-process engine
  (`PARLEY_BOT_ENGINE=in_process`: the same model and dialogue, no Rasa server or action
  server on the message path), a second stack interleaved with the other two (`in_process`);
- training time (Parley from scratch; bare Rasa's when it was trained), start-up time, and the
  resident memory of every process;
- the tracker store's own share of a turn at turn 5, 50 and 200, Rasa's SQL store against
  Parley's (`bench/tracker_cost.py`, CPU time, no server: steadier on a busy machine);
- `bench/scale.py`'s results (import and verification at portfolio scale) when that file exists.

Bare Rasa is made once with `rasa init --no-prompt` into var/bench/bare-rasa and trained there;
it is reused while its fingerprint (its config, domain and data, and the pinned Rasa) is the
same. It is served by `rasa run` on its own loopback port. Both are driven by the same client,
with the same messages.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devstack.stack import RASA_BIN, ROOT, free_port, running_stack

# One simulated debtor: verifies, then asks.
SCRIPT = ["Garcia", "03/14/1985", "94107", "what's my balance", "why do i owe this", "thanks"]
# The long conversation: verification, then these in turn. Turns 5, 50 and 200 all ask the
# balance (the cycle has length 3 and starts at turn 4), so they compare like with like.
LONG_CYCLE = ["thanks", "what's my balance", "why do i owe this"]
LONG_TURNS = (5, 50, 200)
# A measured turn is the median of the turns asking the same thing within this many turns
# of it, over every long conversation (one turn alone is at the mercy of a noisy machine).
WINDOW = 9
BARE_DIR = ROOT / "var" / "bench" / "bare-rasa"
RASA_PIN = ROOT / "requirements" / "rasa.lock"
TARGETS = {
    "turn_200_over_turn_5_max": 1.2,
    "throughput_vs_bare_at_8_min": 2.5,
    "p95_bare_over_parley_at_8_min": 2.5,
    "p95_ms_at_32_max": 300,
    "p95_ms_at_8_max": 250,
    "msgs_per_s_min": 40,
    "train_s_max": 60,
    "rss_mib_max": 1536,
}


class Target:
    """Something the client talks to: how a conversation starts and how a message is sent."""

    name = ""

    def start(self, client: httpx.Client) -> str:
        raise NotImplementedError

    def send(self, client: httpx.Client, conversation: str, text: str) -> None:
        raise NotImplementedError


class Parley(Target):
    """The gateway's chat API (SPEC §7): a session, then messages."""

    def __init__(self, url: str, name: str = "parley") -> None:
        self.url = url
        self.name = name

    def start(self, client: httpx.Client) -> str:
        response = client.post(f"{self.url}/api/chat/sessions", json={})
        response.raise_for_status()
        return str(response.json()["session_id"])

    def send(self, client: httpx.Client, conversation: str, text: str) -> None:
        reply = client.post(
            f"{self.url}/api/chat/sessions/{conversation}/messages", json={"text": text}
        )
        reply.raise_for_status()
        if not reply.json().get("messages"):
            raise httpx.HTTPError(f"no reply to {text!r}")


class BareRasa(Target):
    """Rasa's REST channel: a new sender id, then messages."""

    name = "bare_rasa"

    def __init__(self, url: str) -> None:
        self.url = url

    def start(self, client: httpx.Client) -> str:
        return str(uuid.uuid4())

    def send(self, client: httpx.Client, conversation: str, text: str) -> None:
        reply = client.post(
            f"{self.url}/webhooks/rest/webhook", json={"sender": conversation, "message": text}
        )
        reply.raise_for_status()


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def run_level(target: Target, concurrency: int, conversations: int) -> dict[str, Any]:
    """`conversations` scripted conversations, `concurrency` at a time; per-message figures."""
    latencies: list[float] = []
    lock = threading.Lock()
    remaining = [conversations]
    errors: list[str] = []

    def worker() -> None:
        with httpx.Client(timeout=60.0) as client:
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                try:
                    conversation = target.start(client)
                    for text in SCRIPT:
                        began = time.perf_counter()
                        target.send(client, conversation, text)
                        elapsed = time.perf_counter() - began
                        with lock:
                            latencies.append(elapsed)
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(repr(exc))

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    ordered = sorted(latencies) or [float("nan")]
    return {
        "target": target.name,
        "concurrency": concurrency,
        "conversations": conversations,
        "messages": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "throughput_msgs_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
        "p95_ms": round(percentile(ordered, 0.95) * 1000, 1),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
    }


def long_text(turn: int) -> str:
    """What the debtor says at `turn` (1-based) of the long conversation."""
    if turn <= 3:
        return SCRIPT[turn - 1]
    return LONG_CYCLE[(turn - 4) % len(LONG_CYCLE)]


def turn_latency(target: Target, conversations: int, turns: int) -> dict[str, Any]:
    """Per-turn latency of long conversations, one at a time: turns 5, 50 and 200."""
    runs: list[list[float]] = []
    errors: list[str] = []
    with httpx.Client(timeout=60.0) as client:
        for _ in range(conversations):
            conversation = target.start(client)
            run = []
            for turn in range(1, turns + 1):
                began = time.perf_counter()
                try:
                    target.send(client, conversation, long_text(turn))
                except httpx.HTTPError as exc:  # counted, and the turn's time still taken
                    errors.append(f"turn {turn}: {exc!r}")
                run.append(time.perf_counter() - began)
            runs.append(run)
    out: dict[str, Any] = {
        "conversations": conversations,
        "turns": turns,
        "errors": len(errors),
        "first_errors": errors[:3],
    }
    for at in LONG_TURNS:
        if at > turns:
            continue
        same = [
            t
            for t in range(max(4, at - WINDOW), min(turns, at + WINDOW) + 1)
            if long_text(t) == long_text(at)
        ]
        window = [run[t - 1] for run in runs for t in same]
        out[f"turn_{at}"] = {
            "median_ms": round(statistics.median(window) * 1000, 1),
            "exact_ms": [round(run[at - 1] * 1000, 1) for run in runs],
            "turns_in_window": same,
        }
    if "turn_5" in out and "turn_200" in out:
        out["turn_200_over_turn_5"] = round(
            out["turn_200"]["median_ms"] / out["turn_5"]["median_ms"], 2
        )
    every = [statistics.median(run[t] for run in runs) * 1000 for t in range(turns)]
    out["median_ms_by_turn_decile"] = [
        round(statistics.median(every[i : i + max(1, turns // 10)]), 1)
        for i in range(0, turns, max(1, turns // 10))
    ]
    return out


def rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return total
    return total + sum(rss_kib(int(child)) for child in children)


def rasa_env() -> dict[str, str]:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}


def training_seconds() -> float:
    """A full training run from scratch (no cache), as a fresh clone would do it."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(ROOT / "bot", Path(tmp) / "bot")
        shutil.copytree(ROOT / "data", Path(tmp) / "data")
        # the intent model's code, which bot/nlu_component.py imports (as docker/rasa.Dockerfile)
        (Path(tmp) / "parley").mkdir()
        shutil.copy(ROOT / "parley" / "__init__.py", Path(tmp) / "parley" / "__init__.py")
        shutil.copytree(ROOT / "parley" / "nlu", Path(tmp) / "parley" / "nlu")
        began = time.perf_counter()
        subprocess.run(  # noqa: S603
            [
                str(RASA_BIN),
                "train",
                "--domain",
                "bot/domain",
                "--config",
                "bot/config.yml",
                "--data",
                "data",
                "--out",
                "models",
                "--force",
            ],
            cwd=tmp,
            check=True,
            capture_output=True,
            env=rasa_env(),
        )
        return round(time.perf_counter() - began, 1)


def bare_fingerprint(folder: Path) -> str:
    """What bare Rasa's model is made of: its config, domain and data, and the pinned Rasa."""
    digest = hashlib.sha256()
    pin = [line for line in RASA_PIN.read_text().splitlines() if line.startswith("rasa==")]
    digest.update("\n".join(pin).encode())
    files = [folder / "config.yml", folder / "domain.yml", *sorted((folder / "data").rglob("*"))]
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def bare_model() -> tuple[Path, dict[str, Any]]:
    """Bare Rasa's trained model, made (`rasa init`) or retrained only when its fingerprint
    changed; and what is known of its training."""
    stamp = BARE_DIR / "bench-fingerprint.json"
    models = sorted((BARE_DIR / "models").glob("*.tar.gz")) if BARE_DIR.exists() else []
    if models and stamp.exists():
        known = json.loads(stamp.read_text())
        if known.get("fingerprint") == bare_fingerprint(BARE_DIR) and Path(known["model"]).exists():
            return Path(known["model"]), {**known, "cached": True}
    began = time.perf_counter()
    if not (BARE_DIR / "config.yml").exists():
        BARE_DIR.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(BARE_DIR, ignore_errors=True)
        BARE_DIR.mkdir()  # `rasa init --init-dir` refuses a directory that does not exist
        # `rasa init` scaffolds the default project (DIET + TED) and trains it.
        subprocess.run(  # noqa: S603
            [str(RASA_BIN), "init", "--no-prompt", "--init-dir", str(BARE_DIR)],
            cwd=BARE_DIR.parent,
            check=True,
            capture_output=True,
            env=rasa_env(),
        )
    else:
        subprocess.run(  # noqa: S603
            [str(RASA_BIN), "train", "--out", "models"],
            cwd=BARE_DIR,
            check=True,
            capture_output=True,
            env=rasa_env(),
        )
    seconds = round(time.perf_counter() - began, 1)
    model = max((BARE_DIR / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    known = {
        "fingerprint": bare_fingerprint(BARE_DIR),
        "model": str(model),
        "training_seconds": seconds,
    }
    stamp.write_text(json.dumps(known, indent=2))
    return model, {**known, "cached": False}


@dataclass
class Bare:
    url: str
    process: subprocess.Popen[bytes]
    started_in_seconds: float


@contextmanager
def bare_rasa(model: Path, timeout: float) -> Iterator[Bare]:
    """`rasa run` on bare Rasa's model: REST channel, in-memory tracker, no action server."""
    port = free_port()
    log = (BARE_DIR / "bench-rasa.log").open("wb")
    began = time.monotonic()
    process = subprocess.Popen(  # noqa: S603
        [
            str(RASA_BIN),
            "run",
            "--model",
            str(model),
            "--credentials",
            str(BARE_DIR / "credentials.yml"),
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=BARE_DIR,
        env=rasa_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (BARE_DIR / "bench-rasa.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"bare Rasa did not start:\n{tail}")
            try:
                if httpx.get(f"{url}/", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield Bare(url, process, time.monotonic() - began)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def ratios(parley: dict[str, Any], bare: dict[str, Any]) -> dict[str, float | None]:
    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 2) if b else None

    return {
        "throughput_parley_over_bare": ratio(
            parley["throughput_msgs_per_s"], bare["throughput_msgs_per_s"]
        ),
        "p95_bare_over_parley": ratio(bare["p95_ms"], parley["p95_ms"]),
        "p50_bare_over_parley": ratio(bare["p50_ms"], parley["p50_ms"]),
    }


def tracker_cost() -> Any:
    """The tracker store's share of a turn at turn 5, 50 and 200 (bench/tracker_cost.py, in the
    Rasa environment): Rasa's own SQL store against Parley's, CPU time, no server."""
    completed = subprocess.run(  # noqa: S603
        [str(RASA_BIN.parent / "python"), str(ROOT / "bench" / "tracker_cost.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=rasa_env(),
    )
    if completed.returncode != 0:
        return {"error": f"exit {completed.returncode}", "stderr": completed.stderr[-2000:]}
    return json.loads(completed.stdout)


def run_scale(out: Path, extra: list[str]) -> Any:
    """`bench/scale.py` (import and verification at scale), when it is there."""
    script = ROOT / "bench" / "scale.py"
    if not script.exists():
        return None
    result_file = out.parent / "scale.json"
    completed = subprocess.run(  # noqa: S603
        [sys.executable, str(script), "--out", str(result_file), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        return {"error": f"exit {completed.returncode}", "stderr": completed.stderr[-2000:]}
    if result_file.exists():
        return json.loads(result_file.read_text())
    try:
        return json.loads(completed.stdout)
    except ValueError:
        return {"error": "no JSON results", "stdout": completed.stdout[-2000:]}


def interleaved(
    targets: list[Target], levels: list[int], per_worker: int, log: Callable[[Any], None]
) -> dict[str, list[dict[str, Any]]]:
    """Every level for every target, one target after the other within a level."""
    out: dict[str, list[dict[str, Any]]] = {target.name: [] for target in targets}
    for level in levels:
        for target in targets:
            figures = run_level(target, level, level * per_worker)
            out[target.name].append(figures)
            log(figures)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="var/bench/results.json")
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--conversations-per-worker", type=int, default=8)
    parser.add_argument("--long-conversations", type=int, default=3)
    parser.add_argument("--long-turns", type=int, default=210)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--no-bare", action="store_true", help="Parley only")
    parser.add_argument(
        "--no-in-process", action="store_true", help="without the in-process engine's stack"
    )
    parser.add_argument(
        "--in-process-workers",
        type=int,
        default=1,
        help="API processes of the in-process stack (more than one share their locks in Redis; "
        "on SQLite two meet in its busy handler: p99 ~800 ms, docs/performance.md)",
    )
    parser.add_argument(
        "--in-process-database",
        default="",
        help="an empty database for the in-process stack (default: its own SQLite file)",
    )
    parser.add_argument(
        "--topology",
        action="store_true",
        help="Parley as the production topology (devstack/topology.py: PostgreSQL, Redis, "
        "2 Rasa, 2 API, Caddy, worker), once per engine, instead of `make run`'s stack",
    )
    parser.add_argument("--no-scale", action="store_true", help="do not run bench/scale.py")
    parser.add_argument("--scale-args", default="", help="extra arguments for bench/scale.py")
    parser.add_argument("--start-timeout", type=float, default=600.0)
    args = parser.parse_args()
    began = time.monotonic()

    def log(item: Any) -> None:
        print(json.dumps(item), flush=True)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    levels = [int(x) for x in args.levels.split(",")]
    results: dict[str, Any] = {"levels": levels, "machine_load_at_start": os.getloadavg()}
    results["tracker_store_cost"] = tracker_cost()
    log({"tracker_store_cost": results["tracker_store_cost"]})
    if not args.skip_training:
        results["training_seconds"] = training_seconds()
        log({"training_seconds": results["training_seconds"]})
    bare_info: dict[str, Any] | None = None
    model: Path | None = None
    if not args.no_bare:
        model, bare_info = bare_model()
        log({"bare_rasa_model": bare_info})
    bare_context = nullcontext(None) if model is None else bare_rasa(model, args.start_timeout)
    results["stack"] = "production topology" if args.topology else "make run (SQLite)"
    parley_context: Any = (
        topology_stack("rasa") if args.topology else running_stack(timeout=args.start_timeout)
    )
    direct_context: Any = nullcontext(None)
    if args.topology and not args.no_in_process:
        direct_context = topology_stack("in_process")
    elif not args.no_in_process:
        direct_context = running_stack(
            timeout=args.start_timeout,
            engine="in_process",
            api_workers=args.in_process_workers,
            database_url=args.in_process_database or None,
        )
    with (
        parley_context as stack,
        bare_context as bare,
        direct_context as direct,
    ):
        results["startup_seconds"] = round(stack.started_in_seconds, 1)
        parley = Parley(stack.api_url)
        targets: list[Target] = [parley]
        if bare is not None:
            targets.append(BareRasa(bare.url))
        in_process = Parley(direct.api_url, "parley_in_process") if direct is not None else None
        if in_process:
            targets.append(in_process)
        for target in targets:  # first-request costs do not count against any level
            run_level(target, 2, 2)
        results["turn_latency"] = turn_latency(parley, args.long_conversations, args.long_turns)
        log({"turn_latency": results["turn_latency"]})
        if in_process and direct:
            results["in_process"] = {
                "startup_seconds": round(direct.started_in_seconds, 1),
                "turn_latency": turn_latency(in_process, args.long_conversations, args.long_turns),
            }
            log({"in_process_turn_latency": results["in_process"]["turn_latency"]})
        by_target = interleaved(targets, levels, args.conversations_per_worker, log)
        results["parley"] = by_target["parley"]
        results["resident_mib"] = resident(stack)
        if in_process and direct:
            results["in_process"]["parley"] = by_target[in_process.name]
            results["in_process"]["resident_mib"] = resident(direct)
        if bare is not None and bare_info is not None:
            results["bare_rasa"] = {
                "levels": by_target["bare_rasa"],
                "resident_mib": round(rss_kib(bare.process.pid) / 1024, 1),
                "startup_seconds": round(bare.started_in_seconds, 1),
                "training_seconds": bare_info.get("training_seconds"),
                "training_cached": bare_info.get("cached"),
                "model": bare_info.get("model"),
            }
            results["versus_bare_rasa"] = {
                str(p["concurrency"]): ratios(p, b)
                for p, b in zip(by_target["parley"], by_target["bare_rasa"], strict=True)
            }
            if in_process:
                results["in_process"]["versus_bare_rasa"] = {
                    str(p["concurrency"]): ratios(p, b)
                    for p, b in zip(by_target[in_process.name], by_target["bare_rasa"], strict=True)
                }
    results["targets"] = TARGETS
    results["met"] = met(results)
    if "in_process" in results:
        # the same targets; training is the same model's
        results["in_process"]["met"] = met(
            {**results["in_process"], "training_seconds": results.get("training_seconds")}
        )
    if not args.no_scale:
        scale = run_scale(out, args.scale_args.split())
        if scale is not None:
            results["scale"] = scale
    results["bench_seconds"] = round(time.monotonic() - began, 1)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


@dataclass
class TopologyStack:
    """A production topology seen as the bench sees a stack: one URL (the balancer), the
    processes' pids, the start-up time."""

    api_url: str
    processes: dict[str, Any]
    started_in_seconds: float

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.processes.items()}


@contextmanager
def topology_stack(engine: str) -> Iterator[TopologyStack]:
    """devstack/topology.py's production topology with the demo accounts; with the in-process
    engine its API processes answer themselves (its Rasa and action servers idle, unused)."""
    from devstack.stack import MODEL
    from devstack.topology import production_topology

    began = time.monotonic()
    extra = {
        "PARLEY_RATE_LIMIT_SESSIONS": "100000/minute",
        "PARLEY_RATE_LIMIT_VERIFICATION": "100000/minute",
        "PARLEY_BOT_ENGINE": engine,
        "PARLEY_NLU_MODEL": str(MODEL),
    }
    with production_topology(
        accounts=ROOT / "config" / "demo-accounts.csv",
        extra_env=extra,
        redis_db=4 if engine == "rasa" else 6,
    ) as topology:
        yield TopologyStack(topology.url, topology.processes, time.monotonic() - began)


def resident(stack: Any) -> dict[str, float]:
    """Resident MiB of every process of a stack, and their total."""
    memory = {name: round(rss_kib(pid) / 1024, 1) for name, pid in stack.pids().items()}
    return {**memory, "total": round(sum(memory.values()), 1)}


def met(results: dict[str, Any]) -> dict[str, bool | None]:
    """Each target against this run's figures (None: not measured in this run)."""
    by_level = {row["concurrency"]: row for row in results.get("parley", [])}
    versus = results.get("versus_bare_rasa", {})

    def at(level: int, key: str) -> Any:
        return by_level[level][key] if level in by_level else None

    def check(value: Any, ok: Callable[[Any], bool]) -> bool | None:
        return None if value is None else ok(value)

    turn_ratio = results.get("turn_latency", {}).get("turn_200_over_turn_5")
    at8 = versus.get("8", {})
    return {
        "turn_200_within_1.2x_of_turn_5": check(
            turn_ratio, lambda r: r <= TARGETS["turn_200_over_turn_5_max"]
        ),
        "throughput_2.5x_bare_at_8": check(
            at8.get("throughput_parley_over_bare"),
            lambda r: r >= TARGETS["throughput_vs_bare_at_8_min"],
        ),
        "p95_2.5x_lower_than_bare_at_8": check(
            at8.get("p95_bare_over_parley"),
            lambda r: r >= TARGETS["p95_bare_over_parley_at_8_min"],
        ),
        "p95_at_32_le_300ms": check(at(32, "p95_ms"), lambda v: v <= TARGETS["p95_ms_at_32_max"]),
        "p95_at_8_le_250ms": check(at(8, "p95_ms"), lambda v: v <= TARGETS["p95_ms_at_8_max"]),
        "throughput_at_8_ge_40": check(
            at(8, "throughput_msgs_per_s"), lambda v: v >= TARGETS["msgs_per_s_min"]
        ),
        "training_le_60s": check(
            results.get("training_seconds"), lambda v: v <= TARGETS["train_s_max"]
        ),
        "stack_le_1.5GB": check(
            results.get("resident_mib", {}).get("total"), lambda v: v <= TARGETS["rss_mib_max"]
        ),
    }


if __name__ == "__main__":
    main()
