"""Parley's intent model: sparse word and character features + a linear classifier.

Pure scikit-learn/numpy (no Rasa import), so the same code is trained and scored by the Rasa
component (bot/nlu_component.py), by the gateway's in-process engine (parley.nlu.parse) and by
the cross-validation scripts (scripts/calibrate.py).
It is stored as plain arrays and JSON (no pickle): vocabularies, coefficients, intercepts.

Features, each block L2-normalised and weighted:

* words: 1- and 2-grams of normalised tokens (lower case, letters repeated three or more times
  cut to two, digits replaced by their shape so "$300" and "$450" read alike);
* characters: `char_wb` n-grams of the normalised text, inside words (typos, SMS spelling);
* phrases: `char` n-grams across word boundaries ("t mi" of "not mine", "e the" of "pay the"),
  which carry the short phrases a word bigram misses when a word is misspelt or run together
  (`cross_ngrams`; docs/bot.md "Model" has the comparison that chose it);
* regexes: one binary feature per regex of the training data (dates, amounts, ZIPs...).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

Array = np.ndarray[Any, Any]  # numpy arrays of any shape and type

DEFAULTS: dict[str, Any] = {
    "word_ngrams": [1, 2],
    "char_ngrams": [2, 5],
    "word_weight": 1.0,
    "char_weight": 1.0,
    "cross_ngrams": None,
    "cross_weight": 1.0,
    "regex_weight": 0.5,
    "sublinear_tf": True,
    "idf": True,
    "min_df": 1,
    "C": 10.0,
    "class_weight": "balanced",
    "max_iter": 300,
    "solver": "liblinear",
    "negation_window": 0,
}

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
_REPEAT = re.compile(r"(.)\1{2,}")
_TOKEN = re.compile(r"[a-z\u00e0-\u00ff]+(?:'[a-z]+)?|\d+|[$?!#%]")
_DIGITS = re.compile(r"\d")
# Words that turn what follows around ("i did NOT make this charge", "can't pay all that").
_NEGATORS = frozenset({"not", "never", "no", "nothing", "cant", "dont", "wont", "didnt", "isnt"})


def normalise(text: str) -> str:
    text = text.translate(_QUOTES).lower()
    return _REPEAT.sub(r"\1\1", text)


def word_tokens(text: str) -> list[str]:
    out = []
    for token in _TOKEN.findall(normalise(text)):
        if token[0].isdigit():
            token = f"<num{min(len(token), 6)}>"
        out.append(token)
    return out


def char_text(text: str) -> str:
    return _DIGITS.sub("0", normalise(text))


def _negated(tokens: list[str], window: int) -> list[str]:
    """`not_<word>` for the `window` words after a negator (a `?` or `!` ends it), beside the
    words themselves, so that "i did not make this" and "i made this" differ by more than one
    unigram. Measured with `make nlu-eval` (docs/bot.md "Negation"): external in-scope
    363 -> 366 of 400, forbidden 20 -> 17 of 1,000, held-out dispute recall .951 -> .961;
    windows of 2, 4, 5, 10 and scopes cut at clause punctuation scored within a sentence or two
    of 3."""
    if window <= 0:
        return []
    out: list[str] = []
    left = 0
    for token in tokens:
        if token in _NEGATORS or token.endswith("n't"):
            left = window
        elif token in {"?", "!"}:
            left = 0
        elif left:
            out.append(f"not_{token}")
            left -= 1
    return out


def _identity(tokens: list[str]) -> list[str]:
    return tokens


@dataclass
class IntentModel:
    config: dict[str, Any] = field(default_factory=lambda: dict(DEFAULTS))
    regexes: list[tuple[str, str]] = field(default_factory=list)  # (name, pattern)
    classes: list[str] = field(default_factory=list)
    _word: CountVectorizer | None = None
    _char: CountVectorizer | None = None
    _word_tfidf: TfidfTransformer | None = None
    _char_tfidf: TfidfTransformer | None = None
    _cross: CountVectorizer | None = None
    _cross_tfidf: TfidfTransformer | None = None
    _compiled: list[re.Pattern[str]] = field(default_factory=list)
    coef: Array | None = None
    intercept: Array | None = None
    _scoring: _Scoring | None = None

    def __post_init__(self) -> None:
        self.config = {**DEFAULTS, **(self.config or {})}
        self._compiled = [re.compile(p, re.IGNORECASE) for _, p in self.regexes]

    # --- features ------------------------------------------------------------------------

    def _vectorisers(self) -> tuple[CountVectorizer, CountVectorizer, CountVectorizer | None]:
        c = self.config
        word = CountVectorizer(
            analyzer=_identity, lowercase=False, min_df=c["min_df"], dtype=np.float64
        )
        char = self._chars("char_wb", c["char_ngrams"])
        cross = None if not c["cross_ngrams"] else self._chars("char", c["cross_ngrams"])
        return word, char, cross

    def _chars(self, analyzer: str, ngrams: list[int]) -> CountVectorizer:
        lo, hi = ngrams
        return CountVectorizer(
            analyzer=analyzer,
            ngram_range=(lo, hi),
            lowercase=False,
            min_df=self.config["min_df"],
            dtype=np.float64,
        )

    def _word_docs(self, texts: list[str]) -> list[list[str]]:
        lo, hi = self.config["word_ngrams"]
        docs = []
        for text in texts:
            tokens = word_tokens(text)
            grams: list[str] = []
            for n in range(lo, hi + 1):
                grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
            grams.extend(_negated(tokens, self.config["negation_window"]))
            docs.append(grams)
        return docs

    def _regex_block(self, texts: list[str]) -> sp.csr_matrix:
        rows = [[1.0 if p.search(t) else 0.0 for p in self._compiled] for t in texts]
        return sp.csr_matrix(np.array(rows, dtype=np.float64).reshape(len(texts), -1))

    def _block(self, counts: sp.csr_matrix, tfidf: TfidfTransformer | None) -> sp.csr_matrix:
        if tfidf is not None:
            return tfidf.transform(counts)
        if self.config["sublinear_tf"]:
            counts = counts.copy()
            counts.data = 1.0 + np.log(counts.data)
        return normalize(counts)

    def features(self, texts: list[str], fit: bool = False) -> sp.csr_matrix:
        c = self.config
        words, chars = self._word_docs(texts), [char_text(t) for t in texts]
        xc = None
        if fit:
            self._word, self._char, self._cross = self._vectorisers()
            wc, cc = self._word.fit_transform(words), self._char.fit_transform(chars)
            if self._cross is not None:
                xc = self._cross.fit_transform(chars)
            if c["idf"]:
                self._word_tfidf = TfidfTransformer(sublinear_tf=c["sublinear_tf"]).fit(wc)
                self._char_tfidf = TfidfTransformer(sublinear_tf=c["sublinear_tf"]).fit(cc)
                if xc is not None:
                    self._cross_tfidf = TfidfTransformer(sublinear_tf=c["sublinear_tf"]).fit(xc)
        else:
            assert self._word is not None and self._char is not None
            wc, cc = self._word.transform(words), self._char.transform(chars)
            if self._cross is not None:
                xc = self._cross.transform(chars)
        blocks = [
            c["word_weight"] * self._block(wc, self._word_tfidf),
            c["char_weight"] * self._block(cc, self._char_tfidf),
        ]
        if xc is not None:
            blocks.append(c["cross_weight"] * self._block(xc, self._cross_tfidf))
        if self._compiled:
            blocks.append(c["regex_weight"] * self._regex_block(texts))
        return sp.hstack(blocks, format="csr")

    # --- training and scoring ----------------------------------------------------------------

    def fit(self, texts: list[str], labels: list[str]) -> IntentModel:
        X = self.features(texts, fit=True)
        c = self.config
        multinomial = c["solver"] != "liblinear"
        clf = LogisticRegression(
            C=c["C"],
            class_weight=c["class_weight"],
            max_iter=c["max_iter"],
            solver=c["solver"],
            multi_class="multinomial" if multinomial else "ovr",
            # Seeded so that a configured stochastic solver (sag, saga) trains the same model
            # every time: `make nlu-eval` gates at the measured figures. liblinear, the one
            # configured, gave identical coefficients unseeded too (checked on the data).
            random_state=0,
        )
        clf.fit(X, labels)
        self.classes = [str(x) for x in clf.classes_]
        self.coef = clf.coef_.astype(np.float32)
        self.intercept = clf.intercept_.astype(np.float32)
        self.config["multinomial"] = multinomial
        self._scoring = _Scoring.of(self)
        return self

    def predict_proba(self, texts: list[str]) -> Array:
        assert self.coef is not None and self.intercept is not None
        if not texts:
            return np.zeros((0, len(self.classes)))
        scores: Array = np.vstack([self._linear(text) for text in texts])
        if self.config.get("multinomial"):
            scores -= scores.max(axis=1, keepdims=True)
            np.exp(scores, out=scores)
        else:  # one-vs-rest, as scikit-learn: each class's sigmoid, normalised
            scores = 1.0 / (1.0 + np.exp(-scores))
        probabilities: Array = scores / scores.sum(axis=1, keepdims=True)
        return probabilities

    def _linear(self, text: str) -> Array:
        """The classifier's linear scores for one text: `features([text]) @ coef.T + intercept`
        computed on the message's own few hundred features only. scikit-learn's sparse
        machinery (validation, matrix construction, the product with a strided matrix) cost
        ~1.5 ms a message; this ~0.2 ms, to the last few bits the same (tests/nlu)."""
        assert self._scoring is not None  # made by fit / from_parts
        sc = self._scoring
        c = self.config
        cols: list[Array] = []
        values: list[Array] = []
        chars = char_text(text)
        blocks = [
            (self._word_docs([text])[0], sc.word_vocabulary, sc.word_idf, c["word_weight"], 0),
            (
                sc.char_analyzer(chars),
                sc.char_vocabulary,
                sc.char_idf,
                c["char_weight"],
                sc.char_offset,
            ),
        ]
        if sc.cross_analyzer is not None:
            blocks.append(
                (
                    sc.cross_analyzer(chars),
                    sc.cross_vocabulary,
                    sc.cross_idf,
                    c["cross_weight"],
                    sc.cross_offset,
                )
            )
        for docs, vocabulary, idf, weight, offset in blocks:
            counts: dict[int, int] = {}
            for gram in docs:
                j = vocabulary.get(gram)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            col = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            if c["sublinear_tf"]:
                tf = 1.0 + np.log(tf)
            if idf is not None:
                tf = tf * idf[col]
            norm = float(np.sqrt(np.dot(tf, tf)))
            if norm > 0:
                tf = tf / norm
            cols.append(col + offset)
            values.append(weight * tf)
        hits = [i for i, pattern in enumerate(self._compiled) if pattern.search(text)]
        if hits:
            cols.append(np.asarray(hits, dtype=np.int64) + sc.regex_offset)
            values.append(np.full(len(hits), c["regex_weight"], dtype=np.float64))
        scores: Array = sc.intercept.copy()
        if cols:
            scores += np.concatenate(values) @ sc.coef_t[np.concatenate(cols)]
        return scores

    # --- storage (no pickle) -----------------------------------------------------------------

    def save(self, directory: Path) -> None:
        assert self._word is not None and self._char is not None
        assert self.coef is not None and self.intercept is not None
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "config": self.config,
            "regexes": self.regexes,
            "classes": self.classes,
            "word_vocabulary": {k: int(v) for k, v in self._word.vocabulary_.items()},
            "char_vocabulary": {k: int(v) for k, v in self._char.vocabulary_.items()},
        }
        if self._cross is not None:
            meta["cross_vocabulary"] = {k: int(v) for k, v in self._cross.vocabulary_.items()}
        (directory / "intent_model.json").write_text(json.dumps(meta))
        arrays: dict[str, Array] = {"coef": self.coef, "intercept": self.intercept}
        if self._word_tfidf is not None and self._char_tfidf is not None:
            arrays["word_idf"] = self._word_tfidf.idf_
            arrays["char_idf"] = self._char_tfidf.idf_
        if self._cross_tfidf is not None:
            arrays["cross_idf"] = self._cross_tfidf.idf_
        np.savez_compressed(directory / "intent_model.npz", **arrays)

    @classmethod
    def load(cls, directory: Path) -> IntentModel:
        with np.load(directory / "intent_model.npz", allow_pickle=False) as arrays:
            return cls.from_parts(
                json.loads((directory / "intent_model.json").read_text()), dict(arrays)
            )

    @classmethod
    def from_parts(cls, meta: dict[str, Any], arrays: dict[str, Array]) -> IntentModel:
        """From what `save` wrote: the JSON's content and the arrays (read from a directory, or
        straight out of Rasa's model archive by parley.nlu.parse)."""
        model = cls(
            config=meta["config"],
            regexes=[(str(name), str(pattern)) for name, pattern in meta["regexes"]],
            classes=meta["classes"],
        )
        model._word, model._char, model._cross = model._vectorisers()
        for vectoriser, name in (
            (model._word, "word"),
            (model._char, "char"),
            (model._cross, "cross"),
        ):
            if vectoriser is not None:
                vectoriser.vocabulary_ = meta[f"{name}_vocabulary"]
                vectoriser.fixed_vocabulary_ = True
        model.coef, model.intercept = arrays["coef"], arrays["intercept"]
        if "word_idf" in arrays:
            model._word_tfidf = _idf(arrays["word_idf"], model.config["sublinear_tf"])
            model._char_tfidf = _idf(arrays["char_idf"], model.config["sublinear_tf"])
        if "cross_idf" in arrays:
            model._cross_tfidf = _idf(arrays["cross_idf"], model.config["sublinear_tf"])
        model._scoring = _Scoring.of(model)
        return model


