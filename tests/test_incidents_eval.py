"""The evaluation of incident grouping: the pair set's split, the scores, and that the runtime's defaults are the
settings the evaluation chose on dev."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from cur_nlp.incidents import GroupingSettings
from cur_nlp_training.incidents_eval import HARD_KINDS, PAIR_SET, PairSet, best_of
from cur_nlp_training.incidents_metrics import clustering, labelled_pairs
from tests.conftest import REPO

needs_pair_set = pytest.mark.skipif(not (PAIR_SET / "pairs.jsonl").exists(), reason="no pair set")


@needs_pair_set
def test_the_split_keeps_every_hard_negative_inside_one_part():
    data = PairSet.load()
    split, incident = data.split(), data.gold()
    hard = [p for p in data.pairs if p["kind"] in HARD_KINDS]
    assert hard and all(split[incident[p["a"]]] == split[incident[p["b"]]] for p in hard)
    dev, test = data.part("dev"), data.part("test")
    assert len(dev[0]) + len(test[0]) == len(data.posts) and 0.4 < len(dev[0]) / len(data.posts) < 0.6
    assert not {p["id"] for p in dev[0]} & {p["id"] for p in test[0]}
    assert [p["created"] for p in dev[0]] == sorted(p["created"] for p in dev[0])


def test_pairwise_and_clustering_scores():
    assigned = {"a": "x", "b": "x", "c": "x", "d": "y"}
    gold = {"a": "1", "b": "1", "c": "2", "d": "2"}
    pairs = [{"a": "a", "b": "b", "same": True, "kind": "reply"},
             {"a": "a", "b": "c", "same": False, "kind": "later"},
             {"a": "c", "b": "d", "same": True, "kind": "paraphrase"}]
    scores = labelled_pairs(assigned, pairs)
    assert (scores["precision"], scores["recall"], scores["f1"]) == (0.5, 0.5, 0.5)
    assert scores["accuracy_by_kind"]["later"]["accuracy"] == 0.0
    clusters = clustering(assigned, gold)
    assert (clusters["precision"], clusters["recall"]) == (round(1 / 3, 4), 0.5)
    assert clusters["purity"] == 0.75 and clusters["inverse_purity"] == 0.75


def test_near_ties_in_f1_go_to_purity():
    score = lambda f1, purity: {"pairs": {"f1": f1}, "clusters": {"purity": purity}}
    assert best_of([("a", score(0.912, 0.81)), ("b", score(0.910, 0.84)), ("c", score(0.90, 0.99))])[0] == "b"
    assert best_of([("a", score(0.91, 0.8)), ("b", score(0.91, 0.8))])[0] == "a"


def test_the_runtime_defaults_are_the_settings_chosen_on_dev():
    report = REPO / "reports" / "incidents" / "eval.json"
    chosen = json.loads(report.read_text(encoding="utf-8"))["chosen_settings"]
    assert asdict(GroupingSettings()) == chosen
