"""Post-training calibration and decision tuning on the dev split."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import f1_score

from cur_nlp.classifier import softmax


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    """Temperature that minimises the negative log-likelihood of ``gold`` (temperature scaling)."""

    def nll(t: float) -> float:
        probs = softmax(logits, t)
        return float(-np.log(np.clip(probs[np.arange(len(gold)), gold], 1e-12, 1)).mean())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


def tune_class_bias(probs: np.ndarray, gold: np.ndarray, min_recall: dict[int, float] | None = None,
                    grid: np.ndarray | None = None, rounds: int = 2) -> list[float]:
    """Additive log-probability offsets per class that maximise macro-F1 on dev (coordinate ascent),
    then raise the offset of classes in ``min_recall`` until their dev recall reaches the target."""
    grid = np.arange(-2.0, 2.01, 0.25) if grid is None else grid
    logp = np.log(np.clip(probs, 1e-12, 1))
    present = sorted(set(gold.tolist()))
    bias = np.zeros(probs.shape[1])

    def score(b: np.ndarray) -> float:
        return f1_score(gold, (logp + b).argmax(1), labels=present, average="macro", zero_division=0)

    best = score(bias)
    for _ in range(rounds):
        for c in present:
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
        for value in np.arange(bias[c], bias[c] + 6.01, 0.1):
            bias[c] = value
            if ((logp[mask] + bias).argmax(1) == c).mean() >= target:
                break
    return [float(round(b, 3)) for b in bias]


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
