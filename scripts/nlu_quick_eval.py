#!/usr/bin/env python
"""Train the intent model in-process and print the evaluation sets' aggregate figures only.

Usage (from the repository root, in the Rasa environment):

    .venv-rasa/bin/python scripts/nlu_quick_eval.py [--variant '{"C": 60}']

A faster stand-in for `make nlu-eval` while working (no `rasa train`, no Rasa parse): the same
parley/nlu/intent_model.py model, trained on data/nlu with bot/config.yml's settings, the
FallbackClassifier's threshold applied. It prints only per-intent / per-category figures and
confusion counts, never a sentence of the held-out or external sets (they are for measuring
only: their sentences must not guide the writing of training data). The final figures are
those of `make nlu-eval` on the trained Rasa model.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from calibrate import pipeline_config  # noqa: E402
from nlu_eval import category  # noqa: E402

from parley.nlu.intent_model import IntentModel, read_training_data  # noqa: E402

# ../shared from the main checkout; /work/shared from a worktree.
EXTERNAL = (
    next(
        (
            p
            for p in (ROOT.parent / "shared", Path("/work/shared"))
            if (p / "eval" / "nlu-external.jsonl").is_file()
        ),
        ROOT.parent / "shared",
    )
    / "eval"
    / "nlu-external.jsonl"
)
CONSEQUENTIAL = ("dispute", "bankruptcy", "attorney", "stop_contact", "wrong_number", "hardship")


def read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def predict(model: IntentModel, texts: list[str], fallback: float) -> list[str]:
    probs = model.predict_proba(texts)
    return [
        model.classes[int(row.argmax())] if row.max() >= fallback else "nlu_fallback"
        for row in probs
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "bot" / "config.yml"))
    ap.add_argument("--data", default=str(ROOT / "data" / "nlu"))
    ap.add_argument("--external", default=str(EXTERNAL))
    heldout = ROOT / "tests" / "bot" / "heldout" / "sentences.jsonl"
    ap.add_argument("--heldout", default=str(heldout))
    ap.add_argument("--variant", default="{}", help="JSON settings over bot/config.yml's")
    ap.add_argument("--categories", action="store_true", help="external per-category figures")
    args = ap.parse_args(argv)

    base, fallback, _ = pipeline_config(Path(args.config))
    config = {**base, **json.loads(args.variant)}
    texts, labels, regexes = read_training_data(Path(args.data))
    started = time.perf_counter()
    model = IntentModel(config=config, regexes=regexes).fit(texts, labels)
    print(f"{len(texts)} examples; trained in {time.perf_counter() - started:.1f}s; {config}")

    ext = read_jsonl(args.external)
    pred = predict(model, [r["text"] for r in ext], fallback or 0.0)
    ins = [(r, p) for r, p in zip(ext, pred, strict=True) if "expected" in r]
    oos = [(r, p) for r, p in zip(ext, pred, strict=True) if "expected" not in r]
    ok = sum(p in r["expected"] for r, p in ins)
    bad = sum(p in r["forbidden"] for r, p in oos)
    print(
        f"external in-scope {ok / len(ins):.3f} ({ok}/{len(ins)}), "
        f"forbidden {bad / len(oos):.3f} ({bad}/{len(oos)})"
    )
    if args.categories:
        cats: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for r, p in ins:
            c = cats[category(r.get("source", "?"))]
            c["n"] += 1
            c["ok"] += p in r["expected"]
            if p not in r["expected"]:
                c["->" + p] += 1
        for name, c in sorted(cats.items()):
            wrong = {k[2:]: v for k, v in c.most_common() if k.startswith("->")}
            print(f"  {name:45s} {c['ok']:3d}/{c['n']:<3d} {wrong}")
        forb = collections.Counter(p for r, p in oos if p in r["forbidden"])
        print(f"  forbidden predicted as: {dict(forb.most_common())}")

    held = read_jsonl(args.heldout)
    gold = [r["intent"] for r in held]
    pred = predict(model, [r["text"] for r in held], fallback or 0.0)
    acc = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(held)
    print(f"held-out accuracy {acc:.3f} ({len(held)})")
    for c in CONSEQUENTIAL:
        tp = sum(g == c and p == c for g, p in zip(gold, pred, strict=True))
        n_gold, n_pred = gold.count(c), pred.count(c)
        pairs = list(zip(gold, pred, strict=True))
        missed = collections.Counter(p for g, p in pairs if g == c and p != c)
        false = collections.Counter(g for g, p in pairs if p == c and g != c)
        print(
            f"  {c:13s} P {tp / max(1, n_pred):.3f} R {tp / max(1, n_gold):.3f} "
            f"(n {n_gold}) missed->{dict(missed)} false<-{dict(false)}"
        )
    others = collections.Counter(
        (g, p)
        for g, p in zip(gold, pred, strict=True)
        if g != p and g not in CONSEQUENTIAL and p not in CONSEQUENTIAL
    )
    print(f"  other confusions: {dict(others.most_common(12))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
