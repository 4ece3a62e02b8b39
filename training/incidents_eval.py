"""Evaluation of incident grouping (``cur-nlp incidents-eval``): the team's pair set, split dev/test by clusters of
related incidents, thresholds and the text signal tuned on dev only, scores reported on test; and the silver check
on SPb portal posts of March 2021 (:mod:`cur_nlp_training.incidents_silver`).

The split keeps every hard negative (same street other house, same house other problem, later, other town) inside
one part: incidents linked by such pairs form a cluster, and whole clusters go to dev or test (seeded shuffle).
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import datetime, timezone
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from cur_nlp.incidents import GroupingSettings, IncidentGrouper, Post, post_from_record
from cur_nlp.incidents.textsim import SparseVector
from cur_nlp_training.incidents_metrics import clustering, labelled_pairs

PAIR_SET = Path(__file__).resolve().parent / "data" / "incidents"
HARD_KINDS = ("same_street_other_house", "same_house_other_problem", "later", "other_town")
SEED = 19

CHAR_GRID = {"house_threshold": [0.0, 0.05, 0.1, 0.15, 0.2, 0.3], "street_threshold": [0.0, 0.1, 0.2, 0.3, 0.5],
             "unplaced_threshold": [0.3, 0.4, 0.5, 0.6, 0.7, 1.01], "topic_weight": [0.0, 0.2, 0.5],
             "quiet_hours": [48.0, 72.0]}
"""Settings tried on dev with the character n-gram similarity (1.01: never without a place). Posts without a place
join on text alone, at a cosine of at least 0.3: the pair set has few of them, while a real stream has many, and
lower thresholds join unrelated complaints of one town."""
ENCODER_GRID = {"house_threshold": [0.0, 0.5, 0.6, 0.7, 0.8], "street_threshold": [0.0, 0.6, 0.7, 0.8, 0.9],
                "unplaced_threshold": [0.8, 0.85, 0.9, 0.95, 1.01], "topic_weight": [0.0, 0.2, 0.5],
                "quiet_hours": [48.0, 72.0]}
"""The same with the model's encoder vectors (their cosines sit higher)."""
NO_TEXT_GRID = {"house_threshold": [0.0], "street_threshold": [0.0, 0.2, 0.5], "unplaced_threshold": [1.01],
                "topic_weight": [0.5, 1.0], "quiet_hours": [48.0, 72.0]}
"""Place, time and topic only (text similarity set to 0, so posts without a place never join)."""


