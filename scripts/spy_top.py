"""The top entries of a py-spy profile, as text for a note (docs/performance.md).

    .venv/bin/py-spy record --format raw -o var/profile.txt -- <command>
    .venv/bin/python scripts/spy_top.py var/profile.txt [--top 15]

py-spy's raw format is one collapsed stack per line ("frame;frame;frame count"). This prints
each function's share of the samples twice: *self* (the function was running) and *inclusive*
(it was on the stack), highest first, with its file and line shortened to the project or
library path.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<name>.*?) \((?P<where>.*?)(?::\d+)?\)$")


def _short(frame: str) -> str:
    """`func (path/to/site-packages/lib/mod.py:12)` -> `func (lib/mod.py)`."""
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    where = match.group("where")
    for marker in ("site-packages/", "/work/main/", "lib/python3.10/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{match.group('name')} ({where})"


def tops(lines: list[str]) -> tuple[int, Counter[str], Counter[str]]:
    total = 0
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return total, own, inclusive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    total, own, inclusive = tops(args.profile.read_text(encoding="utf-8").splitlines())
    if not total:
        raise SystemExit(f"{args.profile}: no samples")
    print(f"{total} samples")
    for title, counts in (("self", own), ("inclusive", inclusive)):
        print(f"\n{title}:")
        for name, count in counts.most_common(args.top):
            print(f"  {100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
