"""Where a chat message's time goes (SPEC §13): py-spy samples every process of the full stack
(the gateway, each Rasa shard, the action server) while simulated debtors talk to it at a fixed
concurrency, and the top entries of each profile are printed (scripts/spy_top.py).

    .venv/bin/python bench/profile.py [--concurrency 8] [--conversations 48] [--out var/profile]
        [--engine in_process]   # the gateway alone, scoring and answering itself

The raw profiles (py-spy's collapsed stacks) are written to `--out`, one per process, with
`summary.txt`; the load's throughput and latency are printed too, for the profile's context
(py-spy's sampling costs a little CPU: take `make bench` for the figures).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from spy_top import tops  # noqa: E402

from bench.run import Parley, run_level  # noqa: E402 - after the path is set
from devstack.stack import running_stack  # noqa: E402

PY_SPY = Path(sys.executable).parent / "py-spy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--conversations", type=int, default=48)
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument(
        "--gil",
        action="store_true",
        help="only samples holding the GIL (Python CPU time; idle pool threads drop out)",
    )
    parser.add_argument("--engine", choices=["rasa", "in_process"], default="rasa")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "profile")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with running_stack(timeout=600, engine=args.engine) as stack:
        target = Parley(stack.api_url)
        run_level(target, 2, 2)  # first-request costs
        samplers = {
            name: subprocess.Popen(  # noqa: S603 - our own tool, fixed arguments
                [
                    str(PY_SPY),
                    "record",
                    "--format",
                    "raw",
                    "--rate",
                    str(args.rate),
                    "--pid",
                    str(pid),
                    "--output",
                    str(args.out / f"{name}.txt"),
                    *(["--gil"] if args.gil else []),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, pid in stack.pids().items()
        }
        time.sleep(1.0)
        level = run_level(target, args.concurrency, args.conversations)
        for sampler in samplers.values():
            sampler.send_signal(2)  # SIGINT: py-spy writes what it has
        for sampler in samplers.values():
            sampler.wait(timeout=60)
    lines = [
        f"load: {level['messages']} messages at {args.concurrency} concurrent, "
        f"{level['throughput_msgs_per_s']} msg/s, p50 {level['p50_ms']} ms, "
        f"p95 {level['p95_ms']} ms, errors {level['errors']}"
    ]
    for name in samplers:
        path = args.out / f"{name}.txt"
        if not path.exists():
            lines.append(f"\n{name}: no profile (py-spy could not attach)")
            continue
        total, own, inclusive = tops(path.read_text(encoding="utf-8").splitlines())
        per_message = 1000 * total / args.rate / max(level["messages"], 1)
        lines.append(f"\n{name}: {total} samples, ~{per_message:.1f} ms on CPU per message")
        for title, counts in (("self", own), ("inclusive", inclusive)):
            lines.append(f"  {title}:")
            lines += [
                f"    {100 * n / total:5.1f}%  {frame}" for frame, n in counts.most_common(args.top)
            ]
    summary = "\n".join(lines)
    (args.out / "summary.txt").write_text(summary + "\n", encoding="utf-8")
    print(summary)


if __name__ == "__main__":
    main()
