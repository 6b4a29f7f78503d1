"""parley.nlu.parse: the parse of the trained model archive made without Rasa, checked against
Rasa's own `/model/parse` of the same model, sentence by sentence."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest

from devstack.stack import MODEL, Stack
from parley.nlu.parse import FALLBACK_INTENT, ModelUnavailable, Understanding

HELDOUT = Path(__file__).parents[1] / "bot" / "heldout" / "sentences.jsonl"


@pytest.fixture(scope="module")
def understanding() -> Understanding:
    return Understanding.from_archive(MODEL)


def test_the_archive_gives_the_pipeline_as_trained(understanding: Understanding) -> None:
    meta = json.loads(_member(MODEL, "metadata.json"))
    nodes = meta["predict_schema"]["nodes"]
    fallback = next(n for n in nodes.values() if n["uses"].endswith("FallbackClassifier"))
    assert understanding.fallback_threshold == fallback["config"]["threshold"]
    assert {"dispute", "affirm", "restart", "nlu_fallback"} <= understanding.intents
    assert "zip_code" in understanding.entities
    assert set(understanding.model.classes) <= understanding.intents


def test_a_command_is_its_intent_at_full_confidence(understanding: Understanding) -> None:
    parsed = understanding.parse('  /dispute{"sub_reason": "not_mine", "date": "2026-01-02"}  ')
    assert parsed["intent"] == {"name": "dispute", "confidence": 1.0}
    assert parsed["intent_ranking"] == [{"name": "dispute", "confidence": 1.0}]
    # only the entities the domain declares, as Rasa (the dialogue reads the rest from the text)
    assert parsed["entities"] == [{"entity": "date", "value": "2026-01-02"}]
    assert parsed["text"].startswith("/dispute{")


def test_an_unknown_command_is_read_as_text(understanding: Understanding) -> None:
    parsed = understanding.parse("/no_such_intent")
    assert parsed["intent"]["name"] != "no_such_intent"
    assert len(parsed["intent_ranking"]) == understanding.ranking_length


def test_below_the_threshold_is_the_fallback_first_in_the_ranking(
    understanding: Understanding,
) -> None:
    strict = replace(understanding, fallback_threshold=0.999)  # nothing is that sure
    parsed = strict.parse("i think so maybe")
    assert parsed["intent"] == {"name": FALLBACK_INTENT, "confidence": 0.999}
    ranking = parsed["intent_ranking"]
    assert ranking[0] == parsed["intent"]
    assert ranking[1:] == understanding.parse("i think so maybe")["intent_ranking"]
    assert len(ranking) == understanding.ranking_length + 1


def test_too_close_a_second_is_the_fallback(understanding: Understanding) -> None:
    ambiguous = replace(understanding, fallback_threshold=0.0, ambiguity_threshold=1.0)
    assert ambiguous.parse("hello")["intent"]["name"] == FALLBACK_INTENT
    assert understanding.parse("hello")["intent"]["name"] == "greet"


def test_a_sure_message_keeps_its_ranking(understanding: Understanding) -> None:
    parsed = understanding.parse("hello")
    assert parsed["intent"]["name"] == "greet"
    confidences = [r["confidence"] for r in parsed["intent_ranking"]]
    assert confidences == sorted(confidences, reverse=True)
    assert len(confidences) == understanding.ranking_length


def test_a_missing_archive_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="nothing.tar.gz"):
        Understanding.from_archive(tmp_path / "nothing.tar.gz")


def test_an_archive_without_parleys_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        data = b'{"predict_schema": {"nodes": {}}}'
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    with pytest.raises(ModelUnavailable, match="no Parley intent model"):
        Understanding.from_archive(path)


def test_scoring_one_message_is_the_sparse_product(understanding: Understanding) -> None:
    """The per-message scoring (`_linear`) against the model's feature matrix times its
    coefficients, on every held-out sentence: the same probabilities to 1e-12."""
    model = understanding.model
    texts = [json.loads(line)["text"] for line in HELDOUT.read_text().splitlines() if line]
    texts += ["", "   ", "$$$ 12/12/2024 94107", "ÁÉÍ ñ", "a" * 500]
    assert model.coef is not None and model.intercept is not None
    linear = np.asarray(model.features(texts) @ model.coef.T, dtype=np.float64)
    linear += model.intercept
    sparse = 1.0 / (1.0 + np.exp(-linear))
    sparse /= sparse.sum(axis=1, keepdims=True)
    assert np.abs(model.predict_proba(texts) - sparse).max() < 1e-12


@pytest.mark.stack
def test_the_same_parse_as_rasas_server(stack: Stack, understanding: Understanding) -> None:
    """Every held-out sentence and a few commands: the same intent, the same ranking, the same
    confidences as Rasa's `/model/parse` of the same model (one shard of the running stack)."""
    texts = [json.loads(line)["text"] for line in HELDOUT.read_text().splitlines() if line]
    texts += ["/affirm", '/dispute{"sub_reason": "not_mine"}', "/no_such_intent", "  hi  ", "?"]
    url = stack.rasa_url.split(",")[0]
    token = stack.env["PARLEY_RASA_TOKEN"]
    different = []
    with httpx.Client(timeout=30) as client:
        for text in texts:
            rasa = client.post(f"{url}/model/parse", params={"token": token}, json={"text": text})
            rasa.raise_for_status()
            theirs, ours = rasa.json(), understanding.parse(text)
            same = (
                theirs["intent"]["name"] == ours["intent"]["name"]
                and theirs["intent"]["confidence"] == pytest.approx(ours["intent"]["confidence"])
                and [r["name"] for r in theirs["intent_ranking"]]
                == [r["name"] for r in ours["intent_ranking"]]
                and [r["confidence"] for r in theirs["intent_ranking"]]
                == pytest.approx([r["confidence"] for r in ours["intent_ranking"]])
            )
            if not same:
                different.append(f"{text!r}: rasa {theirs['intent']} ours {ours['intent']}")
    assert len(texts) > 900
    assert not different, "\n".join(different[:20])


def _member(path: Path, name: str) -> bytes:
    with tarfile.open(path, "r:gz") as archive:
        member = next(m for m in archive.getmembers() if m.name.lstrip("/") == name)
        found = archive.extractfile(member)
        assert found is not None
        return found.read()
