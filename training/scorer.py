"""What the evaluation harness needs from any model: label lists, probabilities and decisions per head."""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np


class Scorer(Protocol):
    """Anything that can be evaluated: the transformer classifier, the TF-IDF baseline, a user's model."""

    name: str

    def head_labels(self) -> dict[str, list[str]]:
        """Label list of every head the model has."""

    def score(self, texts: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per head: probabilities ``(n, n_labels)`` and decided label indices ``(n,)``."""


class ScoredOnce:
    """A scorer that scores each list of texts only once: the evaluation report and the comparison of
    ``cur-nlp evaluate --compare`` read the same sets."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.name = scorer.name
        self._scores: dict[tuple[str, ...], dict[str, tuple[np.ndarray, np.ndarray]]] = {}

    def head_labels(self) -> dict[str, list[str]]:
        return self.scorer.head_labels()

    def score(self, texts: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        key = tuple(texts)
        if key not in self._scores:
            self._scores[key] = self.scorer.score(texts)
        return self._scores[key]


class ClassifierScorer:
    """Adapter of :class:`cur_nlp.ComplaintClassifier` to the ``Scorer`` protocol."""

    def __init__(self, classifier, name: str | None = None, batch_size: int = 64) -> None:
        self.classifier = classifier
        self.name = name or f"{classifier.config.name} {classifier.config.version}"
        self.batch_size = batch_size

    def head_labels(self) -> dict[str, list[str]]:
        return {h.name: list(h.labels) for h in self.classifier.config.heads}

    def score(self, texts: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        from cur_nlp.decoding import decide

        probs = self.classifier.predict_scores(list(texts), batch_size=self.batch_size)
        return {h.name: (probs[h.name], decide(h, probs[h.name])) for h in self.classifier.config.heads}
