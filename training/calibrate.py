"""Post-training calibration and decision tuning on the dev split."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import f1_score

from cur_nlp.decoding import softmax

if TYPE_CHECKING:  # pragma: no cover
    from cur_nlp.model_dir import ModelConfig
    from cur_nlp_training.config import TrainConfig
    from cur_nlp_training.heads_data import TrainingData

log = logging.getLogger("cur_nlp.train")


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


MIN_GROUP_SUPPORT = 10
"""Dev examples of a label a group needs before its own recall counts toward the target."""


def tune_recall_threshold(probs: np.ndarray, gold: np.ndarray, label: int, target: float, base_pred: np.ndarray,
                          min_precision: float = 0.5, groups: np.ndarray | None = None) -> float | None:
    """The highest probability at or above which choosing ``label`` (over ``base_pred``) reaches ``target`` dev
    recall of that label — in every group of ``groups`` (e.g. the posts' sources) with at least
    :data:`MIN_GROUP_SUPPORT` examples of it, so that an easy source cannot carry a hard one — without its dev
    precision falling below ``min_precision`` (an operator flooded with false alarms stops reading them: then the
    lowest threshold that keeps the floor). ``None`` when ``base_pred`` already reaches the target or the label has
    no dev examples."""
    mask = gold == label
    if not mask.any():
        return None
    groups = np.zeros(len(gold), dtype=int) if groups is None else np.asarray(groups)
    members = [groups == g for g in np.unique(groups[mask]) if (mask & (groups == g)).sum() >= MIN_GROUP_SUPPORT]
    members = members or [np.ones(len(gold), dtype=bool)]

    def reached(pred: np.ndarray) -> bool:
        return all((pred[mask & m] == label).mean() >= target for m in members)

    if reached(base_pred):
        return None
    best = None
    for threshold in np.unique(probs[:, label])[::-1]:
        pred = np.where(probs[:, label] >= threshold, label, base_pred)
        if (gold[pred == label] == label).mean() < min_precision:
            break
        best = float(threshold)
        if reached(pred):
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


def dev_sources(data: TrainingData) -> np.ndarray:
    """The source of every dev row: the groups in which recall targets must hold."""
    return np.array([row["source"] for row in data.rows["dev"]])


def decision_labels(data: TrainingData, cfg: TrainConfig, labels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Dev labels for decision tuning: the dev column, or for heads in ``cfg.decision_labels`` the hand-labelled
    file (``id,<head>``) restricted to dev ids, plus the dev rows of ``data.written_sources`` (labels written with
    the text) — so decisions follow the label definitions, not weak labels."""
    import csv

    result = dict(labels)
    written = set(cfg.data.written_sources)
    for head_name, path in cfg.decision_labels.items():
        with open(path, encoding="utf-8", newline="") as handle:
            gold = {row["id"]: row[head_name] for row in csv.DictReader(handle)}
        names = data.labels[head_name]
        result[head_name] = np.array([
            names.index(gold[row["id"]]) if gold.get(row["id"]) in names
            else labels[head_name][i] if row["source"] in written else -1
            for i, row in enumerate(data.rows["dev"])])
        log.info("head %s: decisions tuned on %d hand-labelled dev posts from %s", head_name,
                 int((result[head_name] >= 0).sum()), path)
    return result


def calibrate_and_tune(model_cfg: ModelConfig, logits: dict[str, np.ndarray], labels: dict[str, np.ndarray],
                       cfg: TrainConfig, decide_on: dict[str, np.ndarray] | None = None,
                       groups: np.ndarray | None = None) -> None:
    """Fit temperatures (on ``labels``) and decision rules (on ``decide_on``, default ``labels``) per head on dev,
    in place on ``model_cfg``; recall targets hold in every group of ``groups`` (the dev rows' sources)."""
    decide_on = decide_on or labels
    for head in model_cfg.heads:
        rows = labels[head.name] >= 0
        if not rows.any():
            continue
        gold, head_logit = labels[head.name][rows], logits[head.name][rows]
        if cfg.calibrate:
            head.temperature = round(fit_temperature(head_logit, gold), 4)
        decision_rows = decide_on[head.name] >= 0
        if not cfg.tune_decisions or not decision_rows.any():
            continue
        gold = decide_on[head.name][decision_rows]
        row_groups = None if groups is None else np.asarray(groups)[decision_rows]
        probs = softmax(logits[head.name][decision_rows], head.temperature)
        if head.type == "binary":
            head.threshold = round(tune_threshold(probs[:, 1], gold), 4)
            continue
        # offsets for macro-F1, then a visible probability threshold per recall target (never a silent offset)
        head.class_bias = tune_class_bias(probs, gold)
        base = (np.log(np.clip(probs, 1e-12, 1)) + np.asarray(head.class_bias)).argmax(1)
        thresholds = {}
        for label, target in cfg.min_recall.get(head.name, {}).items():
            threshold = tune_recall_threshold(probs, gold, head.labels.index(label), target, base,
                                              cfg.recall_min_precision, row_groups)
            if threshold is not None:
                thresholds[label] = round(threshold, 4)
                log.info("head %s: %s chosen at p >= %.4f (dev recall target %.2f)", head.name, label, threshold, target)
        head.recall_thresholds = thresholds or None
        log.info("head %s: temperature %.3f, threshold %s, class_bias %s", head.name, head.temperature,
                 head.threshold, head.class_bias)
