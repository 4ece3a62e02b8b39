"""Matching posts to the registry of debunked claims by meaning, with the post's stance toward the claim.

1. Retrieval: similarity of each post to every active claim — encoder cosine mixed with TF-IDF cosine when the
   model has sparse features (``lexical_weight``: a model fine-tuned for topics packs every post of one topic
   close together, so shared wording carries most of the signal) — and the ``top_k`` closest claims at or above ``retrieval_threshold``.
2. Stance (:mod:`cur_nlp.fakes.stance`) of the post toward each candidate; the candidate the post is most likely
   about (least likely ``unrelated``) is kept.
3. Decision: ``spreads`` when p(spreads) ≥ ``spread_threshold``; ``refutes`` when refuting is the most probable
   stance; otherwise no match. Only spreading posts are fake.

The claims come from a file (read once) or from the database (:class:`~cur_nlp.fakes.store.ClaimStore`), whose
revision is checked on every call so that a claim added by any replica is matched from the next request on.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cur_nlp.fakes.claims import Claim, read_claims
from cur_nlp.fakes.stance import STANCES, PairScores, StanceModel, pair_features
from cur_nlp.fakes.store import ClaimStore
from cur_nlp.model_dir import FakeMatching

log = logging.getLogger("cur_nlp.fakes")


@dataclass(frozen=True)
class RegistryMatch:
    """A post's relation to its closest registered claim: the claim, its similarity, the stance and p(spreads)."""

    claim: Claim
    similarity: float
    stance: str
    spread_probability: float


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.clip(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12, None)


def is_database(location: str | Path) -> bool:
    """Whether a ``--registry`` value names a database (a URL or an SQLite file) rather than a JSONL/CSV file."""
    text = str(location)
    return "://" in text or Path(text).suffix.lower() in (".db", ".sqlite", ".sqlite3")


class FakeMatcher:
    """The registry as the classifier sees it: claims, their unit vectors and TF-IDF features, refreshed from the
    store when its revision changes. ``classifier`` embeds claims that have no stored vector of this model."""

    def __init__(self, classifier: Any, settings: FakeMatching, stance: StanceModel | None,
                 claims: Sequence[Claim] = (), store: ClaimStore | None = None) -> None:
        self.classifier, self.settings, self.stance, self.store = classifier, settings, stance, store
        self._lock = threading.Lock()
        self._revision: int | None = None
        self.load_claims(list(claims))
        if store is not None:
            self.refresh()

    @classmethod
    def open(cls, location: str | Path, classifier: Any) -> "FakeMatcher":
        """A matcher over a registry file (``.jsonl``/``.csv``) or database (a URL or ``.db``/``.sqlite`` file)."""
        config = classifier.config
        settings = config.extra.fakes or FakeMatching.similarity_only(config.extra.registry_threshold)
        stance = StanceModel.load(classifier.directory) if classifier.directory is not None else None
        if stance is None:
            log.warning("the model has no stance model (stance.safetensors): registry matches are decided by "
                        "similarity alone, and refuting posts are flagged too")
        if is_database(location):
            store = ClaimStore.open(location, embed=classifier.embed_claims, vector_model=classifier.fingerprint)
            return cls(classifier, settings, stance, store=store)
        return cls(classifier, settings, stance, claims=read_claims(location))

    @property
    def claims(self) -> list[Claim]:
        """The active claims in use."""
        return self._state[0]

    def refresh(self) -> None:
        """Reload the claims when the store's revision changed since the last load (one small query)."""
        if self.store is None:
            return
        revision = self.store.revision()
        if revision == self._revision:
            return
        with self._lock:
            if revision == self._revision:
                return
            claims, vectors, revision = self.store.claims_with_vectors()
            self.load_claims(claims, vectors)
            self._revision = revision
            log.info("fakes registry: %d active claims (revision %d)", len(claims), revision)

    def load_claims(self, claims: list[Claim], vectors: list[np.ndarray | None] | None = None) -> None:
        """Use ``claims``; those without a vector (``None``, or all when ``vectors`` is omitted) are embedded."""
        vectors = list(vectors) if vectors is not None else [None] * len(claims)
        missing = [i for i, v in enumerate(vectors) if v is None]
        if missing:
            computed = self.classifier.embed_claims([claims[i].claim for i in missing])
            for i, vector in zip(missing, computed):
                vectors[i] = vector
        hidden = self.classifier.heads.hidden_size
        matrix = np.stack(vectors) if vectors else np.zeros((0, hidden), dtype=np.float32)
        sparse = getattr(self.classifier, "sparse", None)
        lexical = None
        if sparse is not None and claims:
            from cur_nlp.batching import clean_texts

            lexical = LexicalOverlap(sparse, sparse.features(clean_texts([c.claim for c in claims])))
        # swapped in one assignment, so a concurrent reader sees the old registry or the new one, never a mix
        self._state = (claims, _unit(matrix), lexical)

    def candidates(self, vectors: np.ndarray, texts: Sequence[str], features: Any | None = None,
                   threshold: float | None = None) -> Candidates:
        """The ``top_k`` closest claims of each post at or above ``threshold`` (default: the tuned retrieval
        threshold), with their stance probabilities."""
        self.refresh()
        claims, claim_vectors, lexical = self._state
        threshold = self.settings.retrieval_threshold if threshold is None else threshold
        empty = np.zeros(0, dtype=np.int64)
        if not claims or len(texts) == 0:
            return Candidates(claims, empty, empty, np.zeros(0, np.float32), np.zeros((0, 3), np.float32), None)
        posts = _unit(vectors)
        dense = posts @ claim_vectors.T
        if lexical is not None:
            if features is None:
                features = self.classifier.sparse.features(list(texts))
            words = lexical.cosine(features)
            weight = self.settings.lexical_weight
            similarity = (1 - weight) * dense + weight * words
        else:
            words, similarity = dense, dense
        ranked = np.argsort(-similarity, axis=1, kind="stable")
        top = ranked[:, :min(self.settings.top_k, len(claims))]
        rows, cols = np.nonzero(np.take_along_axis(similarity, top, axis=1) >= threshold)
        claim_ids = top[rows, cols]
        pair_similarity = similarity[rows, claim_ids]
        pairs = None
        if self.stance is None:
            probs = np.zeros((rows.size, 3), dtype=np.float32)
            probs[:, 0] = 1.0  # similarity alone: every candidate above the threshold is taken as spreading it
        else:
            best = similarity[np.arange(len(posts)), ranked[:, 0]]
            second = similarity[np.arange(len(posts)), ranked[:, 1]] if len(claims) > 1 else np.zeros(len(posts))
            # ahead of the next claim for the closest one, behind the closest one for the others
            margin = np.where(cols == 0, best[rows] - second[rows], pair_similarity - best[rows])
            overlap = (lexical.pairs(features, rows, claim_ids) if lexical is not None
                       else np.zeros((rows.size, 0), dtype=np.float32))
            scores = PairScores(dense[rows, claim_ids], words[rows, claim_ids], margin, overlap)
            post_words = self.stance.post_words([texts[r] for r in rows])
            pairs = pair_features(scores, post_words)
            probs = self.stance.probabilities(pairs)
        return Candidates(claims, rows, claim_ids, pair_similarity, probs, pairs)

    def match(self, vectors: np.ndarray, texts: Sequence[str], features: Any | None = None) -> list[RegistryMatch | None]:
        """Per post (``texts`` cleaned; ``features`` their sparse features if already computed): its relation to
        the closest registered claim, or ``None`` when it is about none of them."""
        return decide(self.candidates(vectors, texts, features), len(texts), self.settings.spread_threshold)


