"""Sparse n-gram features beside the encoder: TF-IDF (word + char) → linear logits per head.

A re-implementation of the scikit-learn transform used at training time (``TfidfVectorizer`` with
``sublinear_tf``, smooth idf and l2 rows; ``char_wb`` character n-grams) on scipy sparse matrices, so the runtime
needs no pickles and no scikit-learn. Weights live in ``sparse.safetensors``, vocabularies in ``sparse_vocab.json``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse

from cur_nlp.model_dir import readable_by_all

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

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        """l2-normalised TF-IDF rows of ``texts``, ``(len(texts), vocabulary size)`` (n-grams are counted per
        text; the arithmetic is done once for the batch)."""
        analyse = word_ngrams if self.analyzer == "word" else char_wb_ngrams
        vocabulary = self.vocabulary
        cols: list[int] = []
        counts: list[int] = []
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        for row, text in enumerate(texts):
            for gram, count in Counter(analyse(text, *self.ngram_range)).items():
                col = vocabulary.get(gram)
                if col is not None:
                    cols.append(col)
                    counts.append(count)
            indptr[row + 1] = len(cols)
        columns = np.asarray(cols, dtype=np.int64)
        values = (1.0 + np.log(np.asarray(counts, dtype=np.float32))) * self.idf[columns]
        rows = np.repeat(np.arange(len(texts)), np.diff(indptr))
        norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(texts)))
        values = (values / np.maximum(norms, 1e-12)[rows]).astype(np.float32)
        return sparse.csr_matrix((values, columns, indptr), shape=(len(texts), len(vocabulary)))

    def transform_one(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and l2-normalised TF-IDF values of one text."""
        row = self.transform([text])
        return row.indices.astype(np.int64), row.data


class SparseHeads:
    """TF-IDF blocks and one linear layer per head over their concatenated features."""

    def __init__(self, blocks: list[TfidfBlock], weights: dict[str, np.ndarray], biases: dict[str, np.ndarray]) -> None:
        self.blocks, self.weights, self.biases = blocks, weights, biases

    def features(self, texts: list[str]) -> sparse.csr_matrix:
        """TF-IDF rows of ``texts`` over all blocks' columns side by side (each block l2-normalised)."""
        texts = list(texts)
        return sparse.hstack([block.transform(texts) for block in self.blocks], format="csr", dtype=np.float32)

    def logits(self, texts: list[str] | None = None, features: sparse.csr_matrix | None = None) -> dict[str, np.ndarray]:
        """Per head, logits ``(n_texts, n_labels)`` (the decision function of the logistic regression), from
        ``texts`` or from their precomputed ``features``."""
        features = self.features(texts or []) if features is None else features
        return {head: np.asarray(features @ weight, dtype=np.float32) + self.biases[head].astype(np.float32)
                for head, weight in self.weights.items()}

    def save(self, directory: str | Path) -> None:
        from safetensors.numpy import save_file

        directory = Path(directory)
        tensors = {f"idf.{i}": b.idf for i, b in enumerate(self.blocks)}
        tensors.update({f"weight.{h}": w.astype(np.float16) for h, w in self.weights.items()})
        tensors.update({f"bias.{h}": b.astype(np.float32) for h, b in self.biases.items()})
        save_file(tensors, str(directory / SPARSE_WEIGHTS))
        readable_by_all(directory / SPARSE_WEIGHTS)
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

