"""Load benchmark (SPEC §13): simulated debtors through the gateway's chat API on the full stack.

Reports throughput and p50/p95/p99 latency per message at 1, 8 and 32 concurrent conversations,
plus start-up time, training time and resident memory, and writes them to a JSON results file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from devstack.stack import RASA_BIN, ROOT, running_stack

SCRIPT = ["Garcia", "03/14/1985", "94107", "what's my balance", "why do i owe this", "thanks"]


def conversation(client: httpx.Client, latencies: list[float], lock: threading.Lock) -> None:
    response = client.post("/api/chat/sessions", json={})
    response.raise_for_status()
    session_id = response.json()["session_id"]
    for text in SCRIPT:
        began = time.perf_counter()
        reply = client.post(f"/api/chat/sessions/{session_id}/messages", json={"text": text})
        elapsed = time.perf_counter() - began
        reply.raise_for_status()
        with lock:
            latencies.append(elapsed)


def run_level(api_url: str, concurrency: int, conversations: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    remaining = [conversations]
    errors: list[str] = []

    def worker() -> None:
        with httpx.Client(base_url=api_url, timeout=60.0) as client:
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                try:
                    conversation(client, latencies, lock)
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
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return {
        "concurrency": concurrency,
        "conversations": conversations,
        "messages": len(latencies),
        "errors": len(errors),
        "throughput_msgs_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(pct(0.50), 1),
        "p95_ms": round(pct(0.95), 1),
        "p99_ms": round(pct(0.99), 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
    }


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


def training_seconds() -> float:
    """A full training run from scratch (no cache), as a fresh clone would do it."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(ROOT / "bot", Path(tmp) / "bot")
        shutil.copytree(ROOT / "data", Path(tmp) / "data")
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
            env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
        )
        return round(time.perf_counter() - began, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="var/bench/results.json")
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--conversations-per-worker", type=int, default=8)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()

    results: dict[str, object] = {}
    if not args.skip_training:
        results["training_seconds"] = training_seconds()
    with running_stack() as stack:
        results["startup_seconds"] = round(stack.started_in_seconds, 1)
        # Warm-up so first-request costs do not count against the 1-conversation level.
        run_level(stack.api_url, 2, 2)
        levels = []
        for level in [int(x) for x in args.levels.split(",")]:
            levels.append(run_level(stack.api_url, level, level * args.conversations_per_worker))
            print(json.dumps(levels[-1]), flush=True)
        results["levels"] = levels
        memory = {name: round(rss_kib(pid) / 1024, 1) for name, pid in stack.pids().items()}
        results["resident_mib"] = {**memory, "total": round(sum(memory.values()), 1)}
    results["targets"] = {"p95_ms_at_8": 250, "msgs_per_s": 40, "train_s": 60, "rss_mib": 1536}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
