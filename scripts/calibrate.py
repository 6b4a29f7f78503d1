#!/usr/bin/env python
"""Calibrate the dialogue's confidence thresholds (parley/dialogue/heard.py) by cross-validation.

Usage (from the repository root): the model in the Rasa environment (scikit-learn), the
thresholds in the application's (parley/dialogue/heard.py imports the application):

    .venv-rasa/bin/python scripts/calibrate.py [--folds 5] --dump-probs var/results/oof.json
    .venv/bin/python scripts/calibrate.py --probs var/results/oof.json \
        [--json var/results/calibration.json]

Only the training data (data/nlu) is used: it is split into k stratified folds, the pipeline's
intent model (parley/nlu/intent_model.py, configured as in bot/config.yml) is trained on k-1
folds and scores the remaining one, so every training sentence gets an out-of-fold parse. The
parse is made as Rasa makes it (the FallbackClassifier of bot/config.yml included: below its
threshold the top intent is `nlu_fallback` at that threshold), and read by `consequence()` from
parley/dialogue/heard.py with each candidate set of thresholds (ACT, ASK, ASK_SECOND, MARGIN).

For each candidate it reports the consequential recall when acting or asking ("caught"), the
precision of acting, the share acted on at once, and the rate of confirmation questions (or
actions) on non-consequential messages ("false-ask"). Missing a dispute is worse than asking
once, so the pick is: acting precision >= --min-act-precision (0.99), then caught recall >=
--min-caught (0.99) with false-ask <= --max-false-ask (0.03); among those the fewest questions
(false-ask, then consequential messages asked rather than acted on). UNSURE is reported as the
precision and coverage of the top intent above each candidate value.

The held-out and external sets are never used here.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import sys
import time
import warnings
from pathlib import Path

import yaml

try:  # numpy and scikit-learn are in the Rasa environment only (see --dump-probs / --probs)
    import numpy as np
except ImportError:  # pragma: no cover - the application's environment
    np = None

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

try:  # scikit-learn is in the Rasa environment only (see --dump-probs / --probs)
    from parley.nlu.intent_model import DEFAULTS, IntentModel, read_training_data
except ImportError:  # pragma: no cover - the application's environment
    DEFAULTS, IntentModel, read_training_data = {}, None, None

COMPONENT = "bot.nlu_component.ParleyIntentClassifier"


def load_heard():
    path = ROOT / "parley" / "dialogue" / "heard.py"  # needs the application's environment
    spec = importlib.util.spec_from_file_location("parley_dialogue_heard", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def pipeline_config(path: Path) -> tuple[dict, float | None, int]:
    """The intent model's settings and the FallbackClassifier threshold from bot/config.yml."""
    config = yaml.safe_load(path.read_text())
    model, threshold, ranking = None, None, 10
    for step in config.get("pipeline") or []:
        if step.get("name") == COMPONENT:
            model = {k: v for k, v in step.items() if k in DEFAULTS}
            ranking = int(step.get("ranking_length", 10))
        if step.get("name") == "FallbackClassifier":
            threshold = float(step.get("threshold", 0.3))
    if model is None:
        raise SystemExit(f"{path}: no {COMPONENT} in the pipeline")
    return model, threshold, ranking


