#!/usr/bin/env python
"""Compare intent-model configurations by k-fold cross-validation on the training data.

Usage (from the repository root, in the Rasa environment or any env with scikit-learn):

    .venv-rasa/bin/python scripts/nlu_compare.py [--folds 5] \
        --variant base '{}' --variant c60 '{"C": 60}' ...

Each variant is a JSON object of `parley.nlu.intent_model.IntentModel` settings laid over the
pipeline's (bot/config.yml). Only data/nlu is used (stratified folds, the same split for every
variant): out-of-fold top-1 accuracy, the share below the FallbackClassifier threshold (would be
`nlu_fallback`), and strict precision/recall of the consequential intents with the fallback
applied, as the held-out gate reads them. The held-out and external sets are never read here.

`--confusions` also prints, per consequential intent, which intents its out-of-fold misses went
to and which intents were misread as it (counts only), to decide where new data is needed.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from calibrate import pipeline_config, stratified_folds  # noqa: E402

from parley.nlu.intent_model import IntentModel, read_training_data  # noqa: E402

CONSEQUENTIAL = ("dispute", "bankruptcy", "attorney", "stop_contact", "wrong_number", "hardship")


def out_of_fold(texts, labels, regexes, config, k, seed):
    classes = sorted(set(labels))
    probs = np.zeros((len(texts), len(classes)))
    seconds = 0.0
    for test in stratified_folds(labels, k, seed):
        mask = np.ones(len(texts), bool)
        mask[test] = False
        train = np.flatnonzero(mask)
        started = time.perf_counter()
        model = IntentModel(config=dict(config), regexes=list(regexes))
        model.fit([texts[i] for i in train], [labels[i] for i in train])
        p = model.predict_proba([texts[i] for i in test])
        seconds += time.perf_counter() - started
        cols = [classes.index(c) for c in model.classes]
        probs[np.ix_(test, cols)] = p
    return probs, classes, seconds / k


def figures(probs, classes, labels, fallback):
    top = [classes[i] for i in probs.argmax(1)]
    conf = probs.max(1)
    pred = [t if c >= (fallback or 0.0) else "nlu_fallback" for t, c in zip(top, conf, strict=True)]
    out = {
        "accuracy": float(np.mean([t == g for t, g in zip(top, labels, strict=True)])),
        "strict": float(np.mean([p == g for p, g in zip(pred, labels, strict=True)])),
        "below": float(np.mean(conf < (fallback or 0.0))),
    }
    for c in CONSEQUENTIAL:
        tp = sum(p == c and g == c for p, g in zip(pred, labels, strict=True))
        out[c] = (tp / max(1, pred.count(c)), tp / max(1, labels.count(c)))
    return out, pred


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "bot" / "config.yml"))
    ap.add_argument("--data", default=str(ROOT / "data" / "nlu"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "JSON"))
    ap.add_argument("--confusions", action="store_true")
    args = ap.parse_args(argv)

    base, fallback, _ = pipeline_config(Path(args.config))
    texts, labels, regexes = read_training_data(Path(args.data))
    print(f"{len(texts)} examples, {len(set(labels))} intents, {args.folds}-fold, base {base}")
    head = "".join(f" {c[:12]:>12s}" for c in CONSEQUENTIAL)
    print(f"{'variant':18s} {'acc':>6s} {'strict':>6s} {'<thr':>6s}{head}  s/fold")
    for name, overrides in args.variant or [("current", "{}")]:
        config = {**base, **json.loads(overrides)}
        probs, classes, seconds = out_of_fold(texts, labels, regexes, config, args.folds, args.seed)
        f, pred = figures(probs, classes, labels, fallback)
        cells = "".join(f"    {f[c][0]:.3f}/{f[c][1]:.3f}"[-13:] for c in CONSEQUENTIAL)
        print(
            f"{name:18s} {f['accuracy']:6.3f} {f['strict']:6.3f} {f['below']:6.3f}{cells}"
            f"  {seconds:.1f}",
            flush=True,
        )
        if args.confusions:
            for c in CONSEQUENTIAL:
                missed = collections.Counter(
                    p for p, g in zip(pred, labels, strict=True) if g == c and p != c
                )
                false = collections.Counter(
                    g for p, g in zip(pred, labels, strict=True) if p == c and g != c
                )
                print(f"   {c}: missed -> {dict(missed.most_common(6))}")
                print(f"   {c}: false  <- {dict(false.most_common(6))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
