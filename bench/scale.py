"""Scale bench (SPEC §13): account import rows/s and peak memory, and the identity check's latency
with a portfolio of 1,000,000 accounts, 10,000 of them sharing one surname.

    .venv/bin/python bench/scale.py --out var/bench/scale.json [--rows 100000,1000000]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--checks 200]

Generated CSVs are cached under var/bench/scale/ (never committed). Each import runs in a child
process of its own, so its peak resident memory (`ru_maxrss`) is the import's and nothing else's;
the child also reports its resident memory just before the import (the libraries' baseline). The
identity checks run in another child against the database the largest file was loaded into.
Bounded: the defaults take about 5-8 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from parley.accounts.importer import SPEC_COLUMNS  # noqa: E402 - after the path is set

SECRET = "scale-bench-secret-0123456789abcdefghij"  # noqa: S105 - bench data only
SHARED_SURNAME = "Smith"
SHARED_PER_MILLION = 10_000
CHILD_TIMEOUT = int(os.environ.get("SCALE_CHILD_TIMEOUT", "900"))  # seconds per child
GENERATOR_VERSION = 2  # bump when the generated rows change, so cached files are rebuilt
HEADER = list(SPEC_COLUMNS)
FIRST = [
    "Maria",
    "James",
    "Ana",
    "Wei",
    "Olu",
    "Priya",
    "Lena",
    "Omar",
    "Sofia",
    "Noah",
    "Emma",
    "Liam",
    "Ava",
    "Ethan",
    "Mia",
    "Lucas",
]
SURNAMES = [
    "Garcia",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Okafor",
    "Kowalski",
]
AREAS = [
    "212",
    "415",
    "312",
    "617",
    "713",
    "206",
    "303",
    "404",
    "305",
    "702",
    "214",
    "602",
    "512",
    "919",
    "615",
    "503",
    "801",
    "216",
    "412",
    "314",
]
CREDITORS = [
    ("Northwind Bank", "Northwind Bank Visa", "Credit card balance"),
    ("Harbor Health", "St. Brendan's Hospital", "ER visit, not covered by insurance"),
    ("Metro Telecom", "Metro Telecom", "Final bill after cancelling the contract"),
    ("Union Auto Finance", "Union Auto", "Deficiency balance after vehicle sale"),
]


def _us_zips() -> list[str]:
    import zipcodes

    return sorted({z["zip_code"] for z in zipcodes.filter_by(zip_code_type="STANDARD")})


def generate(path: Path, rows: int, seed: int = 13) -> dict[str, Any]:
    """Write `rows` valid accounts; every `rows / shared` th one is a Smith. Returns the facts of
    a sample of accounts (plain: they are the bench's own inputs) for the identity checks."""
    rng = random.Random(seed)
    zips = _us_zips()
    shared = max(1, rows * SHARED_PER_MILLION // 1_000_000)
    every = rows // shared
    sample: dict[str, list[dict[str, str]]] = {"plain": [], "shared": []}
    born_from, born_days = date(1940, 1, 1), 365 * 64
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            is_shared = i % every == 0
            last = SHARED_SURNAME if is_shared else rng.choice(SURNAMES) + rng.choice("abcdefghij")
            dob = (born_from + timedelta(days=rng.randrange(born_days))).isoformat()
            zip5 = rng.choice(zips)
            ssn4 = f"{rng.randrange(10000):04d}" if rng.random() < 0.8 else ""
            phone = (
                f"+1{rng.choice(AREAS)}{rng.randrange(200, 1000)}{rng.randrange(10000):04d}"
                if rng.random() < 0.85
                else ""
            )
            creditor, original, description = rng.choice(CREDITORS)
            principal = rng.randrange(10_000, 2_000_000)
            interest, fees = rng.randrange(0, 50_000), rng.randrange(0, 5_000)
            paid = rng.randrange(0, principal // 2)
            has_address = rng.random() < 0.5
            writer.writerow(
                [
                    f"SC-{i:07d}",
                    rng.choice(FIRST),
                    last,
                    dob,
                    ssn4,
                    zip5,
                    phone,
                    f"debtor{i}@example.com" if rng.random() < 0.6 else "",
                    "America/Chicago" if rng.random() < 0.1 else "",
                    creditor,
                    original,
                    f"{rng.randrange(10000):04d}",
                    description,
                    f"{principal // 100}.{principal % 100:02d}",
                    f"{interest // 100}.{interest % 100:02d}",
                    f"{fees // 100}.{fees % 100:02d}",
                    f"{paid // 100}.{paid % 100:02d}",
                    f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                    "default" if rng.random() < 0.5 else "",
                    f"{rng.randrange(1, 999)} Main St" if has_address else "",
                    "Apt 2" if has_address and rng.random() < 0.3 else "",
                    "Springfield" if has_address else "",
                    "",
                    "sms" if phone and rng.random() < 0.5 else "",
                    "2025-01-15" if rng.random() < 0.05 else "",
                ]
            )
            kind = "shared" if is_shared else "plain"
            odds = 1000 / (shared if is_shared else rows - shared)
            if len(sample[kind]) < 2000 and rng.random() < odds:
                sample[kind].append({"last_name": last, "dob": dob, "zip": zip5, "ssn4": ssn4})
    tmp.replace(path)
    facts = {"rows": rows, "shared": shared, "sample": sample}
    path.with_suffix(".facts.json").write_text(json.dumps(facts), encoding="utf-8")
    return facts


def cached_csv(rows: int) -> Path:
    path = ROOT / "var" / "bench" / "scale" / f"accounts-{rows}-v{GENERATOR_VERSION}.csv"
    if not path.exists() or not path.with_suffix(".facts.json").exists():
        began = time.perf_counter()
        generate(path, rows)
        print(f"generated {path.name} in {time.perf_counter() - began:.1f}s", flush=True)
    return path


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def child_import(url: str, csv_path: str) -> dict[str, Any]:
    """Run in a child: one import of the file in one transaction, timed, with peak memory."""
    from parley.accounts.importer import import_accounts
    from parley.core.db import make_engine, make_session_factory, transaction
    from parley.negotiation.policies import load_policies

    names = set(load_policies(ROOT / "config" / "policies.yml"))
    engine = make_engine(url)
    with engine.connect():
        pass  # connect (and load the driver) before the baseline is read
    baseline_kb = _rss_kb()
    cpu_began = time.process_time()
    began = time.perf_counter()
    with transaction(make_session_factory(engine)) as session:
        report = import_accounts(session, Path(csv_path), secret=SECRET, policy_names=names)
    seconds = time.perf_counter() - began
    cpu_seconds = time.process_time() - cpu_began
    engine.dispose()
    if report.errors:
        raise SystemExit(f"import rejected: {[str(e) for e in report.errors[:5]]}")
    rows = report.created + report.updated
    return {
        "rows": rows,
        "created": report.created,
        "updated": report.updated,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        # The machine is shared: rows per second of this process's own CPU time is steadier.
        "cpu_seconds": round(cpu_seconds, 2),
        "rows_per_cpu_s": round(rows / cpu_seconds),
        "baseline_rss_mb": round(baseline_kb / 1024, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def child_checks(url: str, facts_path: str, checks: int) -> dict[str, Any]:
    """Run in a child: `check_identity` turns, each in its own committed unit of work."""
    from parley.core.db import make_engine, make_session_factory
    from parley.tables import Channel, Conversation
    from parley.verification.check import check_identity

    facts = json.loads(Path(facts_path).read_text(encoding="utf-8"))
    rng = random.Random(7)
    factory = make_session_factory(make_engine(url))
    per_kind = max(1, checks // 4)

    def wrong_dob(dob: str) -> str:
        return (date.fromisoformat(dob) + timedelta(days=rng.randrange(1, 300))).isoformat()

    def cases() -> list[tuple[str, tuple[str, str, str], str]]:
        plain = rng.sample(facts["sample"]["plain"], per_kind * 2)
        shared = rng.sample(facts["sample"]["shared"], per_kind * 2)
        out = []
        for i in range(per_kind):
            a, b, s, t = plain[i], plain[per_kind + i], shared[i], shared[per_kind + i]
            out.append(("right", (a["last_name"], a["dob"], a["ssn4"] or a["zip"]), "verified"))
            out.append(("wrong", (b["last_name"], wrong_dob(b["dob"]), b["zip"]), "failed"))
            out.append(("shared_right", (s["last_name"], s["dob"], s["zip"]), "verified"))
            out.append(("shared_wrong", (t["last_name"], wrong_dob(t["dob"]), t["zip"]), "failed"))
        rng.shuffle(out)
        return out

    timings: dict[str, list[float]] = {}
    unexpected = 0
    for kind, (last, dob, zip_or_ssn4), expected in cases():
        conversation_id = uuid.uuid4().hex
        with factory.begin() as session:
            session.add(Conversation(id=conversation_id, channel=Channel.WEB))
        began = time.perf_counter()
        with factory.begin() as session:
            result = check_identity(
                session,
                conversation_id=conversation_id,
                last_name=last,
                dob=dob,
                zip_or_ssn4=zip_or_ssn4,
                secret=SECRET,
                max_attempts=3,
                lockout_minutes=30,
            )
        timings.setdefault(kind, []).append((time.perf_counter() - began) * 1000)
        unexpected += result.status != expected
    everything = [value for values in timings.values() for value in values]
    summary = {kind: _percentiles(values) for kind, values in sorted(timings.items())}
    summary["all"] = _percentiles(everything)
    return {"checks": len(everything), "unexpected_results": unexpected, "ms": summary}


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(cut[94] if len(ordered) > 1 else ordered[0], 2),
        "max": round(ordered[-1], 2),
    }


def _child(*args: str) -> dict[str, Any]:
    result = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, __file__, *args], capture_output=True, text=True, timeout=CHILD_TIMEOUT
    )
    if result.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _fresh_sqlite(rows: int) -> str:
    from parley.core.migrations import upgrade_to_head

    path = ROOT / "var" / "bench" / "scale" / f"scale-{rows}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    return url


def _fresh_postgres(admin_url: str, rows: int) -> tuple[str, str]:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    from parley.core.migrations import upgrade_to_head

    name = f"parley_scale_{rows}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade_to_head(url)
    return url, name


def _drop_postgres(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))


def run(sizes: list[int], postgres: str | None, checks: int, reimport: bool) -> dict[str, Any]:
    results: dict[str, Any] = {"import": {}, "checks": {}, "machine": {"cpus": os.cpu_count()}}
    backends = ["sqlite"] + (["postgresql"] if postgres else [])
    largest = max(sizes)
    for backend in backends:
        for rows in sizes:
            path = cached_csv(rows)
            drop = None
            if backend == "sqlite":
                url = _fresh_sqlite(rows)
            else:
                assert postgres is not None  # noqa: S101 - narrowed by `backends`
                url, drop = _fresh_postgres(postgres, rows)
            try:
                entry: dict[str, Any] = {"load": _child("import", url, str(path))}
                print(f"{backend} {rows}: load {entry['load']}", flush=True)
                if reimport and rows != largest:
                    entry["reimport"] = _child("import", url, str(path))
                    print(f"{backend} {rows}: re-import {entry['reimport']}", flush=True)
                if rows == largest and checks:
                    facts = str(path.with_suffix(".facts.json"))
                    results["checks"][backend] = _child("checks", url, facts, str(checks))
                    print(f"{backend} checks: {results['checks'][backend]}", flush=True)
                results["import"].setdefault(backend, {})[str(rows)] = entry
            finally:
                if drop and postgres:
                    _drop_postgres(postgres, drop)
    return results


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("import", "checks"):
        mode, url, path, *rest = sys.argv[1:]
        out = child_import(url, path) if mode == "import" else child_checks(url, path, int(rest[0]))
        print(json.dumps(out))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "scale.json")
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated file sizes")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server to bench on too")
    parser.add_argument("--checks", type=int, default=200, help="identity checks to time")
    parser.add_argument("--no-reimport", action="store_true", help="skip the re-import runs")
    args = parser.parse_args()
    sizes = sorted({int(part) for part in args.rows.split(",") if part.strip()})
    began = time.perf_counter()
    results = run(sizes, args.postgres, args.checks, not args.no_reimport)
    results["seconds"] = round(time.perf_counter() - began, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({results['seconds']}s)")


if __name__ == "__main__":
    main()
