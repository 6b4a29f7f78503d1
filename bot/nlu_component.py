"""Rasa 3.6 graph component wrapping Parley's intent model (parley/nlu/intent_model.py).

It reads the message text itself (its own word and character features and the training data's
regexes), so it needs no featurizer before it; the regex entity extractor still runs for the
entities. Configuration (bot/config.yml) is passed through to `IntentModel` (see its DEFAULTS).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from parley.nlu.intent_model import DEFAULTS, IntentModel

RANKING_LENGTH = "ranking_length"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class ParleyIntentClassifier(GraphComponent, IntentClassifier):
    """Word + character n-grams and regex matches, a linear classifier (scikit-learn)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DEFAULTS, RANKING_LENGTH: 10}

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "scipy", "numpy"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: IntentModel | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ParleyIntentClassifier:
        return cls(config, model_storage, resource)

    def _model_config(self) -> dict[str, Any]:
        return {k: v for k, v in self.config.items() if k in DEFAULTS}

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            return self._resource
        regexes = [(str(r["name"]), str(r["pattern"])) for r in training_data.regex_features]
        model = IntentModel(config=self._model_config(), regexes=regexes)
        model.fit([e.get(TEXT) for e in examples], [e.get(INTENT) for e in examples])
        self.model = model
        with self._model_storage.write_to(self._resource) as directory:
            model.save(directory)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ParleyIntentClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                model = IntentModel.load(directory)
        except ValueError:  # not trained (no intent examples)
            model = None
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        probabilities = self.model.predict_proba(texts)
        length = int(self.config[RANKING_LENGTH])
        for message, row in zip(messages, probabilities, strict=True):
            order = row.argsort()[::-1]
            ranking = [{"name": self.model.classes[i], "confidence": float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(
                INTENT_RANKING_KEY,
                ranking[:length] if length > 0 else ranking,
                add_to_output=True,
            )
        return messages
