"""From logits to decisions: softmax with temperature, TF-IDF mixing, each head's decision rule and its top-k.

The one place where scores become labels, for the classifier, explanations, evaluation and the export checks.
"""

from __future__ import annotations

import numpy as np

from cur_nlp.model_dir import HeadSpec
from cur_nlp.results import HeadPrediction


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``."""
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def mix_logits(encoder: dict[str, np.ndarray], sparse: dict[str, np.ndarray], alpha: dict[str, float]) -> dict[str, np.ndarray]:
    """Per head ``(1 - a) * log p_encoder + a * log p_sparse``; heads without sparse weights stay as they are."""
    mixed = {}
    for name, logits in encoder.items():
        a = alpha.get(name, 0.0)
        mixed[name] = logits if name not in sparse or a == 0 else (1 - a) * log_softmax(logits) + a * log_softmax(sparse[name])
    return mixed


def calibrated(heads: list[HeadSpec], logits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Probabilities per head: softmax of its logits at the head's temperature."""
    return {h.name: softmax(logits[h.name], h.temperature) for h in heads}


def decide(head: HeadSpec, probs: np.ndarray) -> np.ndarray:
    """Label indices chosen from calibrated probabilities by the head's decision rule."""
    return decide_with_reasons(head, probs)[0]


def decide_with_reasons(head: HeadSpec, probs: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """Label indices chosen by the head's decision rule, and per row why, where the rule chose a label that is not
    the most probable one: ``"<label>_recall_threshold"`` or ``"class_bias"`` (``None`` for the most probable)."""
    if head.type == "binary":
        return (probs[:, 1] >= head.threshold).astype(int), [None] * len(probs)
    scores = np.log(np.clip(probs, 1e-12, 1.0))
    if head.class_bias is not None:
        scores = scores + np.asarray(head.class_bias)
    chosen = scores.argmax(axis=-1)
    reasons: list[str | None] = [None if c == m else "class_bias" for c, m in zip(chosen, probs.argmax(axis=-1))]
    for label in reversed([label for label in head.labels if label in (head.recall_thresholds or {})]):
        index = head.labels.index(label)
        for row in np.flatnonzero(probs[:, index] >= head.recall_thresholds[label]):
            most_probable = probs[row].argmax() == index  # then no rule was needed to choose it
            chosen[row], reasons[row] = index, None if most_probable else f"{label}_recall_threshold"
    return chosen, reasons


def head_predictions(head: HeadSpec, probs: np.ndarray, top_k: int = 3) -> list[HeadPrediction]:
    """The decision of ``head`` for every row of ``probs``, with the ``top_k`` most probable labels and, where the
    decision is not the most probable label, the rule that made it (array work per head, not per post)."""
    chosen, reasons = decide_with_reasons(head, probs)
    if head.type == "binary":
        return [HeadPrediction(bool(c), p) for c, p in zip(chosen.tolist(), probs[:, 1].tolist())]
    top = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
    top_probs = np.take_along_axis(probs, top, axis=1).tolist()
    chosen_probs = probs[np.arange(len(probs)), chosen].tolist()
    labels, thresholds = head.labels, head.recall_thresholds or {}
    return [
        HeadPrediction(labels[c], p, tuple((labels[i], q) for i, q in zip(ids, qs)), decided_by=reason,
                       threshold=thresholds.get(labels[c]) if reason and reason.endswith("_recall_threshold") else None)
        for c, p, ids, qs, reason in zip(chosen.tolist(), chosen_probs, top.tolist(), top_probs, reasons)
    ]
