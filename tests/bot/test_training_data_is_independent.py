"""SPEC §11: the external evaluation set is for measuring only.

No training example may repeat an evaluation sentence or be a close paraphrase of one (token
Jaccard similarity of 0.75 or more), so the reported accuracy is accuracy on unseen phrasings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EVAL_FILE = ROOT.parent / "shared" / "eval" / "nlu-external.jsonl"
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]+\)|\{[^}]+\})")
THRESHOLD = 0.75


def tokens(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z']+", text.lower()))


def training_examples() -> list[str]:
    examples = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text())["nlu"]:
            for line in (item.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.append(ANNOTATION.sub(r"\1", line[2:]))
    return examples


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b)


def test_no_training_example_is_an_evaluation_sentence_or_close_paraphrase() -> None:
    assert EVAL_FILE.exists(), f"evaluation set missing: {EVAL_FILE}"
    evaluation = [tokens(json.loads(line)["text"]) for line in EVAL_FILE.open()]
    evaluation = [e for e in evaluation if len(e) >= 2]
    examples = training_examples()
    assert len(examples) > 1000
    close = [
        text
        for text in examples
        if (t := tokens(text)) and any(jaccard(t, e) >= THRESHOLD for e in evaluation)
    ]
    assert close == []


def test_the_similarity_check_catches_a_copy() -> None:
    copied = tokens("I would like to pay my gas bill, please")
    assert jaccard(copied, tokens("i would like to pay my gas bill please")) >= THRESHOLD
    assert jaccard(copied, tokens("how much do i owe")) < THRESHOLD
