"""The classical baseline: TF-IDF word + char n-grams → class-balanced logistic regression, one per head."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import joblib
import numpy as np
import yaml
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from cur_nlp_training.heads_data import HeadColumn, TrainingData


@dataclass
class BaselineConfig:
    """Typed configuration of the baseline (saved beside it as ``baseline_config.yaml``)."""

    name: str = "tfidf-logreg"
    heads: list[HeadColumn] = field(default_factory=list)
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    max_features_word: int = 200_000
    max_features_char: int = 300_000
    C: float = 4.0
    class_weight: str | None = "balanced"
    max_iter: int = 2000

    def __post_init__(self) -> None:
        self.heads = [h if isinstance(h, HeadColumn) else HeadColumn(**h) for h in self.heads]
        self.word_ngrams, self.char_ngrams = tuple(self.word_ngrams), tuple(self.char_ngrams)
        if self.C <= 0:
            raise ValueError(f"C must be positive, found {self.C}")


class TfidfBaseline:
    """One vectoriser shared by all heads, one logistic regression per head."""

    def __init__(self, config: BaselineConfig) -> None:
        self.config = config
        self.name = f"baseline ({config.name})"
        self.word = TfidfVectorizer(ngram_range=config.word_ngrams, max_features=config.max_features_word,
                                    sublinear_tf=True, min_df=2, lowercase=True)
        self.char = TfidfVectorizer(analyzer="char_wb", ngram_range=config.char_ngrams,
                                    max_features=config.max_features_char, sublinear_tf=True, min_df=2)
        self.models: dict[str, LogisticRegression] = {}
        self.labels: dict[str, list[str]] = {}

    def _features(self, texts: Sequence[str]):
        return hstack([self.word.transform(texts), self.char.transform(texts)]).tocsr()

    def fit(self, data: TrainingData) -> "TfidfBaseline":
        texts = data.texts("train")
        self.word.fit(texts)
        self.char.fit(texts)
        features = self._features(texts)
        for head in self.config.heads:
            rows, targets = data.targets("train", head.name)
            self.labels[head.name] = data.labels[head.name]
            model = LogisticRegression(C=self.config.C, class_weight=self.config.class_weight,
                                       max_iter=self.config.max_iter)
            model.fit(features[rows], targets)
            self.models[head.name] = model
        return self

    def head_labels(self) -> dict[str, list[str]]:
        return dict(self.labels)

    def score(self, texts: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        features = self._features(list(texts))
        result = {}
        for name, model in self.models.items():
            probs = np.zeros((len(texts), len(self.labels[name])))
            probs[:, model.classes_] = model.predict_proba(features)
            result[name] = (probs, probs.argmax(axis=1))
        return result

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, directory / "baseline.joblib")
        cfg = asdict(self.config)
        (directory / "baseline_config.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(cfg)), allow_unicode=True))

    @staticmethod
    def load(directory: str | Path) -> "TfidfBaseline":
        return joblib.load(Path(directory) / "baseline.joblib")
