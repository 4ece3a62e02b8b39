"""Scores of a grouping against gold incidents: pairwise precision/recall/F1 over labelled pairs or over all pairs
(pair counting), cluster purity and inverse purity."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable, Mapping

from cur_nlp_training.geo_eval_common import prf


def labelled_pairs(assigned: Mapping[str, str], pairs: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """P/R/F1 of "same incident" over labelled pairs (``a``, ``b``, ``same``, ``kind``), and the share of pairs of
    each kind decided right."""
    tp = predicted = gold = 0
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pair in pairs:
        same = assigned[pair["a"]] == assigned[pair["b"]]
        tp += same and pair["same"]
        predicted += same
        gold += pair["same"]
        by_kind[pair["kind"]][0] += same == pair["same"]
        by_kind[pair["kind"]][1] += 1
    result = prf(tp, predicted, gold)
    result["accuracy_by_kind"] = {kind: {"right": right, "pairs": total, "accuracy": round(right / total, 4)}
                                  for kind, (right, total) in sorted(by_kind.items())}
    return result


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def clustering(assigned: Mapping[str, str], gold: Mapping[str, str]) -> dict[str, Any]:
    """Pair-counting P/R/F1 over all pairs of posts, purity (posts in their cluster's majority gold incident) and
    inverse purity (posts in their gold incident's majority cluster)."""
    cells = Counter((assigned[post], gold[post]) for post in gold)
    clusters, incidents = Counter(assigned[p] for p in gold), Counter(gold.values())
    tp = sum(_pairs(n) for n in cells.values())
    result = prf(tp, sum(_pairs(n) for n in clusters.values()), sum(_pairs(n) for n in incidents.values()))
    best_gold: dict[str, int] = defaultdict(int)
    best_cluster: dict[str, int] = defaultdict(int)
    for (cluster, incident), n in cells.items():
        best_gold[cluster] = max(best_gold[cluster], n)
        best_cluster[incident] = max(best_cluster[incident], n)
    posts = len(gold)
    result.update(purity=round(sum(best_gold.values()) / posts, 4),
                  inverse_purity=round(sum(best_cluster.values()) / posts, 4),
                  clusters=len(clusters), incidents=len(incidents), posts=posts)
    return result
