"""Text similarity for grouping: character n-gram vectors hashed into a fixed space, compared by cosine.

Hashing (CRC-32 of each n-gram) needs no vocabulary and no model, is the same in every process, and keeps a vector
small enough to store with an open incident. Digits are dropped so that house numbers do not make two posts about
different houses look alike; places are compared separately (:mod:`cur_nlp.incidents.places`).

>>> a = text_vector("Нет горячей воды третий день")
>>> round(cosine(a, text_vector("третий день нет горячей воды!!")), 2)
1.0
>>> cosine(a, text_vector("Яма на дороге")) < 0.2
True
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass

import numpy as np

BUCKETS = 1 << 20
NGRAMS = (3, 4, 5)
_NOT_LETTERS = re.compile(r"[^\w]+|[\d_]+")


@dataclass(frozen=True)
class SparseVector:
    """A unit-length sparse vector: sorted unique ``indices`` (int64) and their ``values`` (float32)."""

    indices: np.ndarray
    values: np.ndarray

    def to_json(self) -> list[list[float]]:
        """``[indices, values]`` as plain lists (values rounded to 4 decimals)."""
        return [self.indices.tolist(), np.round(self.values.astype(np.float64), 4).tolist()]

    @classmethod
    def from_json(cls, data: list[list[float]]) -> "SparseVector":
        """Inverse of :meth:`to_json`."""
        return cls(np.asarray(data[0], dtype=np.int64), np.asarray(data[1], dtype=np.float32))


def char_ngrams(text: str) -> list[str]:
    """Character 3-5-grams inside words (padded with a space), lower-cased, ``ё`` as ``е``, digits dropped."""
    words = _NOT_LETTERS.sub(" ", text.lower().replace("ё", "е")).split()
    grams: list[str] = []
    for word in words:
        padded = f" {word} "
        for n in NGRAMS:
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


def text_vector(text: str) -> SparseVector:
    """The hashed n-gram vector of ``text`` (sublinear term frequency, unit length; empty for no letters)."""
    counts = Counter(zlib.crc32(gram.encode()) % BUCKETS for gram in char_ngrams(text))
    if not counts:
        return SparseVector(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    values = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    order = np.argsort(indices)
    values = values[order]
    return SparseVector(indices[order], (values / np.linalg.norm(values)).astype(np.float32))


def cosine(a: SparseVector, b: SparseVector) -> float:
    """Cosine similarity of two unit vectors (0 when either is empty)."""
    _, left, right = np.intersect1d(a.indices, b.indices, assume_unique=True, return_indices=True)
    return float(np.dot(a.values[left], b.values[right]))
