"""The stance of a post toward a registered claim: ``spreads`` it, ``refutes`` it (or mocks it), or ``unrelated``.

A linear model over features of the pair, cheap enough to run on every post (no second encoder pass):

- how close the post is to the claim: encoder cosine, TF-IDF cosine, the margin to the next-closest claim, and per
  n-gram block the cosine and how much of the claim's TF-IDF mass the post covers;
- how the post talks: word 1–2-gram TF-IDF of the post (refutation and forwarding cues such as «фейк»,
  «опровергли», «скиньте всем», «правда что»).

Weights live in ``stance.safetensors`` and the vocabulary in ``stance_vocab.json`` of the model directory; the
model is trained by ``cur-nlp train-stance`` on team-written pairs (docs/fakes.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from cur_nlp.model_dir import readable_by_all
from cur_nlp.sparse import TfidfBlock

STANCE_WEIGHTS = "stance.safetensors"
STANCE_VOCAB = "stance_vocab.json"
STANCES = ("spreads", "refutes", "unrelated")


@dataclass(frozen=True)
class PairScores:
    """Closeness of each post to one candidate claim: encoder cosine, TF-IDF cosine, margin to the next claim, and
    ``overlap`` (pairs × k): per n-gram block the cosine and the claim's coverage."""

    dense: np.ndarray
    lexical: np.ndarray
    margin: np.ndarray
    overlap: np.ndarray


def pair_features(scores: PairScores, post_words: sparse.csr_matrix) -> sparse.csr_matrix:
    """Feature rows of (post, candidate claim) pairs: the closeness scores, then the post's word TF-IDF.

    The product of the two encoder vectors was tried as well and dropped: it learns the training claims' subjects
    and lowered dev F1 (docs/fakes.md)."""
    closeness = np.column_stack([scores.dense, scores.lexical, scores.margin, scores.overlap]).astype(np.float32)
    return sparse.hstack([sparse.csr_matrix(closeness), post_words], format="csr")


class StanceModel:
    """Word TF-IDF of the post plus a multinomial linear layer over :func:`pair_features`."""

    def __init__(self, words: TfidfBlock, weight: np.ndarray, bias: np.ndarray) -> None:
        self.words, self.weight, self.bias = words, weight.astype(np.float32), bias.astype(np.float32)

    def post_words(self, texts: list[str]) -> sparse.csr_matrix:
        """Word TF-IDF rows of the (normalised) post texts."""
        return self.words.transform(list(texts))

    def probabilities(self, features: sparse.csr_matrix) -> np.ndarray:
        """``(pairs, 3)`` probabilities in :data:`STANCES` order."""
        logits = np.asarray(features @ self.weight, dtype=np.float32) + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, directory: str | Path) -> None:
        from safetensors.numpy import save_file

        directory = Path(directory)
        save_file({"idf": self.words.idf, "weight": self.weight, "bias": self.bias}, str(directory / STANCE_WEIGHTS))
        readable_by_all(directory / STANCE_WEIGHTS)
        vocabulary = sorted(self.words.vocabulary, key=self.words.vocabulary.get)
        spec = {"labels": list(STANCES), "analyzer": self.words.analyzer,
                "ngram_range": list(self.words.ngram_range), "vocabulary": vocabulary}
        (directory / STANCE_VOCAB).write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> "StanceModel | None":
        """The stance model of a model directory, or ``None`` when it has none."""
        from safetensors.numpy import load_file

        directory = Path(directory)
        if not (directory / STANCE_WEIGHTS).is_file():
            return None
        spec = json.loads((directory / STANCE_VOCAB).read_text(encoding="utf-8"))
        if tuple(spec["labels"]) != STANCES:
            raise ValueError(f"{directory / STANCE_VOCAB}: labels {spec['labels']}, expected {list(STANCES)}")
        tensors = load_file(str(directory / STANCE_WEIGHTS))
        words = TfidfBlock(spec["analyzer"], tuple(spec["ngram_range"]), spec["vocabulary"], tensors["idf"])
        return cls(words, tensors["weight"], tensors["bias"])
