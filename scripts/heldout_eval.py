#!/usr/bin/env python
"""Score the trained Parley NLU model on the held-out debtor sentences (SPEC §11, issue 12).

Usage (from the repository root, in the Rasa environment):

    .venv-rasa/bin/python scripts/heldout_eval.py --model var/models/parley.tar.gz \
        [--data tests/bot/heldout/sentences.jsonl] [--json out.json] \
        [--min-recall 0.97 --min-precision 0.95 --intents dispute hardship ...]

Each line of the data file is a JSON object with `text` and `intent`. The sentences were written
separately from the training data and are never trained on (tests/bot/test_heldout_is_independent.py
checks that no training example repeats or closely paraphrases one).

Two readings are reported:

* strict: the parsed top-1 intent (a `nlu_fallback` counts as wrong), per intent precision,
  recall and F1, and overall accuracy. The gate (`--min-recall`, `--min-precision`) is on these.
* caught: what the dialogue would do with the parse (parley/dialogue/heard.py `consequence`):
  for a consequential sentence, whether the dialogue acts on or asks about the right intent;
  for the other sentences, how often it would ask (false-ask) or act (false-act) on a
  consequential intent.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
warnings.filterwarnings("ignore")

ROOT = Path(__file__).resolve().parents[1]
# The pipeline's custom component (bot/nlu_component.py) is imported from the repository root.
sys.path.insert(0, str(ROOT))
from nlu_eval import quiet_rasa_logs  # noqa: E402 - the script's own folder, beside it

CONSEQUENTIAL = ("dispute", "bankruptcy", "attorney", "stop_contact", "wrong_number", "hardship")


def load_heard():
    """parley.dialogue.heard, the dialogue's reading of a parse. It needs the application's
    environment (.venv), which the Rasa environment does not have: the parses are made in the
    Rasa environment (`--dump-parses`) and scored in the application's (`--parses`)."""
    from parley.dialogue import heard

    return heard