@dataclass
class PairSet:
    """The team's posts (with predictions once classified) and labelled pairs."""

    posts: list[dict[str, Any]]
    pairs: list[dict[str, Any]]

    @classmethod
    def load(cls, folder: Path = PAIR_SET) -> "PairSet":
        read = lambda name: [json.loads(line) for line in (folder / name).open(encoding="utf-8") if line.strip()]
        return cls(read("posts.jsonl"), read("pairs.jsonl"))

    def gold(self) -> dict[str, str]:
        """Post id → gold incident id."""
        return {post["id"]: post["incident"] for post in self.posts}

    def split(self, seed: int = SEED) -> dict[str, str]:
        """Incident id → ``dev`` or ``test``: clusters linked by hard negatives, shuffled, first half dev."""
        incident = self.gold()
        parent = {i: i for i in incident.values()}

        def root(i: str) -> str:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for pair in self.pairs:
            if pair["kind"] in HARD_KINDS:
                parent[root(incident[pair["a"]])] = root(incident[pair["b"]])
        clusters = sorted({root(i) for i in parent})
        random.Random(seed).shuffle(clusters)
        dev = set(clusters[: len(clusters) // 2])
        return {i: "dev" if root(i) in dev else "test" for i in parent}

    def part(self, name: str, seed: int = SEED) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The posts (in time order) and the pairs of one part."""
        split, incident = self.split(seed), self.gold()
        posts = sorted((p for p in self.posts if split[p["incident"]] == name), key=lambda p: (p["created"], p["id"]))
        pairs = [p for p in self.pairs if split[incident[p["a"]]] == name and split[incident[p["b"]]] == name]
        return posts, pairs


def classify(posts: Sequence[dict[str, Any]], model: Path | None = None) -> list[dict[str, Any]]:
    """Prediction records of the posts with the model and place extraction (the gold ``topic`` kept apart as
    ``gold_topic``; ``city`` kept: the town of the page a post was written on)."""
    from cur_nlp.classifier import ComplaintClassifier

    classifier = ComplaintClassifier.from_pretrained(model, locate=True, registry=None)
    predictions = classifier.predict([p["text"] for p in posts])
    return [{**{k: v for k, v in post.items() if k != "topic"}, "gold_topic": post["topic"], **pred.to_dict()}
            for post, pred in zip(posts, predictions)]


def encoder_vectors(records: Sequence[dict[str, Any]], model: Path | None = None) -> dict[str, SparseVector]:
    """Post id → the model's pooled encoder vector (unit length, as a dense :class:`SparseVector`)."""
    from cur_nlp.classifier import ComplaintClassifier

    classifier = ComplaintClassifier.from_pretrained(model, registry=None)
    vectors, _ = classifier.embed([r["text"] for r in records])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    columns = np.arange(vectors.shape[1], dtype=np.int64)
    return {r["id"]: SparseVector(columns, v.astype(np.float32)) for r, v in zip(records, vectors)}


def posts_of(records: Sequence[dict[str, Any]], vectors: dict[str, SparseVector] | None = None,
             no_text: bool = False) -> list[Post]:
    """Grouping posts of the records, with another text vector when given (or an empty one with ``no_text``)."""
    posts = [post_from_record(r, datetime.now(timezone.utc), r["id"]) for r in records]
    if vectors is not None:
        posts = [replace(p, vector=vectors[p.id]) for p in posts]
    if no_text:
        empty = SparseVector(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        posts = [replace(p, vector=empty) for p in posts]
    return posts


def run(posts: Sequence[Post], settings: GroupingSettings) -> dict[str, str]:
    """Post id → incident id, grouping ``posts`` in their order (as a stream would)."""
    grouper = IncidentGrouper(settings)
    assigned = {}
    for post in posts:
        incident, _ = grouper.assign(post)
        assigned[post.id] = incident.id
        grouper.close_quiet(post.time)
    # an incident's id is its first post's id, so ids stay valid after closing
    return assigned


def score(posts: Sequence[Post], pairs: Sequence[dict[str, Any]], gold: dict[str, str],
          settings: GroupingSettings) -> dict[str, Any]:
    """Labelled-pair and clustering scores of one setting."""
    assigned = run(posts, settings)
    return {"pairs": labelled_pairs(assigned, pairs),
            "clusters": clustering(assigned, {p.id: gold[p.id] for p in posts})}


F1_TIE = 0.005
"""Pairwise F1 differences smaller than this (about one labelled pair of dev's 556) count as ties, decided by
cluster purity, then by the order the candidates were tried in."""


def best_of(candidates: Sequence[tuple[Any, dict[str, Any]]]) -> tuple[Any, dict[str, Any]]:
    """The candidate (anything, scores) with the best pairwise F1, ties (:data:`F1_TIE`) going to purity, then to
    the first."""
    top = max(scores["pairs"]["f1"] for _, scores in candidates)
    close = [c for c in candidates if c[1]["pairs"]["f1"] >= top - F1_TIE]
    return max(close, key=lambda c: c[1]["clusters"]["purity"])  # max keeps the first of equals


def tune(posts: Sequence[Post], pairs: Sequence[dict[str, Any]], gold: dict[str, str],
         grid: dict[str, list[float]]) -> tuple[GroupingSettings, dict[str, Any]]:
    """The setting of ``grid`` that :func:`best_of` picks on these posts."""
    keys = list(grid)
    candidates = []
    for values in itertools.product(*(grid[k] for k in keys)):
        settings = GroupingSettings(**dict(zip(keys, values)))
        candidates.append((settings, score(posts, pairs, gold, settings)))
    return best_of(candidates)


def evaluate_pair_set(model: Path | None = None, folder: Path = PAIR_SET,
                      log: Callable[[str], None] = print) -> dict[str, Any]:
    """Tune each text signal on dev, pick the best on dev (:func:`best_of`; character n-grams first, as they need
    no model), score it once on test."""
    data = PairSet.load(folder)
    gold = data.gold()
    log(f"classifying {len(data.posts)} posts of the pair set")
    records = {r["id"]: r for r in classify(data.posts, model)}
    vectors = encoder_vectors(list(records.values()), model)
    parts = {}
    for name in ("dev", "test"):
        raw, pairs = data.part(name)
        parts[name] = ([records[p["id"]] for p in raw], pairs)
    signals = {"char_ngrams": (CHAR_GRID, {}), "encoder_vectors": (ENCODER_GRID, {"vectors": vectors}),
               "none": (NO_TEXT_GRID, {"no_text": True})}
    dev_records, dev_pairs = parts["dev"]
    tuned = {}
    for signal, (grid, options) in signals.items():
        settings, result = tune(posts_of(dev_records, **options), dev_pairs, gold, grid)
        tuned[signal] = {"settings": asdict(settings), "dev": result}
        log(f"dev, text signal {signal}: pairwise F1 {result['pairs']['f1']}, purity {result['clusters']['purity']}")
    chosen = best_of([(signal, t["dev"]) for signal, t in tuned.items()])[0]
    test_records, test_pairs = parts["test"]
    settings = GroupingSettings(**tuned[chosen]["settings"])
    test = score(posts_of(test_records, **signals[chosen][1]), test_pairs, gold, settings)
    log(f"test, {chosen}: pairwise F1 {test['pairs']['f1']}, purity {test['clusters']['purity']}")
    return {"chosen_signal": chosen, "chosen_settings": asdict(settings), "tuned_on_dev": tuned, "test": test,
            "sizes": {name: {"posts": len(recs), "pairs": len(prs), "positive_pairs": sum(p["same"] for p in prs)}
                      for name, (recs, prs) in parts.items()},
            "topic_accuracy_vs_gold": round(float(np.mean([r["topic"]["label"] == r["gold_topic"]
                                                           for r in records.values()])), 4)}


def report_markdown(result: dict[str, Any]) -> str:
    """The evaluation as Markdown (reports/incidents/eval.md)."""
    test, sizes = result["test"], result["sizes"]
    lines = ["# Incident grouping: evaluation", "",
             "Written by `cur-nlp incidents-eval`. The team's pair set (`training/data/incidents/`) is split by "
             "clusters of incidents linked by hard negatives; every setting below was tuned on dev only, and the "
             "chosen one was scored once on test.", "",
             "| part | posts | labelled pairs | positive |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {s['posts']} | {s['pairs']} | {s['positive_pairs']} |" for name, s in sizes.items()]
    lines += ["", f"The model's topic agrees with the incident's gold topic on {result['topic_accuracy_vs_gold']:.1%} "
              "of the posts.", "", "## Text signal, tuned on dev", "",
              "| text signal | pairwise P | R | F1 | purity | settings |", "|---|---:|---:|---:|---:|---|"]
    for signal, tuned in result["tuned_on_dev"].items():
        dev, s = tuned["dev"], tuned["settings"]
        lines.append(f"| {signal} | {dev['pairs']['precision']:.3f} | {dev['pairs']['recall']:.3f} | "
                     f"{dev['pairs']['f1']:.3f} | {dev['clusters']['purity']:.3f} | quiet {s['quiet_hours']:g} h, "
                     f"house {s['house_threshold']:g}, street {s['street_threshold']:g}, unplaced "
                     f"{s['unplaced_threshold']:g}, topic weight {s['topic_weight']:g} |")
    pairs, clusters = test["pairs"], test["clusters"]
    lines += ["", f"Chosen: **{result['chosen_signal']}**.", "", "## Test", "",
              "| pairwise precision | recall | F1 (target ≥ 0.85) | purity | inverse purity | incidents found / gold |",
              "|---:|---:|---:|---:|---:|---:|",
              f"| {pairs['precision']:.3f} | {pairs['recall']:.3f} | **{pairs['f1']:.3f}** | {clusters['purity']:.3f} | "
              f"{clusters['inverse_purity']:.3f} | {clusters['clusters']} / {clusters['incidents']} |", "",
              "| pair kind | pairs | decided right |", "|---|---:|---:|"]
    lines += [f"| {kind} | {k['pairs']} | {k['accuracy']:.1%} |" for kind, k in pairs["accuracy_by_kind"].items()]
    silver = result.get("silver")
    if silver:
        lines += ["", "## Silver check: SPb portal, March 2021", "",
                  f"{silver['posts']} posts, {silver['silver_incidents']} silver incidents (same address and reason, "
                  "each post within 3 days of the previous one). Pair counting over all pairs of posts.", "",
                  "| grouping | pairwise P | R | F1 | purity | inverse purity | incidents found |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for name in ("grouping", "place_and_time_only"):
            s = silver[name]
            lines.append(f"| {name.replace('_', ' ')} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | "
                         f"{s['purity']:.3f} | {s['inverse_purity']:.3f} | {s['clusters']} |")
    return "\n".join(lines) + "\n"
