#!/usr/bin/env python
"""Measure the trained Parley NLU model on an external labelled set (SPEC §11).

Usage (from the repository root, in the Rasa environment):

    .venv-rasa/bin/python scripts/nlu_eval.py --model var/models/parley.tar.gz \
        --data ../shared/eval/nlu-external.jsonl [--json out.json]

Each line of the data file is a JSON object with `text`, `source` and either
`expected` (in-scope: correct when the predicted intent is one of them) or
`forbidden` (out-of-scope: a failure when the predicted intent is one of them).
A prediction of `nlu_fallback` counts as `nlu_fallback`: wrong for an in-scope row,
not forbidden for an out-of-scope row.

The file is for measuring only: never copy its sentences into the training data.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import os
import sys
import time
import warnings

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
warnings.filterwarnings("ignore")
# The pipeline's custom component (bot/nlu_component.py) is imported from the repository root.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def quiet_rasa_logs() -> None:
    """Rasa's structured debug log would echo every evaluated sentence (also used by
    scripts/heldout_eval.py)."""
    logging.basicConfig(level=logging.ERROR)
    for name in ("rasa", "tensorflow", "absl", "urllib3", "asyncio"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import structlog

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    except ImportError:  # pragma: no cover
        pass


def load_rows(path: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            if "text" not in row or not ("expected" in row or "forbidden" in row):
                raise ValueError(f"{path}:{n}: row needs text and expected/forbidden")
            rows.append(row)
    return rows


def category(source: str) -> str:
    # "clinc150:test:pay_bill" -> "clinc150:pay_bill"; "clinc150:oos_test" -> "clinc150:oos"
    parts = source.split(":")
    if len(parts) >= 3:
        return f"{parts[0]}:{parts[-1]}"
    if parts[-1].startswith("oos"):
        return f"{parts[0]}:oos"
    return source


async def predict_all(model: str, texts: list[str]) -> list[tuple[str, float]]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    out = []
    for text in texts:
        parsed = await agent.parse_message(text)
        intent = parsed.get("intent") or {}
        ranking = [r for r in parsed.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
        top = ranking[0] if ranking else intent
        out.append(
            (
                intent.get("name") or "None",
                float(intent.get("confidence") or 0.0),
                top.get("name") or "None",
                float(top.get("confidence") or 0.0),
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="var/models/parley.tar.gz")
    ap.add_argument("--data", default="../shared/eval/nlu-external.jsonl")
    ap.add_argument("--json", dest="json_out", help="write the figures to this JSON file")
    ap.add_argument("--top", type=int, default=15, help="how many confusions to list")
    ap.add_argument(
        "--sweep",
        action="store_true",
        help="also report the figures for other FallbackClassifier thresholds",
    )
    ap.add_argument(
        "--min-in-scope",
        type=float,
        default=None,
        help="exit 1 when the in-scope accuracy is below this share (e.g. 0.85)",
    )
    ap.add_argument(
        "--max-forbidden",
        type=float,
        default=None,
        help="exit 1 when the forbidden rate on out-of-scope rows is above this share",
    )
    args = ap.parse_args(argv)

    for label, path in (("data", args.data), ("model", args.model)):
        if not os.path.isfile(path):
            print(f"error: {label} file not found: {path}", file=sys.stderr)
            return 2

    quiet_rasa_logs()

    rows = load_rows(args.data)
    started = time.perf_counter()
    preds = asyncio.run(predict_all(args.model, [r["text"] for r in rows]))
    elapsed = time.perf_counter() - started

    per_cat: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    confusions: collections.Counter = collections.Counter()
    in_total = in_ok = oos_total = oos_bad = oos_fallback = 0
    for row, (pred, _conf, _top, _top_conf) in zip(rows, preds, strict=True):
        cat = category(row.get("source", "?"))
        c = per_cat[cat]
        c["n"] += 1
        if "expected" in row:
            in_total += 1
            ok = pred in row["expected"]
            in_ok += ok
            c["ok"] += ok
            if not ok:
                confusions[(cat, pred)] += 1
        else:
            oos_total += 1
            bad = pred in row["forbidden"]
            oos_bad += bad
            c["forbidden"] += bad
            oos_fallback += pred == "nlu_fallback"
            c[f"pred:{pred}"] += 1
            if bad:
                confusions[(cat, pred)] += 1

    in_acc = in_ok / in_total if in_total else 0.0
    forbidden_rate = oos_bad / oos_total if oos_total else 0.0

    print(
        f"rows: {len(rows)} (in-scope {in_total}, out-of-scope {oos_total}); "
        f"{len(rows) / elapsed:.0f} parses/s"
    )
    print(f"in-scope accuracy:        {in_acc:.1%} ({in_ok}/{in_total})")
    print(
        f"out-of-scope forbidden:   {forbidden_rate:.1%} ({oos_bad}/{oos_total}); "
        f"nlu_fallback {oos_fallback}"
    )
    print("\nper category:")
    for cat in sorted(per_cat):
        c = per_cat[cat]
        if "ok" in c or cat not in ("clinc150:oos",) and c.get("forbidden") is None:
            print(f"  {cat:55s} {c['ok']:4d}/{c['n']:<4d} {c['ok'] / c['n']:.0%}")
        else:
            top = ", ".join(f"{k[5:]} {v}" for k, v in c.most_common() if k.startswith("pred:"))[
                :160
            ]
            print(f"  {cat:55s} forbidden {c['forbidden']}/{c['n']}  [{top}]")
    print("\nworst confusions (category -> predicted):")
    for (cat, pred), n in confusions.most_common(args.top):
        print(f"  {n:4d}  {cat} -> {pred}")

    if args.sweep:
        print("\nthreshold sweep (top intent below the threshold -> nlu_fallback):")
        for thr in (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
            ok = bad = 0
            for row, (_p, _c, top, conf) in zip(rows, preds, strict=True):
                pred = top if conf >= thr else "nlu_fallback"
                if "expected" in row:
                    ok += pred in row["expected"]
                else:
                    bad += pred in row["forbidden"]
            in_rate, bad_rate = ok / max(in_total, 1), bad / max(oos_total, 1)
            print(f"  {thr:4.2f}  in-scope {in_rate:6.1%}  forbidden {bad_rate:5.1%}")

    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "in_scope_accuracy": in_acc,
                    "in_scope_correct": in_ok,
                    "in_scope_total": in_total,
                    "forbidden_rate": forbidden_rate,
                    "forbidden": oos_bad,
                    "out_of_scope_total": oos_total,
                    "out_of_scope_fallback": oos_fallback,
                    "per_category": {k: dict(v) for k, v in per_cat.items()},
                    "confusions": [
                        {"category": c, "predicted": p, "count": n}
                        for (c, p), n in confusions.most_common()
                    ],
                },
                fh,
                indent=2,
            )
    failed = False
    if args.min_in_scope is not None and in_acc < args.min_in_scope:
        print(f"FAIL: in-scope accuracy {in_acc:.1%} < {args.min_in_scope:.1%}", file=sys.stderr)
        failed = True
    if args.max_forbidden is not None and forbidden_rate > args.max_forbidden:
        print(
            f"FAIL: forbidden rate {forbidden_rate:.1%} > {args.max_forbidden:.1%}", file=sys.stderr
        )
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