@dataclass(frozen=True)
class _Scoring:
    """What scoring one message reads, laid out once (when the model is trained or loaded,
    not on a message): the vocabularies, the idf vectors, the char n-gram analyzer and the
    coefficients transposed and contiguous (one row per feature, so a message's rows are
    gathered in one step)."""

    word_vocabulary: dict[str, int]
    char_vocabulary: dict[str, int]
    word_idf: Array | None
    char_idf: Array | None
    char_analyzer: Any
    char_offset: int
    cross_vocabulary: dict[str, int]
    cross_idf: Array | None
    cross_analyzer: Any
    cross_offset: int
    regex_offset: int
    coef_t: Array
    intercept: Array

    @classmethod
    def of(cls, model: IntentModel) -> _Scoring:
        assert model._word is not None and model._char is not None
        assert model.coef is not None and model.intercept is not None
        words, chars = model._word.vocabulary_, model._char.vocabulary_
        cross = model._cross
        crosses: dict[str, int] = {} if cross is None else cross.vocabulary_
        return cls(
            word_vocabulary=words,
            char_vocabulary=chars,
            word_idf=None if model._word_tfidf is None else np.asarray(model._word_tfidf.idf_),
            char_idf=None if model._char_tfidf is None else np.asarray(model._char_tfidf.idf_),
            char_analyzer=model._char.build_analyzer(),
            char_offset=len(words),
            cross_vocabulary=crosses,
            cross_idf=None if model._cross_tfidf is None else np.asarray(model._cross_tfidf.idf_),
            cross_analyzer=None if cross is None else cross.build_analyzer(),
            cross_offset=len(words) + len(chars),
            regex_offset=len(words) + len(chars) + len(crosses),
            coef_t=np.ascontiguousarray(model.coef.T, dtype=np.float64),
            intercept=np.asarray(model.intercept, dtype=np.float64),
        )


def _idf(idf: Array, sublinear: bool) -> TfidfTransformer:
    transformer = TfidfTransformer(sublinear_tf=sublinear)
    transformer.idf_ = idf
    return transformer


# --- the training data, read without Rasa (for the cross-validation scripts) --------------------

_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]+\)|\{[^}]+\})")


def read_training_data(nlu_dir: Path) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(texts, intents, regexes) from data/nlu/*.yml, entity annotations removed."""
    import yaml

    texts: list[str] = []
    intents: list[str] = []
    regexes: list[tuple[str, str]] = []
    for path in sorted(nlu_dir.glob("*.yml")):
        for item in yaml.safe_load(path.read_text()).get("nlu") or []:
            lines = [
                line.strip()[2:]
                for line in (item.get("examples") or "").splitlines()
                if line.strip().startswith("- ")
            ]
            if "intent" in item:
                for line in lines:
                    texts.append(_ANNOTATION.sub(r"\1", line))
                    intents.append(item["intent"])
            elif "regex" in item:
                regexes.extend((item["regex"], line) for line in lines)
    return texts, intents, regexes
