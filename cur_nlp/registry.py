"""A registry of known fakes (debunked rumours) matched by similarity with the model's own representations.

Registry file: JSON lines with ``id``, ``claim``, ``refutation`` and optional ``link``. The similarity of a post
to a claim is the cosine of their encoder sentence vectors, averaged with the cosine of their TF-IDF n-gram
vectors when the model has sparse heads (a fine-tuned encoder packs all posts of one topic close together; shared
wording separates a paraphrase of the rumour from an ordinary complaint on the same topic). A post whose best
similarity is ≥ ``threshold`` is marked fake with that claim's id; the threshold is tuned on labelled paraphrases
and stored in the model config (``extra.registry_threshold``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_THRESHOLD = 0.9


@dataclass(frozen=True)
class KnownFake:
    """One debunked claim."""

    id: str
    claim: str
    refutation: str
    link: str | None = None


def read_registry(path: str | Path) -> list[KnownFake]:
    """Parse a registry file; errors name the line and the missing field."""
    entries = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            entries.append(KnownFake(str(record["id"]), record["claim"], record.get("refutation", ""), record.get("link")))
        except (json.JSONDecodeError, KeyError) as error:
            raise ValueError(f"{path}:{number}: expected JSON with 'id' and 'claim' ({error})") from error
    if not entries:
        raise ValueError(f"{path}: the registry is empty")
    return entries


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


class FakeRegistry:
    """Known fakes embedded once; ``match`` returns the closest claim id per post above the threshold."""

    def __init__(self, entries: list[KnownFake], vectors: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
                 sparse: Any | None = None) -> None:
        self.entries = entries
        self.vectors = _unit(vectors)
        self.threshold = threshold
        self.sparse = sparse
        self._claim_sparse = None
        if sparse is not None:
            from cur_nlp.normalize import normalize_text
            from cur_nlp.sparse import SparseCosine

            self._claim_sparse = SparseCosine(sparse, sparse.features([normalize_text(e.claim) for e in entries]))

    @classmethod
    def from_file(cls, path: str | Path, classifier: Any, threshold: float | None = None) -> "FakeRegistry":
        """Read ``path`` and embed its claims with ``classifier``'s encoder; the threshold defaults to the model's
        tuned one (``extra.registry_threshold``), else :data:`DEFAULT_THRESHOLD`."""
        entries = read_registry(path)
        vectors, _ = classifier.embed([e.claim for e in entries])
        if threshold is None:
            tuned = classifier.config.extra.registry_threshold
            threshold = float(DEFAULT_THRESHOLD if tuned is None else tuned)
        return cls(entries, vectors, threshold, sparse=getattr(classifier, "sparse", None))

    def similarities(self, vectors: np.ndarray, texts: list[str] | None = None,
                     features: Any | None = None) -> np.ndarray:
        """Similarity of each post to each registered claim, shape ``(n_posts, n_claims)``: encoder cosine,
        averaged with TF-IDF cosine when the registry has sparse features and the (normalised) texts or their
        precomputed sparse ``features`` are given."""
        dense = _unit(np.asarray(vectors, dtype=np.float32)) @ self.vectors.T
        if self._claim_sparse is None or (texts is None and features is None):
            return dense
        if features is None:
            features = self.sparse.features(list(texts))
        return 0.5 * dense + 0.5 * self._claim_sparse(features)

    def match(self, vectors: np.ndarray, texts: list[str] | None = None,
              features: Any | None = None) -> list[tuple[str, float] | None]:
        """Per post: ``(claim id, similarity)`` of the best match at or above the threshold, else None."""
        sims = self.similarities(vectors, texts, features)
        best = sims.argmax(axis=1)
        return [
            (self.entries[j].id, float(sims[i, j])) if sims[i, j] >= self.threshold else None
            for i, j in enumerate(best)
        ]
