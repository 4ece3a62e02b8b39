"""A registry of known fakes (debunked rumours) matched by embedding similarity with the model's encoder.

Registry file: JSON lines with ``id``, ``claim``, ``refutation`` and optional ``link``. A post whose
sentence vector has cosine similarity ≥ ``threshold`` with a registered claim is marked fake with that
claim's id. The threshold is stored in the model config (``extra.registry_threshold``) when tuned.
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

    def __init__(self, entries: list[KnownFake], vectors: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.entries = entries
        self.vectors = _unit(vectors)
        self.threshold = threshold

    @classmethod
    def from_file(cls, path: str | Path, classifier: Any, threshold: float | None = None) -> "FakeRegistry":
        """Read ``path`` and embed its claims with ``classifier``'s encoder."""
        entries = read_registry(path)
        vectors, _ = classifier.embed([e.claim for e in entries])
        if threshold is None:
            threshold = float(classifier.config.extra.get("registry_threshold", DEFAULT_THRESHOLD))
        return cls(entries, vectors, threshold)

    def similarities(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine similarity of each post vector to each registered claim, shape ``(n_posts, n_claims)``."""
        return _unit(np.asarray(vectors, dtype=np.float32)) @ self.vectors.T

    def match(self, vectors: np.ndarray) -> list[tuple[str, float] | None]:
        """Per post: ``(claim id, similarity)`` of the best match at or above the threshold, else None."""
        sims = self.similarities(vectors)
        best = sims.argmax(axis=1)
        return [
            (self.entries[j].id, float(sims[i, j])) if sims[i, j] >= self.threshold else None
            for i, j in enumerate(best)
        ]
