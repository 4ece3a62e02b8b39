"""Post-training calibration and decision tuning on the dev split."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import f1_score

from cur_nlp.decoding import softmax


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    """Temperature that minimises the negative log-likelihood of ``gold`` (temperature scaling)."""

    def nll(t: float) -> float:
        probs = softmax(logits, t)
        return float(-np.log(np.clip(probs[np.arange(len(gold)), gold], 1e-12, 1)).mean())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


MIN_SUPPORT_FOR_BIAS = 30
"""Classes with fewer dev examples keep offset 0: tuning on a handful of posts fits noise."""


def tune_class_bias(probs: np.ndarray, gold: np.ndarray, min_recall: dict[int, float] | None = None,
                    grid: np.ndarray | None = None, rounds: int = 2,
                    min_support: int = MIN_SUPPORT_FOR_BIAS, min_precision: float = 0.5) -> list[float]:
    """Additive log-probability offsets per class that maximise macro-F1 on dev (coordinate ascent over classes
    with at least ``min_support`` dev examples), then raise the offset of classes in ``min_recall`` until their
    dev recall reaches the target — but never so far that the class's dev precision falls below ``min_precision``
    (an operator flooded with false "critical" alerts stops reading them)."""
    grid = np.arange(-1.5, 1.51, 0.25) if grid is None else grid
    logp = np.log(np.clip(probs, 1e-12, 1))
    present = sorted(set(gold.tolist()))
    tunable = [c for c in present if (gold == c).sum() >= min_support]
    bias = np.zeros(probs.shape[1])

    def score(b: np.ndarray) -> float:
        return f1_score(gold, (logp + b).argmax(1), labels=present, average="macro", zero_division=0)

    best = score(bias)
    for _ in range(rounds):
        for c in tunable:
            for value in grid:
                trial = bias.copy()
                trial[c] = value
                s = score(trial)
                if s > best + 1e-6:
                    best, bias = s, trial
    for c, target in (min_recall or {}).items():
        mask = gold == c
        if not mask.any():
            continue
        start = bias[c]
        for value in np.arange(start, start + 6.01, 0.1):
            trial = bias.copy()
            trial[c] = value
            pred = (logp + trial).argmax(1)
            if (pred == c).any() and (gold[pred == c] == c).mean() < min_precision:
                break  # more recall would cost precision below the floor: keep the last acceptable offset
            bias = trial
            if (pred[mask] == c).mean() >= target:
                break
    return [float(round(b, 3)) for b in bias]


def tune_recall_threshold(probs: np.ndarray, gold: np.ndarray, label: int, target: float, base_pred: np.ndarray,
                          min_precision: float = 0.5) -> float | None:
    """The highest probability at or above which choosing ``label`` (over ``base_pred``) reaches ``target`` dev
    recall of that label, without its dev precision falling below ``min_precision`` (an operator flooded with false
    alarms stops reading them: then the lowest threshold that keeps the floor). ``None`` when ``base_pred`` already
    reaches the target or the label has no dev examples."""
    mask = gold == label
    if not mask.any() or (base_pred[mask] == label).mean() >= target:
        return None
    best = None
    for threshold in np.unique(probs[:, label])[::-1]:
        pred = np.where(probs[:, label] >= threshold, label, base_pred)
        if (gold[pred == label] == label).mean() < min_precision:
            break
        best = float(threshold)
        if (pred[mask] == label).mean() >= target:
            break
    return best


def tune_threshold(prob_true: np.ndarray, gold: np.ndarray) -> float:
    """Decision threshold on p(true) that maximises the F1 of the positive class on dev."""
    if gold.sum() == 0:
        return 0.5
    candidates = np.unique(np.round(prob_true, 4))
    best_t, best_f1 = 0.5, -1.0
    for t in candidates:
        f1 = f1_score(gold, prob_true >= t, zero_division=0)
        if f1 > best_f1:
            best_t, best_f1 = float(t), f1
    return best_t
