"""Metrics of one head: accuracy, macro-F1, per-class table, confusion matrix and calibration."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def expected_calibration_error(probs: np.ndarray, gold: np.ndarray, bins: int = 15) -> tuple[float, list[dict]]:
    """ECE of the top-label confidence (equal-width bins) and the per-bin table for a reliability plot."""
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == gold).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    table, ece = [], 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if not in_bin.any():
            continue
        accuracy, mean_conf, share = correct[in_bin].mean(), confidence[in_bin].mean(), in_bin.mean()
        ece += share * abs(accuracy - mean_conf)
        table.append({"low": float(low), "high": float(high), "count": int(in_bin.sum()),
                      "accuracy": float(accuracy), "confidence": float(mean_conf)})
    return float(ece), table


def macro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 over the classes present in gold or predictions (absent classes do not count as zeros)."""
    present = sorted(set(np.asarray(gold).tolist()) | set(np.asarray(pred).tolist()))
    return float(f1_score(gold, pred, labels=present, average="macro", zero_division=0))


def paired_bootstrap(gold: np.ndarray, a: np.ndarray, b: np.ndarray, metric: Callable[[np.ndarray, np.ndarray], float],
                     rounds: int = 1000, seed: int = 0, level: float = 0.90) -> dict[str, float]:
    """``metric`` of predictions ``b`` minus that of ``a`` on the same items: the point difference and the central
    ``level`` interval (``low``, ``high``) over ``rounds`` paired bootstrap resamples. With rare classes one changed
    label moves macro-F1 by more than half a point; the interval says whether a difference is larger than that."""
    rng = np.random.default_rng(seed)
    diffs = np.empty(rounds)
    for r in range(rounds):
        rows = rng.integers(0, len(gold), len(gold))
        diffs[r] = metric(gold[rows], b[rows]) - metric(gold[rows], a[rows])
    tail = (1 - level) / 2 * 100
    return {"diff": metric(gold, b) - metric(gold, a), "low": float(np.percentile(diffs, tail)),
            "high": float(np.percentile(diffs, 100 - tail)), "level": level}


def label_recall(label: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """A metric: recall of one label (0 where the resample has none of it)."""
    def recall(gold: np.ndarray, pred: np.ndarray) -> float:
        rows = gold == label
        return float((pred[rows] == label).mean()) if rows.any() else 0.0
    return recall


def label_f1(label: int) -> Callable[[np.ndarray, np.ndarray], float]:
    """A metric: F1 of one label (e.g. the positive class of a binary head)."""
    def f1(gold: np.ndarray, pred: np.ndarray) -> float:
        return float(f1_score(gold == label, pred == label, zero_division=0))
    return f1


def head_metrics(labels: list[str], gold: np.ndarray, pred: np.ndarray, probs: np.ndarray | None = None,
                 binary: bool = False) -> dict[str, Any]:
    """All metrics of one head from gold and predicted label indices (and probabilities for calibration)."""
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, pred, labels=list(range(len(labels))), zero_division=0
    )
    result: dict[str, Any] = {
        "n": int(len(gold)),
        "accuracy": float(accuracy_score(gold, pred)),
        "macro_f1": macro_f1(gold, pred),
        "per_class": {
            labels[i]: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                        "support": int(support[i])}
            for i in range(len(labels)) if support[i] or (pred == i).any()
        },
        "confusion": {"labels": labels, "matrix": confusion_matrix(gold, pred, labels=list(range(len(labels)))).tolist()},
    }
    if binary:
        result["positive_f1"] = float(f1[1])
        result["positive_precision"] = float(precision[1])
        result["positive_recall"] = float(recall[1])
    if probs is not None:
        result["ece"], result["reliability"] = expected_calibration_error(probs, gold)
    return result


def urgency_extras(labels: list[str], gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Critical recall and urgent-vs-not F1 (critical+high against normal+low)."""
    critical = labels.index("critical")
    urgent = [labels.index("critical"), labels.index("high")]
    is_critical = gold == critical
    gold_urgent, pred_urgent = np.isin(gold, urgent), np.isin(pred, urgent)
    return {
        "critical_recall": float((pred[is_critical] == critical).mean()) if is_critical.any() else float("nan"),
        "critical_precision": float((gold[pred == critical] == critical).mean()) if (pred == critical).any() else float("nan"),
        "urgent_vs_not_f1": float(f1_score(gold_urgent, pred_urgent, zero_division=0)),
    }
