"""parley.nlu.intent_model: what is stored is what was trained, with every feature block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parley.nlu.intent_model import IntentModel

TEXTS = [
    "that is not my debt",
    "this isnt mine",
    "i never had this account",
    "wrong number, no one by that name here",
    "you texted the wrong person",
    "i just got this phone number",
    "how much do i owe",
    "whats my balance",
    "what is the total on my bill",
]
LABELS = ["dispute"] * 3 + ["wrong_number"] * 3 + ["ask_balance"] * 3
PROBES = ["not mine", "wrong numbr", "how much is my bil", "", "$$$ 12/12 94107", "ÁÉ ñ"]


@pytest.mark.parametrize(("cross", "negation"), [(None, 0), ([3, 5], 0), ([3, 5], 3)])
def test_saved_model_scores_as_the_trained_one(
    tmp_path: Path, cross: list[int] | None, negation: int
) -> None:
    config = {
        "word_ngrams": [1, 2],
        "char_ngrams": [2, 5],
        "cross_ngrams": cross,
        "C": 30.0,
        "negation_window": negation,
    }
    regexes = [("amount", r"\$\d+")]
    trained = IntentModel(config=config, regexes=regexes).fit(TEXTS, LABELS)
    trained.save(tmp_path)
    loaded = IntentModel.load(tmp_path)
    assert loaded.classes == ["ask_balance", "dispute", "wrong_number"]
    assert np.abs(loaded.predict_proba(PROBES) - trained.predict_proba(PROBES)).max() < 1e-12
    # The per-message scoring equals the sparse product over every block, the cross-word block
    # included when it is configured (it adds columns to the feature matrix).
    X = loaded.features(PROBES)
    assert loaded.coef is not None and loaded.intercept is not None
    linear = np.asarray(X @ loaded.coef.T, dtype=np.float64) + loaded.intercept
    sparse = 1.0 / (1.0 + np.exp(-linear))
    sparse /= sparse.sum(axis=1, keepdims=True)
    assert np.abs(loaded.predict_proba(PROBES) - sparse).max() < 1e-12
    plain = IntentModel(config={**config, "cross_ngrams": None}, regexes=regexes)
    widths = X.shape[1], plain.fit(TEXTS, LABELS).features(PROBES).shape[1]
    assert (widths[0] > widths[1]) == (cross is not None)
    assert loaded.predict_proba(["this is not my debt"])[0].argmax() == 1


def test_negation_marks_the_words_after_a_negator_within_its_window() -> None:
    model = IntentModel(config={"word_ngrams": [1, 1], "negation_window": 2})
    (words,) = model._word_docs(["I DON'T recognise this charge at all"])
    assert words[:7] == ["i", "don't", "recognise", "this", "charge", "at", "all"]
    assert words[7:] == ["not_recognise", "not_this"]
    (asked,) = model._word_docs(["not mine? what is it"])
    assert asked[-1] == "not_mine"  # a question mark ends the scope
    (plain,) = IntentModel(config={"word_ngrams": [1, 1]})._word_docs(["i can't pay that"])
    assert plain == ["i", "can't", "pay", "that"]  # off by default: older models score the same
