"""Text similarity for grouping: character n-gram vectors hashed into a fixed space, compared by cosine.

Hashing needs no vocabulary and no model, gives the same buckets in every process (plain integer arithmetic, no
salted ``hash``), and keeps a vector small enough to store with an open incident. Digits are dropped so that house numbers do not make two posts about
different houses look alike; places are compared separately (:mod:`cur_nlp.incidents.places`).

>>> a = text_vector("Нет горячей воды третий день")
>>> round(cosine(a, text_vector("третий день нет горячей воды!!")), 2)
1.0
>>> cosine(a, text_vector("Яма на дороге")) < 0.2
True
"""

from __future__ import annotations

import re
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


def _padded_codes(text: str) -> np.ndarray:
    """Code points of the text's words, each padded with a space: «ab cd» → « ab  cd »."""
    words = _NOT_LETTERS.sub(" ", text.lower().replace("ё", "е")).split()
    padded = "".join(f" {word} " for word in words)
    return np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


def ngram_hashes(text: str) -> np.ndarray:
    """Bucket numbers of the character 3-5-grams inside words (padded with a space), lower-cased, ``ё`` as ``е``,
    digits dropped: a polynomial hash of each n-gram's code points, mixed and cut to :data:`BUCKETS`. An n-gram
    that reaches into the next word holds two spaces in a row and is left out."""
    codes = _padded_codes(text)
    spaces = codes == 32
    double = np.concatenate([[0], np.cumsum(spaces[1:] & spaces[:-1])]) if len(codes) else codes
    found = []
    for n in NGRAMS:
        count = len(codes) - n + 1
        if count <= 0:
            continue
        value = np.full(count, n, dtype=np.uint64)
        for j in range(n):
            value = value * np.uint64(1_000_003) + codes[j : j + count]
        # no space pair inside the window: double[i + n - 1] - double[i] counts pairs (k-1, k) with i < k < i + n
        inside = double[n - 1 : n - 1 + count] - double[:count]
        found.append(value[inside == 0])
    if not found:
        return np.zeros(0, dtype=np.int64)
    mixed = np.concatenate(found) * np.uint64(0x9E3779B97F4A7C15)
    return ((mixed >> np.uint64(40)) % np.uint64(BUCKETS)).astype(np.int64)


def text_vector(text: str) -> SparseVector:
    """The hashed n-gram vector of ``text`` (sublinear term frequency, unit length; empty for no letters)."""
    indices, counts = np.unique(ngram_hashes(text), return_counts=True)
    if not len(indices):
        return SparseVector(indices, np.zeros(0, dtype=np.float32))
    values = 1.0 + np.log(counts.astype(np.float32))
    return SparseVector(indices, (values / np.linalg.norm(values)).astype(np.float32))


def cosine(a: SparseVector, b: SparseVector) -> float:
    """Cosine similarity of two unit vectors (0 when either is empty)."""
    if not len(a.indices) or not len(b.indices):
        return 0.0
    where = np.minimum(np.searchsorted(b.indices, a.indices), len(b.indices) - 1)
    shared = b.indices[where] == a.indices
    return float(np.dot(a.values[shared], b.values[where[shared]]))
