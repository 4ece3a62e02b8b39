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
    if head.type == "binary":
        return (probs[:, 1] >= head.threshold).astype(int)
    scores = np.log(np.clip(probs, 1e-12, 1.0))
    if head.class_bias is not None:
        scores = scores + np.asarray(head.class_bias)
    return scores.argmax(axis=-1)


def head_predictions(head: HeadSpec, probs: np.ndarray, top_k: int = 3) -> list[HeadPrediction]:
    """The decision of ``head`` for every row of ``probs``, with the ``top_k`` most probable labels (array work
    per head, not per post)."""
    chosen = decide(head, probs)
    if head.type == "binary":
        return [HeadPrediction(bool(c), p) for c, p in zip(chosen.tolist(), probs[:, 1].tolist())]
    top = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
    top_probs = np.take_along_axis(probs, top, axis=1).tolist()
    chosen_probs = probs[np.arange(len(probs)), chosen].tolist()
    labels = head.labels
    return [
        HeadPrediction(labels[c], p, tuple((labels[i], q) for i, q in zip(ids, qs)))
        for c, p, ids, qs in zip(chosen.tolist(), chosen_probs, top.tolist(), top_probs)
    ]
