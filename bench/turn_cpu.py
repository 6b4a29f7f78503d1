"""The gateway's CPU per message (SPEC §13), in-process engine: how many milliseconds of CPU the
API process spends on one web-chat turn, one greeting and one SMS turn.

    .venv/bin/python bench/turn_cpu.py [--conversations 60] [--engine in_process] [--out F]

It starts the stack as the bench does (devstack.stack.running_stack: its own SQLite file, the
demo accounts), then drives it one request at a time and reads the API process's own CPU time
(user + system, all its threads, from /proc) around each step, over every conversation at once:
all greetings, then each scripted message to every conversation, then the same for SMS (signed
Twilio webhooks, one phone number per conversation). CPU time, not wall time, is what a shared
machine disturbs least; the client's own work is in another process and is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import SCRIPT  # noqa: E402 - after the path is set
from devstack.stack import running_stack  # noqa: E402
from devstack.twilio_standin import TEST_AUTH_TOKEN  # noqa: E402

SMS_SCRIPT = ["hi", *SCRIPT]
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process (every thread, living or exited)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Meter:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.idle_per_s = 0.0

    def idle(self, seconds: float = 2.0) -> None:
        """The process's own background CPU (its job runner), subtracted from each step."""
        began, wall = cpu_seconds(self.pid), time.perf_counter()
        time.sleep(seconds)
        self.idle_per_s = (cpu_seconds(self.pid) - began) / (time.perf_counter() - wall)

    def per_request_ms(self, requests: list[Any]) -> float:
        began, wall = cpu_seconds(self.pid), time.perf_counter()
        for request in requests:
            request()
        cpu = cpu_seconds(self.pid) - began - self.idle_per_s * (time.perf_counter() - wall)
        return round(1000 * cpu / max(len(requests), 1), 2)


def web_chat(client: httpx.Client, url: str, meter: Meter, n: int) -> dict[str, Any]:
    ids: list[str] = []

    def start() -> None:
        response = client.post(f"{url}/api/chat/sessions", json={})
        response.raise_for_status()
        ids.append(str(response.json()["session_id"]))

    def send(conversation: str, text: str) -> Any:
        def go() -> None:
            reply = client.post(
                f"{url}/api/chat/sessions/{conversation}/messages", json={"text": text}
            )
            reply.raise_for_status()
            assert reply.json()["messages"], text  # noqa: S101 - a bench sanity check

        return go

    out: dict[str, Any] = {"greeting_cpu_ms": meter.per_request_ms([start] * n), "turns": {}}
    for text in SCRIPT:
        out["turns"][text] = meter.per_request_ms([send(c, text) for c in ids])
    out["turn_cpu_ms_mean"] = round(statistics.fmean(out["turns"].values()), 2)
    return out


def sms(client: httpx.Client, url: str, meter: Meter, n: int, base: int) -> dict[str, Any]:
    validator = RequestValidator(TEST_AUTH_TOKEN)
    counter = [0]

    def send(phone: str, text: str) -> Any:
        def go() -> None:
            counter[0] += 1
            form = {"MessageSid": f"SMbench{base}{counter[0]:08d}", "From": phone, "Body": text}
            signature = validator.compute_signature(f"{url}/sms/twilio", form)
            reply = client.post(
                f"{url}/sms/twilio", data=form, headers={"X-Twilio-Signature": signature}
            )
            reply.raise_for_status()
            assert "<Message" in reply.text, text  # noqa: S101 - a bench sanity check

        return go

    phones = [f"+1415{base:03d}{i:04d}" for i in range(n)]
    out: dict[str, Any] = {"turns": {}}
    for text in SMS_SCRIPT:
        out["turns"][text] = meter.per_request_ms([send(p, text) for p in phones])
    out["turn_cpu_ms_mean"] = round(statistics.fmean(out["turns"].values()), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3, help="repeats; the median is kept")
    parser.add_argument("--engine", choices=["rasa", "in_process"], default="in_process")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with running_stack(timeout=600, engine=args.engine) as stack:
        (pid,) = [p for name, p in stack.pids().items() if name == "api"]
        meter = Meter(pid)
        rounds: list[dict[str, Any]] = []
        with httpx.Client(timeout=60.0) as client:
            web_chat(client, stack.api_url, meter, 4)  # first-request costs
            sms(client, stack.api_url, meter, 4, 999)
            meter.idle()
            for round_ in range(args.rounds):
                rounds.append(
                    {
                        "web": web_chat(client, stack.api_url, meter, args.conversations),
                        "sms": sms(client, stack.api_url, meter, args.conversations, round_),
                    }
                )
    result = {
        "engine": args.engine,
        "conversations": args.conversations,
        "idle_cpu_ms_per_s": round(1000 * meter.idle_per_s, 2),
        "web_turn_cpu_ms": statistics.median(r["web"]["turn_cpu_ms_mean"] for r in rounds),
        "greeting_cpu_ms": statistics.median(r["web"]["greeting_cpu_ms"] for r in rounds),
        "sms_turn_cpu_ms": statistics.median(r["sms"]["turn_cpu_ms_mean"] for r in rounds),
        "rounds": rounds,
    }
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
