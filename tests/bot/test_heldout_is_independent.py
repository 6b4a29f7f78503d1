"""Issue 12: the held-out debtor sentences (tests/bot/heldout/sentences.jsonl) are never trained on.

Same rule as for the external set (test_training_data_is_independent.py): no training example may
repeat a held-out sentence or be a close paraphrase of one (token Jaccard similarity of 0.75 or
more). Held-out sentences of a single distinct word ("hi", "stop", "hernandez") are left out, as
in the external check: a one-word reply cannot be kept out of the training data.
"""

from __future__ import annotations

import json

from tests.bot.test_training_data_is_independent import (
    ROOT,
    THRESHOLD,
    jaccard,
    tokens,
    training_examples,
)

HELDOUT_FILE = ROOT / "tests" / "bot" / "heldout" / "sentences.jsonl"


def heldout_rows() -> list[dict]:
    return [json.loads(line) for line in HELDOUT_FILE.open() if line.strip()]


def test_the_heldout_set_is_large_enough() -> None:
    rows = heldout_rows()
    assert len(rows) >= 600
    assert all(row.get("text") and row.get("intent") for row in rows)


def test_no_training_example_is_a_heldout_sentence_or_close_paraphrase() -> None:
    heldout = [t for row in heldout_rows() if len(t := tokens(row["text"])) >= 2]
    close = [
        text
        for text in training_examples()
        if (t := tokens(text)) and any(jaccard(t, h) >= THRESHOLD for h in heldout)
    ]
    assert close == []
