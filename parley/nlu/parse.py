"""The parse Rasa's NLU pipeline (bot/config.yml) makes of one message, made without Rasa.

Why: Rasa's per-message machinery (its graph, policies, tracker and the action server's round
trip) is most of a message's CPU (docs/performance.md). The gateway's in-process engine
(`PARLEY_BOT_ENGINE=in_process`, parley.conversations.in_process) reads the model archive
`rasa train` wrote and produces, for every message, the parse Rasa's server would:

- a command, `/intent` or `/intent{"key": "value"}` (the payload of a button the bot offered;
  typed text never starts with `/`, the gateway neutralises it), is that intent at confidence 1
  when the domain knows it (its entities only those the domain declares), as Rasa's
  `RegexMessageHandler`; an unknown one is read as text;
- otherwise the intent model's ranking (the component's `ranking_length`), then the
  `FallbackClassifier`: below its threshold, or with the top two closer than its ambiguity
  threshold, the intent is `nlu_fallback` at the threshold's confidence, put first in the
  ranking.

The pipeline's regex entities are not made: the dialogue reads the text itself and only the
entities of a command (which `Heard` reads from the command's text). tests/nlu checks this parse
against Rasa's own `/model/parse` of the same model, sentence by sentence.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from parley.nlu.intent_model import IntentModel

FALLBACK_INTENT = "nlu_fallback"
# Rasa's own pattern (YAMLStoryReader._regex_message_pattern)
_COMMAND = re.compile(
    r"^/(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>\{.+\})?(?P<rest>.*)"
)
# The intents every Rasa domain has besides its own (rasa.shared.core.constants.DEFAULT_INTENTS).
RASA_DEFAULT_INTENTS = frozenset(
    {"restart", "back", "out_of_scope", "session_start", FALLBACK_INTENT}
)
_CLASSIFIER = "ParleyIntentClassifier"
_FALLBACK = "FallbackClassifier"


class ModelUnavailable(ValueError):
    """The model archive is missing, unreadable, or not one of Parley's."""


@dataclass(frozen=True)
class Understanding:
    model: IntentModel
    intents: frozenset[str]
    entities: frozenset[str] = frozenset()
    ranking_length: int = 10
    fallback_threshold: float | None = None
    ambiguity_threshold: float = 0.0

    @classmethod
    def from_archive(cls, path: Path) -> Understanding:
        """Read the model `rasa train` wrote (a .tar.gz): its intent model, its domain's intents
        and the pipeline's settings, as trained (metadata.json), not as bot/config.yml says now."""
        try:
            with tarfile.open(path, "r:gz") as archive:
                files = {m.name.lstrip("/"): m for m in archive.getmembers() if m.isfile()}

                def read(name: str) -> bytes:
                    found = archive.extractfile(files[name])
                    assert found is not None
                    return found.read()

                meta = json.loads(read("metadata.json"))
                names = [n for n in files if n.endswith("/intent_model.json")]
                if len(names) != 1:
                    raise ModelUnavailable(f"{path}: no Parley intent model in the archive")
                folder = names[0].rsplit("/", 1)[0]
                with np.load(io.BytesIO(read(f"{folder}/intent_model.npz"))) as arrays:
                    model = IntentModel.from_parts(
                        json.loads(read(names[0])), {k: arrays[k] for k in arrays.files}
                    )
                domain = yaml.safe_load(read("components/domain_provider/domain.yml")) or {}
        except (OSError, KeyError, tarfile.TarError, ValueError) as exc:
            if isinstance(exc, ModelUnavailable):
                raise
            raise ModelUnavailable(f"{path}: cannot read the trained model ({exc})") from exc
        nodes = (meta.get("predict_schema") or {}).get("nodes") or {}
        classifier = _node_config(nodes, _CLASSIFIER) or {}
        fallback = _node_config(nodes, _FALLBACK)
        intents = RASA_DEFAULT_INTENTS | frozenset(
            next(iter(item)) if isinstance(item, dict) else str(item)
            for item in domain.get("intents") or []
        )
        entities = frozenset(
            next(iter(item)) if isinstance(item, dict) else str(item)
            for item in domain.get("entities") or []
        )
        return cls(
            model=model,
            intents=intents,
            entities=entities,
            ranking_length=int(classifier.get("ranking_length", 10)),
            fallback_threshold=None if fallback is None else float(fallback.get("threshold", 0.3)),
            ambiguity_threshold=0.0
            if fallback is None
            else float(fallback.get("ambiguity_threshold", 0.1)),
        )

    def parse(self, text: str) -> dict[str, Any]:
        """The parse data Rasa puts in `tracker.latest_message` for this text."""
        text = text.strip()
        command = self._command(text)
        if command is not None:
            return command
        row = self.model.predict_proba([text])[0]
        order = row.argsort()[::-1]
        ranking: list[dict[str, Any]] = [
            {"name": self.model.classes[i], "confidence": float(row[i])} for i in order
        ]
        if self.ranking_length > 0:
            ranking = ranking[: self.ranking_length]
        intent = dict(ranking[0])
        if self._falls_back(ranking):
            intent = {"name": FALLBACK_INTENT, "confidence": self.fallback_threshold}
            ranking.insert(0, dict(intent))
        return {"text": text, "intent": intent, "intent_ranking": ranking, "entities": []}

    def _falls_back(self, ranking: list[dict[str, Any]]) -> bool:
        if self.fallback_threshold is None:
            return False
        if ranking[0]["confidence"] < self.fallback_threshold:
            return True
        return (
            len(ranking) >= 2
            and ranking[0]["confidence"] - ranking[1]["confidence"] < self.ambiguity_threshold
        )

    def _command(self, text: str) -> dict[str, Any] | None:
        match = _COMMAND.match(text)
        name = match["intent"].strip() if match else ""
        if not match or name not in self.intents:
            return None
        try:
            confidence = float(match["confidence"][1:]) if match["confidence"] else 1.0
        except ValueError:
            confidence = 0.0
        try:
            loaded = json.loads(match["entities"]) if match["entities"] else {}
        except ValueError:
            loaded = {}
        entities = [
            {"entity": key, "value": value}
            for key, values in (loaded.items() if isinstance(loaded, dict) else ())
            if key in self.entities
            for value in (values if isinstance(values, list) else [values])
        ]
        intent = {"name": name, "confidence": confidence}
        return {
            "text": text,
            "intent": intent,
            "intent_ranking": [dict(intent)],
            "entities": entities,
        }


def _node_config(nodes: dict[str, Any], component: str) -> dict[str, Any] | None:
    for node in nodes.values():
        if str(node.get("uses", "")).endswith(component):
            return dict(node.get("config") or {})
    return None
