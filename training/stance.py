"""Train the registry's stance model on team-written posts, tune its thresholds on dev, evaluate it on test.

``cur-nlp train-stance --model DIR``. The data (training/data/fakes/, docs/fakes.md) are split by claim:

- train: posts about the claims of the example registry and of the training claim files (``train_posts*.jsonl``,
  ``train_claims_*.jsonl``; registry = those claims);
- dev / test: posts about other claims (``eval_posts.jsonl``, ``eval_claims.jsonl``), matched against the training
  claims plus the dev claims (dev) or plus all evaluation claims (test), so that every claim of another split is a
  distractor and no test claim is seen before the test.

Pairs for training are each post with its ``top_k`` closest claims: the pair with the post's own claim takes the
post's stance, every other pair is ``unrelated``. The retrieval and spread thresholds are chosen on dev for the
F1 of flagging the right claim, keeping flagged refutations ≤ 10% and flagged unrelated posts ≤ 2% where possible.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from cur_nlp.batching import clean_texts
from cur_nlp.classifier import ComplaintClassifier
from cur_nlp.fakes.claims import Claim, read_claims
from cur_nlp.fakes.matcher import Candidates, FakeMatcher, decide
from cur_nlp.fakes.stance import STANCES, StanceModel
from cur_nlp.model_dir import FakeMatching, ModelConfig
from cur_nlp.sparse import TfidfBlock

log = logging.getLogger("cur_nlp.stance")

DATA = Path(__file__).parent / "data" / "fakes"
REGISTRY = Path(__file__).parent.parent / "examples" / "fakes_registry.jsonl"
MAX_REFUTES_FLAGGED = 0.10
MAX_UNRELATED_FLAGGED = 0.02


@dataclass(frozen=True)
class Post:
    id: str
    text: str
    claim_id: str | None
    stance: str
    form: str


@dataclass(frozen=True)
class Split:
    """Posts of one split and the registry they are matched against."""

    posts: list[Post]
    claims: list[Claim]


def _posts(path: Path, split: str | None = None) -> list[Post]:
    posts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        if record["stance"] not in STANCES:
            raise ValueError(f"{path}:{number}: stance must be one of {STANCES}, found {record['stance']!r}")
        if split is None or record.get("split") == split:
            posts.append(Post(record["id"], record["text"], record.get("claim_id"), record["stance"], record["form"]))
    return posts


def load_splits(data_dir: Path = DATA, registry: Path = REGISTRY) -> dict[str, Split]:
    """The train, dev and test splits (see the module docstring). Train: the posts of every ``train_posts*.jsonl``,
    about the example registry's claims and those of every ``train_claims_*.jsonl``."""
    train_claims = read_claims(registry)
    for path in sorted(data_dir.glob("train_claims_*.jsonl")):
        train_claims += read_claims(path)
    claims_by_split: dict[str, list[Claim]] = {"dev": [], "test": []}
    for line in (data_dir / "eval_claims.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            split = record.pop("split")
            claims_by_split[split].append(Claim.from_record(record))
    evaluation = data_dir / "eval_posts.jsonl"
    train_posts = [post for path in sorted(data_dir.glob("train_posts*.jsonl")) for post in _posts(path)]
    return {
        "train": Split(train_posts, train_claims),
        "dev": Split(_posts(evaluation, "dev"), train_claims + claims_by_split["dev"]),
        "test": Split(_posts(evaluation, "test"), train_claims + claims_by_split["dev"] + claims_by_split["test"]),
    }


@dataclass(frozen=True)
class Embedded:
    """A split's cleaned texts, their encoder vectors and its claims' vectors, computed once for every setting."""

    split: Split
    texts: list[str]
    vectors: np.ndarray
    claim_vectors: np.ndarray


def embed_split(classifier: ComplaintClassifier, split: Split) -> Embedded:
    texts = clean_texts([p.text for p in split.posts])
    return Embedded(split, texts, classifier.embed(texts, normalized=True)[0],
                    classifier.embed_claims([c.claim for c in split.claims]))


def _candidates(matcher: FakeMatcher, embedded: Embedded) -> Candidates:
    matcher.load_claims(list(embedded.split.claims), list(embedded.claim_vectors))
    return matcher.candidates(embedded.vectors, embedded.texts, threshold=-1.0)


def pair_labels(candidates: Candidates, posts: list[Post]) -> np.ndarray:
    """Stance index per pair: the post's stance for its own claim, ``unrelated`` for any other claim."""
    unrelated = STANCES.index("unrelated")
    return np.array([STANCES.index(posts[r].stance) if candidates.claims[c].id == posts[r].claim_id else unrelated
                     for r, c in zip(candidates.rows.tolist(), candidates.claim_index.tolist())])


def fit_words(texts: list[str]) -> TfidfBlock:
    """Word 1–2-gram TF-IDF of the training posts (the runtime :class:`TfidfBlock` transform)."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(texts)
    return TfidfBlock("word", (1, 2), sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get), vectorizer.idf_)


def flag_metrics(posts: list[Post], matches: list) -> dict:
    """Precision, recall and F1 of flagging the right claim; share of refuting and of unrelated posts flagged;
    refutations recognised; recall per form."""
    tp = fp = 0
    by_form: dict[str, list[int]] = {}
    refutes = [0, 0, 0]  # posts, flagged as spreading, recognised as refuting their claim
    unrelated = [0, 0]
    for post, match in zip(posts, matches):
        flagged = match is not None and match.stance == "spreads"
        right = flagged and match.claim.id == post.claim_id
        if post.stance == "spreads":
            by_form.setdefault(post.form, []).append(int(right))
            tp += right
            fp += flagged and not right
        else:
            fp += flagged
        if post.stance == "refutes":
            refutes[0] += 1
            refutes[1] += flagged
            refutes[2] += match is not None and match.stance == "refutes" and match.claim.id == post.claim_id
        if post.stance == "unrelated":
            unrelated[0] += 1
            unrelated[1] += flagged
    positives = sum(len(v) for v in by_form.values())
    precision = tp / max(tp + fp, 1)
    recall = tp / max(positives, 1)
    return {
        "posts": len(posts), "spreading": positives, "true_positives": tp, "false_positives": fp,
        "precision": round(precision, 4), "recall": round(recall, 4),
        "f1": round(2 * precision * recall / max(precision + recall, 1e-12), 4),
        "refuting": refutes[0], "refuting_flagged": round(refutes[1] / max(refutes[0], 1), 4),
        "refuting_recognised": round(refutes[2] / max(refutes[0], 1), 4),
        "unrelated": unrelated[0], "unrelated_flagged": round(unrelated[1] / max(unrelated[0], 1), 4),
        "recall_by_form": {form: round(float(np.mean(v)), 4) for form, v in sorted(by_form.items())},
    }


def tune(candidates: Candidates, posts: list[Post]) -> tuple[float, float, dict]:
    """Retrieval and spread thresholds with the best dev F1 within the flagging limits (else the best F1)."""
    best: tuple[tuple, float, float, dict] | None = None
    retrieval_grid = np.unique(np.round(np.quantile(candidates.similarity, np.linspace(0, 0.95, 40)), 3))
    for retrieval in retrieval_grid:
        kept = candidates.above(float(retrieval))
        for spread in np.round(np.arange(0.2, 0.96, 0.05), 2):
            metrics = flag_metrics(posts, decide(kept, len(posts), float(spread)))
            within = (metrics["refuting_flagged"] <= MAX_REFUTES_FLAGGED
                      and metrics["unrelated_flagged"] <= MAX_UNRELATED_FLAGGED)
            key = (within, metrics["f1"], -metrics["unrelated_flagged"])
            if best is None or key > best[0]:
                best = (key, float(retrieval), float(spread), metrics)
    assert best is not None
    return best[1], best[2], best[3]


LEXICAL_WEIGHTS = (0.5, 0.8, 1.0)
REGULARISATION = (1.0, 3.0, 10.0)
"""The settings tried; the one with the best dev result (:func:`tune`'s order) is kept."""


def fit_stance(matcher: FakeMatcher, train: Embedded, C: float) -> int:
    """Fit ``matcher.stance`` (in place) on the pairs of the train split; returns the number of pairs."""
    candidates = _candidates(matcher, train)
    labels = pair_labels(candidates, train.split.posts)
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(candidates.features, labels)
    weight = np.zeros((candidates.features.shape[1], 3), np.float32)
    bias = np.full(3, -30.0, np.float32)  # a stance unseen in train stays impossible
    weight[:, model.classes_] = model.coef_.T
    bias[model.classes_] = model.intercept_
    matcher.stance.weight, matcher.stance.bias = weight, bias
    log.info("stance model (C %g, lexical weight %g): %d pairs, %s", C, matcher.settings.lexical_weight, len(labels),
             dict(Counter(STANCES[i] for i in labels.tolist())))
    return len(labels)


def train_stance(model_dir: Path, data_dir: Path = DATA, registry: Path = REGISTRY) -> dict:
    """Fit the stance model of ``model_dir`` on train for each setting of :data:`LEXICAL_WEIGHTS` ×
    :data:`REGULARISATION`, tune thresholds and choose the setting on dev, evaluate the choice once on test; save
    the model, its settings (``extra.fakes`` of config.json) and ``eval/fakes.json``. Returns the numbers."""
    splits = load_splits(data_dir, registry)
    classifier = ComplaintClassifier.from_pretrained(model_dir, backend="torch", registry=None)
    embedded = {name: embed_split(classifier, split) for name, split in splits.items()}
    words = fit_words(embedded["train"].texts)
    blocks = len(classifier.sparse.blocks) if classifier.sparse is not None else 0
    width = 3 + 2 * blocks + len(words.vocabulary)  # the layout of pair_features
    best: tuple | None = None
    tried = []
    for lexical_weight in LEXICAL_WEIGHTS if blocks else (0.0,):
        for C in REGULARISATION:
            stance = StanceModel(words, np.zeros((width, 3), np.float32), np.zeros(3, np.float32))
            matcher = FakeMatcher(classifier, FakeMatching(-1.0, lexical_weight=lexical_weight), stance)
            pairs = fit_stance(matcher, embedded["train"], C)
            retrieval, spread, dev = tune(_candidates(matcher, embedded["dev"]), splits["dev"].posts)
            within = dev["refuting_flagged"] <= MAX_REFUTES_FLAGGED and dev["unrelated_flagged"] <= MAX_UNRELATED_FLAGGED
            tried.append({"lexical_weight": lexical_weight, "C": C, "dev_f1": dev["f1"], "within_limits": within})
            key = (within, dev["f1"], -dev["unrelated_flagged"])
            if best is None or key > best[0]:
                best = (key, matcher, retrieval, spread, dev, C, pairs)
    assert best is not None
    _, matcher, retrieval, spread, dev, C, pairs = best
    lexical_weight = matcher.settings.lexical_weight
    test_candidates = _candidates(matcher, embedded["test"]).above(retrieval)
    test = flag_metrics(splits["test"].posts, decide(test_candidates, len(splits["test"].posts), spread))
    sizes = {name: {"posts": len(s.posts), "claims": len(s.claims)} for name, s in splits.items()}
    result = {"retrieval_threshold": retrieval, "spread_threshold": spread, "lexical_weight": lexical_weight,
              "C": C, "dev": dev, "test": test, "splits": sizes, "train_pairs": pairs, "tried_on_dev": tried}
    matcher.stance.save(model_dir)
    config = ModelConfig.load(model_dir)
    config.extra.fakes = FakeMatching(retrieval_threshold=round(retrieval, 4), spread_threshold=round(spread, 4),
                                      top_k=matcher.settings.top_k, lexical_weight=lexical_weight,
                                      tuning={"dev": dev, "splits": sizes, "C": C})
    config.extra.registry_threshold, config.extra.registry_tuning = None, None
    config.save(model_dir)
    (model_dir / "eval").mkdir(exist_ok=True)
    (model_dir / "eval" / "fakes.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n",
                                                   encoding="utf-8")
    return result
