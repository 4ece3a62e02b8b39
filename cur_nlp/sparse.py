"""Sparse n-gram features beside the encoder: TF-IDF (word + char) → linear logits per head.

A dependency-free re-implementation of the scikit-learn transform used at training time
(``TfidfVectorizer`` with ``sublinear_tf``, smooth idf and l2 rows; ``char_wb`` character n-grams), so the runtime
needs no pickles and no scikit-learn. Weights live in ``sparse.safetensors``, vocabularies in ``sparse_vocab.json``.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np

SPARSE_WEIGHTS = "sparse.safetensors"
SPARSE_VOCAB = "sparse_vocab.json"

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_SPACES = re.compile(r"\s\s+")


def word_ngrams(text: str, low: int, high: int) -> list[str]:
    """Word n-grams as scikit-learn's ``analyzer='word'`` with lower-casing and its default token pattern."""
    tokens = _TOKEN.findall(text.lower())
    grams = []
    for n in range(low, high + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """Character n-grams inside word boundaries, as scikit-learn's ``analyzer='char_wb'``."""
    grams = []
    for word in _SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            offset = 0
            grams.append(padded[offset : offset + n])
            while offset + n < len(padded):
                offset += 1
                grams.append(padded[offset : offset + n])
            if offset == 0:
                break
    return grams


class TfidfBlock:
    """One vectoriser: vocabulary → column, idf weights, n-gram range and analyser."""

    def __init__(self, analyzer: str, ngram_range: tuple[int, int], vocabulary: list[str], idf: np.ndarray) -> None:
        if analyzer not in ("word", "char_wb"):
            raise ValueError(f"analyzer must be word or char_wb, found {analyzer!r}")
        self.analyzer, self.ngram_range = analyzer, tuple(ngram_range)
        self.vocabulary = {g: i for i, g in enumerate(vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float32)

    def transform_one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and l2-normalised TF-IDF values of one text."""
        grams = (word_ngrams if self.analyzer == "word" else char_wb_ngrams)(text, *self.ngram_range)
        counts = Counter(self.vocabulary[g] for g in grams if g in self.vocabulary)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float32, count=len(counts))
        values = tf * self.idf[cols]
        return cols, values / max(float(np.linalg.norm(values)), 1e-12)


class SparseHeads:
    """TF-IDF blocks and one linear layer per head over their concatenated features."""

    def __init__(self, blocks: list[TfidfBlock], weights: dict[str, np.ndarray], biases: dict[str, np.ndarray]) -> None:
        self.blocks, self.weights, self.biases = blocks, weights, biases
        self.offsets = np.cumsum([0] + [len(b.vocabulary) for b in blocks])[:-1]

    def features(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per text, the non-zero columns (all blocks, offsets applied) and their values (each block l2-normalised)."""
        result = []
        for text in texts:
            parts = [block.transform_one(text) for block in self.blocks]
            cols = np.concatenate([c + offset for (c, _), offset in zip(parts, self.offsets)])
            result.append((cols, np.concatenate([v for _, v in parts])))
        return result

    def logits(self, texts: list[str] | None = None,
               features: list[tuple[np.ndarray, np.ndarray]] | None = None) -> dict[str, np.ndarray]:
        """Per head, logits ``(n_texts, n_labels)`` (the decision function of the logistic regression), from
        ``texts`` or from their precomputed ``features``."""
        features = self.features(texts or []) if features is None else features
        out = {h: np.tile(b, (len(features), 1)).astype(np.float32) for h, b in self.biases.items()}
        for row, (cols, values) in enumerate(features):
            if cols.size:
                for head, weight in self.weights.items():
                    out[head][row] += values @ weight[cols]
        return out

    def save(self, directory: str | Path) -> None:
        from safetensors.numpy import save_file

        directory = Path(directory)
        tensors = {f"idf.{i}": b.idf for i, b in enumerate(self.blocks)}
        tensors.update({f"weight.{h}": w.astype(np.float16) for h, w in self.weights.items()})
        tensors.update({f"bias.{h}": b.astype(np.float32) for h, b in self.biases.items()})
        save_file(tensors, str(directory / SPARSE_WEIGHTS))
        vocab = [{"analyzer": b.analyzer, "ngram_range": list(b.ngram_range),
                  "vocabulary": sorted(b.vocabulary, key=b.vocabulary.get)} for b in self.blocks]
        (directory / SPARSE_VOCAB).write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> "SparseHeads":
        from safetensors.numpy import load_file

        directory = Path(directory)
        tensors = load_file(str(directory / SPARSE_WEIGHTS))
        specs = json.loads((directory / SPARSE_VOCAB).read_text(encoding="utf-8"))
        blocks = [TfidfBlock(s["analyzer"], tuple(s["ngram_range"]), s["vocabulary"], tensors[f"idf.{i}"])
                  for i, s in enumerate(specs)]
        weights = {k[7:]: v.astype(np.float32) for k, v in tensors.items() if k.startswith("weight.")}
        biases = {k[5:]: v for k, v in tensors.items() if k.startswith("bias.")}
        return cls(blocks, weights, biases)


class SparseCosine:
    """Cosine similarity of texts' TF-IDF vectors (all blocks, unit length) to a fixed set of texts, e.g. the
    claims of a known-fakes registry. The set is stored as a small dense matrix over the columns it uses, so a
    post costs one gather and one matrix product (no Python loop over n-grams)."""

    def __init__(self, heads: SparseHeads, features: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.scale = 1.0 / math.sqrt(len(heads.blocks))
        used = [cols for cols, _ in features if cols.size]
        self.columns = np.unique(np.concatenate(used)) if used else np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((len(self.columns), len(features)), dtype=np.float32)
        for j, (cols, values) in enumerate(features):
            self.matrix[np.searchsorted(self.columns, cols), j] = values * self.scale

    def __call__(self, features: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Similarities, shape ``(len(features), size of the set)``."""
        out = np.zeros((len(features), self.matrix.shape[1]), dtype=np.float32)
        if not self.columns.size:
            return out
        for i, (cols, values) in enumerate(features):
            where = np.minimum(np.searchsorted(self.columns, cols), len(self.columns) - 1)
            hit = self.columns[where] == cols
            if hit.any():
                out[i] = (values[hit] * self.scale).astype(np.float32) @ self.matrix[where[hit]]
        return out