def stratified_folds(labels: list[str], k: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    offset = 0
    for label in sorted(by_label):
        idx = np.array(by_label[label])
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            folds[(j + offset) % k].append(int(i))
        offset += len(idx)
    return [np.array(sorted(f)) for f in folds]


def out_of_fold(texts, labels, regexes, model_config, k, seed) -> tuple[np.ndarray, list[str]]:
    classes = sorted(set(labels))
    probs = np.zeros((len(texts), len(classes)))
    for n, test in enumerate(stratified_folds(labels, k, seed), 1):
        mask = np.ones(len(texts), bool)
        mask[test] = False
        train = np.flatnonzero(mask)
        started = time.perf_counter()
        model = IntentModel(config=dict(model_config), regexes=list(regexes))
        model.fit([texts[i] for i in train], [labels[i] for i in train])
        p = model.predict_proba([texts[i] for i in test])
        cols = [classes.index(c) for c in model.classes]
        probs[np.ix_(test, cols)] = p
        print(
            f"  fold {n}/{k}: trained and scored in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
    return probs, classes


def parse(
    row: list[float], classes: list[str], text: str, fallback: float | None, ranking_length: int
) -> dict:
    """What Rasa's parse data would be: the ranking, and the FallbackClassifier's rewrite."""
    order = sorted(range(len(row)), key=lambda i: -row[i])[:ranking_length]
    ranking = [{"name": classes[i], "confidence": float(row[i])} for i in order]
    intent = dict(ranking[0])
    if fallback is not None and intent["confidence"] < fallback:
        intent = {"name": "nlu_fallback", "confidence": fallback}
        ranking.insert(0, dict(intent))
    return {"text": text, "intent": intent, "intent_ranking": ranking}


def evaluate(heard_mod, heards, labels, consequential) -> dict:
    n_cons = n_other = caught = acted = acted_ok = acts = asked_cons = other_any = 0
    other_act = 0
    for heard, gold in zip(heards, labels, strict=True):
        reading = heard_mod.consequence(heard)
        if reading.act is not None:
            acts += 1
            acted_ok += reading.act == gold
        if gold in consequential:
            n_cons += 1
            ok_act = reading.act == gold
            ok_ask = reading.act is None and gold in reading.ask
            caught += ok_act or ok_ask
            acted += ok_act
            asked_cons += reading.act is None and bool(reading.ask)
        else:
            n_other += 1
            other_any += reading.any
            other_act += reading.act is not None
    return {
        "caught_recall": caught / n_cons,
        "act_precision": acted_ok / acts if acts else 1.0,
        "acted_share": acted / n_cons,
        "asked_share": asked_cons / n_cons,
        "false_ask": other_any / n_other,
        "false_act": other_act / n_other,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "bot" / "config.yml"))
    ap.add_argument("--data", default=str(ROOT / "data" / "nlu"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-act-precision", type=float, default=0.99)
    ap.add_argument("--min-caught", type=float, default=0.99)
    ap.add_argument("--max-false-ask", type=float, default=0.03)
    ap.add_argument("--json", dest="json_out")
    ap.add_argument(
        "--dump-probs",
        help="(Rasa environment) compute the out-of-fold probabilities, write them here, stop",
    )
    ap.add_argument(
        "--probs",
        help="(application environment) read the --dump-probs file and calibrate on it",
    )
    args = ap.parse_args(argv)

    # parley/dialogue/heard.py imports the application (SQLAlchemy 2), which the Rasa
    # environment does not have; scikit-learn is only in the Rasa environment. So the model is
    # trained and scored there (--dump-probs) and the thresholds are read here (--probs), as
    # scripts/heldout_eval.py does with its parses.
    if args.probs:
        with open(args.probs, encoding="utf-8") as fh:
            saved = json.load(fh)
        probs, classes = saved["probs"], saved["classes"]
        texts, labels, meta = saved["texts"], saved["labels"], saved["meta"]
        model_config, fallback, ranking_length = (
            meta["model"],
            meta["fallback"],
            meta["ranking_length"],
        )
        args.folds, args.seed = meta["folds"], meta["seed"]
    else:
        model_config, fallback, ranking_length = pipeline_config(Path(args.config))
        texts, labels, regexes = read_training_data(Path(args.data))
    print(
        f"{len(texts)} training examples, {len(set(labels))} intents; {args.folds}-fold CV; "
        f"model {model_config}; FallbackClassifier threshold {fallback}"
    )
    if not args.probs:
        probs, classes = out_of_fold(texts, labels, regexes, model_config, args.folds, args.seed)
    if args.dump_probs:
        meta = {
            "model": model_config,
            "fallback": fallback,
            "ranking_length": ranking_length,
            "folds": args.folds,
            "seed": args.seed,
        }
        Path(args.dump_probs).parent.mkdir(parents=True, exist_ok=True)
        saved = {
            "probs": [[round(float(x), 6) for x in row] for row in probs],
            "classes": classes,
            "texts": texts,
            "labels": labels,
            "meta": meta,
        }
        with open(args.dump_probs, "w", encoding="utf-8") as fh:
            json.dump(saved, fh)
        print(f"out-of-fold probabilities written to {args.dump_probs}")
        return 0
    heard_mod = load_heard()
    consequential = tuple(heard_mod.CONSEQUENTIAL)
    heards = [
        heard_mod.Heard.from_parse(parse(row, classes, text, fallback, ranking_length))
        for row, text in zip(probs, texts, strict=True)
    ]
    best = [max(range(len(row)), key=row.__getitem__) for row in probs]
    top = [classes[i] for i in best]
    top_conf = [float(row[i]) for row, i in zip(probs, best, strict=True)]
    accuracy = sum(t == g for t, g in zip(top, labels, strict=True)) / len(labels)
    print(f"out-of-fold top-1 accuracy {accuracy:.3f}")

    per_intent = {}
    for c in consequential:
        tp = sum(t == c and g == c for t, g in zip(top, labels, strict=True))
        per_intent[c] = {
            "recall": tp / max(1, labels.count(c)),
            "precision": tp / max(1, top.count(c)),
        }
        print(
            f"  {c:14s} recall {per_intent[c]['recall']:.3f}  "
            f"precision {per_intent[c]['precision']:.3f}"
        )

    current = {k: getattr(heard_mod, k) for k in ("ACT", "ASK", "ASK_SECOND", "MARGIN", "UNSURE")}
    grid = itertools.product(
        (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.92, 0.95),  # ACT
        (0.1, 0.15, 0.2, 0.25, 0.3, 0.35),  # ASK
        (0.1, 0.15, 0.2, 0.25, 0.3),  # ASK_SECOND
        (0.15, 0.25, 0.35, 0.5),  # MARGIN
    )
    rows = []
    for act, ask, second, margin in grid:
        if not second <= ask < act:
            continue
        heard_mod.ACT, heard_mod.ASK, heard_mod.ASK_SECOND, heard_mod.MARGIN = (
            act,
            ask,
            second,
            margin,
        )
        rows.append(
            {
                "ACT": act,
                "ASK": ask,
                "ASK_SECOND": second,
                "MARGIN": margin,
                **evaluate(heard_mod, heards, labels, consequential),
            }
        )
    for k, v in current.items():
        setattr(heard_mod, k, v)
    at_current = evaluate(heard_mod, heards, labels, consequential)

    def key(r):
        return (r["false_ask"], r["asked_share"])

    ok = [r for r in rows if r["act_precision"] >= args.min_act_precision]
    good = [
        r
        for r in ok
        if r["caught_recall"] >= args.min_caught and r["false_ask"] <= args.max_false_ask
    ]
    if good:
        pick, rule = min(good, key=key), "all targets met"
    else:
        within = [r for r in ok if r["false_ask"] <= args.max_false_ask] or ok or rows
        best = max(r["caught_recall"] for r in within)
        pick = min((r for r in within if r["caught_recall"] >= best - 1e-9), key=key)
        rule = "caught-recall target not met: best caught recall within the false-ask limit"

    # UNSURE: precision and coverage of the top intent at or above each value.
    unsure = []
    for u in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
        sel = [c >= u for c in top_conf]
        hits = [t == g for t, g, s in zip(top, labels, sel, strict=True) if s]
        prec = sum(hits) / len(hits) if hits else 1.0
        unsure.append({"UNSURE": u, "coverage": sum(sel) / len(sel), "precision": prec})

    def show(r):
        return (
            f"ACT {r['ACT']:.2f} ASK {r['ASK']:.2f} ASK_SECOND {r['ASK_SECOND']:.2f} "
            f"MARGIN {r['MARGIN']:.2f} | caught {r['caught_recall']:.3f} "
            f"act-precision {r['act_precision']:.3f} acted {r['acted_share']:.3f} "
            f"false-ask {r['false_ask']:.3f} false-act {r['false_act']:.3f}"
        )

    print(f"\ncurrent heard.py {current}:")
    print(
        "  caught {caught_recall:.3f} act-precision {act_precision:.3f} acted "
        "{acted_share:.3f} false-ask {false_ask:.3f} false-act {false_act:.3f}".format(**at_current)
    )
    print("\nACT (ASK 0.20, ASK_SECOND 0.15, MARGIN 0.25):")
    for r in rows:
        if r["ASK"] == 0.2 and r["ASK_SECOND"] == 0.15 and r["MARGIN"] == 0.25:
            print("  " + show(r))
    print(f"\nASK (ACT {pick['ACT']:.2f}, ASK_SECOND = ASK, MARGIN {pick['MARGIN']:.2f}):")
    for r in rows:
        if (
            r["ACT"] == pick["ACT"]
            and r["ASK_SECOND"] == r["ASK"]
            and r["MARGIN"] == pick["MARGIN"]
        ):
            print("  " + show(r))
    print(
        f"\nMARGIN (ACT {pick['ACT']:.2f} ASK {pick['ASK']:.2f} "
        f"ASK_SECOND {pick['ASK_SECOND']:.2f}):"
    )
    for r in rows:
        if (r["ACT"], r["ASK"], r["ASK_SECOND"]) == (pick["ACT"], pick["ASK"], pick["ASK_SECOND"]):
            print("  " + show(r))
    print("\nUNSURE (top intent at or above):")
    for r in unsure:
        print(f"  {r['UNSURE']:.2f}  coverage {r['coverage']:.3f}  precision {r['precision']:.3f}")
    print(f"\npicked ({rule}):\n  {show(pick)}")

    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "accuracy": accuracy,
                    "per_intent": per_intent,
                    "current": current,
                    "at_current": at_current,
                    "pick": pick,
                    "rule": rule,
                    "grid": rows,
                    "unsure": unsure,
                    "fallback_threshold": fallback,
                    "model": model_config,
                    "folds": args.folds,
                },
                fh,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