def load_rows(path: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            if "text" not in row or "intent" not in row:
                raise ValueError(f"{path}:{n}: row needs text and intent")
            rows.append(row)
    return rows


async def parse_all(model: str, texts: list[str]) -> list[dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    return [await agent.parse_message(text) for text in texts]


def without_card_details(heard_mod, heard):
    """parley/dialogue/respond.py reads a `card_details` guess by its next-best intent (only the
    gateway's trigger means a card number); the same here."""
    if heard.intent != "card_details":
        return heard
    ranking = tuple((n, s) for n, s in heard.ranking if n != "card_details")
    top, confidence = ranking[0] if ranking else ("nlu_fallback", 0.0)
    return heard_mod.Heard(top, confidence, heard.text, ranking, heard.entities)


def score(rows: list[dict], parses: list[dict], heard_mod, consequential: tuple[str, ...]) -> dict:
    gold = [r["intent"] for r in rows]
    pred = [(p.get("intent") or {}).get("name") or "None" for p in parses]
    labels = sorted(set(gold) | set(pred))
    per: dict[str, dict] = {}
    for label in labels:
        tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
        n_gold = sum(g == label for g in gold)
        n_pred = sum(p == label for p in pred)
        precision = tp / n_pred if n_pred else (1.0 if not n_gold else 0.0)
        recall = tp / n_gold if n_gold else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[label] = {
            "support": n_gold,
            "predicted": n_pred,
            "correct": tp,
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(rows)

    caught: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    other = collections.Counter()
    misses, false_asks = [], []
    for row, parse in zip(rows, parses, strict=True):
        heard = without_card_details(heard_mod, heard_mod.Heard.from_parse(parse))
        reading = heard_mod.consequence(heard)
        g = row["intent"]
        if g in consequential:
            c = caught[g]
            c["n"] += 1
            acted = reading.act == g
            asked = reading.act is None and g in reading.ask
            c["act"] += acted
            c["ask"] += asked
            c["caught"] += acted or asked
            c["wrong_act"] += reading.act is not None and reading.act != g
            if not (acted or asked):
                misses.append(
                    {
                        "text": row["text"],
                        "intent": g,
                        "act": reading.act,
                        "ask": list(reading.ask),
                        "top": heard.intent,
                        "confidence": round(heard.confidence, 3),
                    }
                )
        else:
            other["n"] += 1
            other["ask"] += reading.act is None and bool(reading.ask)
            other["act"] += reading.act is not None
            if reading.any:
                false_asks.append(
                    {
                        "text": row["text"],
                        "intent": g,
                        "act": reading.act,
                        "ask": list(reading.ask),
                        "top": heard.intent,
                        "confidence": round(heard.confidence, 3),
                    }
                )
    caught_out = {
        g: {
            "n": c["n"],
            "caught_recall": c["caught"] / c["n"],
            "acted": c["act"] / c["n"],
            "asked": c["ask"] / c["n"],
            "wrong_act": c["wrong_act"],
        }
        for g, c in caught.items()
    }
    all_n = sum(c["n"] for c in caught.values())
    all_caught = sum(c["caught"] for c in caught.values())
    errors = [
        {
            "text": r["text"],
            "intent": r["intent"],
            "predicted": p,
            "confidence": round(float((x.get("intent") or {}).get("confidence") or 0.0), 3),
        }
        for r, p, x in zip(rows, pred, parses, strict=True)
        if r["intent"] != p
    ]
    return {
        "rows": len(rows),
        "accuracy": accuracy,
        "per_intent": per,
        "caught": caught_out,
        "caught_recall_all": all_caught / all_n if all_n else 1.0,
        "non_consequential": other["n"],
        "false_ask_rate": other["ask"] / other["n"] if other["n"] else 0.0,
        "false_act_rate": other["act"] / other["n"] if other["n"] else 0.0,
        "false_asks": false_asks,
        "caught_misses": misses,
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="var/models/parley.tar.gz")
    ap.add_argument("--data", default="tests/bot/heldout/sentences.jsonl")
    ap.add_argument("--json", dest="json_out", help="write the figures to this JSON file")
    ap.add_argument("--errors", type=int, default=0, help="list this many misread sentences")
    ap.add_argument(
        "--dump-parses",
        help="(Rasa environment) parse every sentence with --model, write them here and stop",
    )
    ap.add_argument(
        "--parses",
        help="(application environment) score the parses written by --dump-parses",
    )
    ap.add_argument(
        "--intents",
        nargs="+",
        default=list(CONSEQUENTIAL),
        help="the consequential intents the gate applies to",
    )
    ap.add_argument(
        "--min-recall",
        type=float,
        default=None,
        help="exit 1 when a gated intent's strict recall is below this",
    )
    ap.add_argument(
        "--min-precision",
        type=float,
        default=None,
        help="exit 1 when a gated intent's strict precision is below this",
    )
    args = ap.parse_args(argv)

    inputs = [("data", args.data)]
    inputs.append(("parses", args.parses) if args.parses else ("model", args.model))
    for label, path in inputs:
        if not os.path.isfile(path):
            print(f"error: {label} file not found: {path}", file=sys.stderr)
            return 2

    quiet_rasa_logs()

    rows = load_rows(args.data)
    started = time.perf_counter()
    if args.parses:
        with open(args.parses, encoding="utf-8") as fh:
            parses = json.load(fh)
        if len(parses) != len(rows):
            print(f"error: {args.parses} holds {len(parses)} parses for {len(rows)} rows")
            return 2
    else:
        parses = asyncio.run(parse_all(args.model, [r["text"] for r in rows]))
    elapsed = max(time.perf_counter() - started, 1e-9)
    if args.dump_parses:
        Path(args.dump_parses).parent.mkdir(parents=True, exist_ok=True)
        with open(args.dump_parses, "w", encoding="utf-8") as fh:
            json.dump(parses, fh)
        print(f"{len(parses)} parses written to {args.dump_parses}")
        return 0
    heard_mod = load_heard()
    gated = tuple(args.intents)
    result = score(rows, parses, heard_mod, tuple(CONSEQUENTIAL))

    print(f"rows: {result['rows']}; {len(rows) / elapsed:.0f} parses/s")
    print(f"overall accuracy (strict top-1): {result['accuracy']:.1%}")
    print(
        f"\n{'intent':24s} {'n':>4s} {'prec':>6s} {'recall':>6s} {'f1':>6s}   "
        f"{'caught':>6s} {'acted':>6s} {'asked':>6s}"
    )
    for label, m in sorted(
        result["per_intent"].items(), key=lambda kv: (kv[0] not in gated, kv[0])
    ):
        c = result["caught"].get(label)
        extra = f"   {c['caught_recall']:6.1%} {c['acted']:6.1%} {c['asked']:6.1%}" if c else ""
        mark = "*" if label in gated else " "
        print(
            f"{mark}{label:23s} {m['support']:4d} {m['precision']:6.1%} {m['recall']:6.1%} "
            f"{m['f1']:6.1%}{extra}"
        )
    print(
        f"\nconsequential caught recall (act or ask on the right intent): "
        f"{result['caught_recall_all']:.1%}"
    )
    print(
        f"non-consequential sentences: {result['non_consequential']}; false-ask "
        f"{result['false_ask_rate']:.1%}, false-act {result['false_act_rate']:.1%}"
    )
    if args.errors:
        print("\nmisread (strict):")
        for e in result["errors"][: args.errors]:
            print(f"  {e['intent']:20s} -> {e['predicted']:20s} {e['confidence']:.2f}  {e['text']}")
        print("\nconsequential not caught:")
        for e in result["caught_misses"][: args.errors]:
            print(f"  {e['intent']:14s} top {e['top']} {e['confidence']:.2f}  {e['text']}")
        print("\nfalse asks/acts:")
        for e in result["false_asks"][: args.errors]:
            print(f"  {e['intent']:14s} act={e['act']} ask={e['ask']}  {e['text']}")

    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)

    failed = False
    for label in gated:
        m = result["per_intent"].get(label)
        if m is None:
            print(f"FAIL: no held-out sentences for {label}", file=sys.stderr)
            failed = True
            continue
        if args.min_recall is not None and m["recall"] < args.min_recall:
            print(
                f"FAIL: {label} recall {m['recall']:.1%} < {args.min_recall:.1%}", file=sys.stderr
            )
            failed = True
        if args.min_precision is not None and m["precision"] < args.min_precision:
            print(
                f"FAIL: {label} precision {m['precision']:.1%} < {args.min_precision:.1%}",
                file=sys.stderr,
            )
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