class LexicalOverlap:
    """TF-IDF of the claims against posts, per block of the model's sparse features (word and character n-grams):
    the cosine (blocks averaged) for retrieval, and per block, for candidate pairs, the cosine and the claim's
    coverage — the share of the claim's TF-IDF mass whose n-grams the post contains (a post that only shares the
    subject covers little of what the rumour asserts)."""

    def __init__(self, sparse: Any, claim_features: Any) -> None:
        from scipy import sparse as sp

        sizes = [len(block.vocabulary) for block in sparse.blocks]
        self.bounds = np.cumsum([0, *sizes])
        # column → its block, as a (features × blocks) matrix of ones that sums a row's values per block
        self.block_sums = sp.csr_matrix((np.ones(self.bounds[-1], np.float32),
                                         (np.arange(self.bounds[-1]), np.repeat(np.arange(len(sizes)), sizes))),
                                        shape=(self.bounds[-1], len(sizes)))
        self.claims = sp.csr_matrix(claim_features, dtype=np.float32)
        self.claims_t = sp.csc_matrix(self.claims.T)
        self.scale = np.float32(1.0 / len(sizes))  # each block is unit length

    def cosine(self, features: Any) -> np.ndarray:
        """``(posts, claims)`` cosine of the concatenated blocks."""
        return (features @ self.claims_t).toarray().astype(np.float32) * self.scale

    def pairs(self, features: Any, rows: np.ndarray, claim_index: np.ndarray) -> np.ndarray:
        """``(pairs, 2 × blocks)``: per block the cosine, then per block the claim's coverage by the post (sparse
        products summed per block: nothing as wide as the vocabulary is ever made dense)."""
        if len(self.bounds) < 2:
            return np.zeros((len(rows), 0), np.float32)
        posts, claims = features[rows], self.claims[claim_index]
        product = posts.multiply(claims)
        covered = (posts > 0).multiply(claims.multiply(claims))
        blocks = np.concatenate([(product @ self.block_sums).toarray(), (covered @ self.block_sums).toarray()], axis=1)
        return blocks.astype(np.float32)


@dataclass(frozen=True)
class Candidates:
    """Post–claim pairs that passed retrieval: post row, claim index, similarity, stance probabilities and the
    stance model's input features (``None`` without a stance model)."""

    claims: list[Claim]
    rows: np.ndarray
    claim_index: np.ndarray
    similarity: np.ndarray
    probabilities: np.ndarray
    features: Any = None

    def above(self, threshold: float) -> "Candidates":
        """The pairs at or above a higher retrieval threshold."""
        keep = self.similarity >= threshold
        return Candidates(self.claims, self.rows[keep], self.claim_index[keep], self.similarity[keep],
                          self.probabilities[keep], None if self.features is None else self.features[keep])


def decide(candidates: Candidates, n_posts: int, spread_threshold: float) -> list[RegistryMatch | None]:
    """Per post: the candidate it is most likely about (least likely ``unrelated``); ``spreads`` when its
    p(spreads) ≥ ``spread_threshold``, ``refutes`` when refuting is its most probable stance, else no match."""
    results: list[RegistryMatch | None] = [None] * n_posts
    unrelated = STANCES.index("unrelated")
    probs = candidates.probabilities
    for post in np.unique(candidates.rows):
        pairs = np.flatnonzero(candidates.rows == post)
        pick = pairs[np.argmin(probs[pairs, unrelated])]
        p_spread, p_refute, p_unrelated = (float(p) for p in probs[pick])
        if p_spread >= spread_threshold:
            stance = "spreads"
        elif p_refute >= max(p_spread, p_unrelated):
            stance = "refutes"
        else:
            continue
        results[int(post)] = RegistryMatch(candidates.claims[candidates.claim_index[pick]],
                                           float(candidates.similarity[pick]), stance, p_spread)
    return results
