"""Side-by-side comparison of models on the same test sets, with paired bootstrap intervals."""

from __future__ import annotations

import numpy as np

from cur_nlp_training.compare import compare, comparison_markdown
from cur_nlp_training.evaluate import EvalSet
from cur_nlp_training.metrics import paired_bootstrap

URGENCY = ["critical", "high", "normal", "low"]


class Fixed:
    """A scorer that returns fixed decisions for the urgency head."""

    def __init__(self, name: str, decided: list[str]) -> None:
        self.name, self.decided = name, decided

    def head_labels(self):
        return {"urgency": URGENCY}

    def score(self, texts):
        idx = np.array([URGENCY.index(d) for d in self.decided])
        return {"urgency": (np.eye(4)[idx], idx)}


def test_the_first_model_is_compared_with_each_other_on_the_same_posts():
    gold = ["critical", "high", "normal", "low"] * 10
    better = Fixed("v2", gold[:-1] + ["normal"])  # one low post read as normal
    worse = Fixed("v1", ["normal"] * 40)
    eval_set = EvalSet("urgency_gold", [str(i) for i in range(40)], ["текст"] * 40, {"urgency": gold})
    report = compare([better, worse], [eval_set], rounds=200)
    entry = report["sets"]["urgency_gold"]["urgency"]
    assert entry["n"] == 40
    assert entry["scores"]["v1"]["critical recall"] == 0.0 and entry["scores"]["v2"]["critical recall"] == 1.0
    diff = entry["vs"]["v1"]["critical recall"]
    assert diff["diff"] == 1.0 and diff["low"] > 0 and diff["level"] == 0.95
    markdown = comparison_markdown(report)
    assert "v2 − v1 [95% CI]" in markdown and "| critical recall | 1.000 | 0.000 | +1.000" in markdown


def test_paired_bootstrap_interval_contains_the_difference_and_widens_with_level():
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 3, 300)
    a = np.where(rng.random(300) < 0.7, gold, (gold + 1) % 3)
    b = np.where(rng.random(300) < 0.8, gold, (gold + 1) % 3)
    accuracy = lambda g, p: float(np.mean(g == p))  # noqa: E731
    narrow, wide = paired_bootstrap(gold, a, b, accuracy, level=0.5), paired_bootstrap(gold, a, b, accuracy, level=0.95)
    assert narrow["low"] <= narrow["diff"] <= narrow["high"]
    assert wide["low"] < narrow["low"] and wide["high"] > narrow["high"]
