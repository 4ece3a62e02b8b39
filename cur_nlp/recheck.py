"""Decision margins: which posts an approximate encoder (int8) may label differently from the fp32 reference.

Every head decides by an argmax over *decision scores*: ``log p + class_bias`` for a multiclass head, and for a
binary head the log-odds of ``true`` minus the log-odds of its threshold (true when ≥ 0). A post's **margin** is how
far its chosen label's score lies above the best other label's (for a binary head, the absolute score).

Running the encoder in int8 instead of fp32 shifts the scores. For the label chosen on the int8 scores, the
**shift** of a post is the most the int8 error raised that label's score relative to any other label's::

    shift = max_c [(s8[chosen] - s32[chosen]) - (s8[c] - s32[c])]

fp32 then chooses another label only where ``margin < shift``: with a bound ``tau`` on the shift, every post whose
int8 margin exceeds ``tau`` keeps its fp32 label, and only the posts at or below it need the fp32 encoder. The
same holds for the known-fakes registry, whose decision (the best claim if its similarity reaches the threshold,
else none) is an argmax over the claims' similarities and the threshold (:func:`registry_scores`).

``cur-nlp export-onnx`` measures the shifts of the int8 file on its check texts and records their maxima as the
``onnx-int8-checked`` backend's margins (:func:`fit_margins`); ``ComplaintClassifier`` then re-encodes in fp32
the posts :func:`needs_recheck` selects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from cur_nlp.model_dir import HeadSpec

REGISTRY = "registry"
"""Key of the known-fakes registry's margin, next to the heads' names."""


def decision_scores(head: "HeadSpec", probs: np.ndarray) -> np.ndarray:
    """Scores whose row-wise argmax is the head's decision ``(n, n_labels)``; a binary head gets one column,
    the log-odds of ``true`` minus the log-odds of its threshold (``true`` where it is ≥ 0)."""
    logp = np.log(np.clip(probs, 1e-12, 1.0))
    if head.type == "binary":
        threshold = float(np.clip(head.threshold, 1e-12, 1 - 1e-12))
        return (logp[:, 1:2] - logp[:, 0:1]) - np.log(threshold / (1 - threshold))
    return logp + np.asarray(head.class_bias) if head.class_bias is not None else logp


def decisions(head: "HeadSpec", scores: np.ndarray) -> np.ndarray:
    """Label indices from :func:`decision_scores`."""
    if head.type == "binary":
        return (scores[:, 0] >= 0).astype(int)
    return scores.argmax(axis=-1)


def margins(head: "HeadSpec", scores: np.ndarray) -> np.ndarray:
    """How far each row's decision lies from changing: best minus second-best score (binary: ``|score|``)."""
    return np.abs(scores[:, 0]) if head.type == "binary" else _top_gap(scores)


def shifts(head: "HeadSpec", fast: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per row, the most the ``fast`` scores favour their chosen label over any other, relative to ``reference``:
    the reference decision differs only where :func:`margins` of ``fast`` is below this."""
    return np.abs(fast[:, 0] - reference[:, 0]) if head.type == "binary" else _chosen_shift(fast, reference)


def registry_scores(similarities: np.ndarray, threshold: float) -> np.ndarray:
    """The registry's decision as an argmax: each claim's similarity, then the threshold as a last column that
    wins (no match) when every similarity is below it; ties go to the claim, as ``FakeRegistry.match`` has it."""
    return np.hstack([similarities, np.full((len(similarities), 1), threshold, dtype=similarities.dtype)])


def _top_gap(scores: np.ndarray) -> np.ndarray:
    top_two = np.partition(scores, -2, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0]


def _chosen_shift(fast: np.ndarray, reference: np.ndarray) -> np.ndarray:
    difference = fast - reference
    chosen = difference[np.arange(len(difference)), fast.argmax(axis=1)]
    return (chosen[:, None] - difference).max(axis=1)


def registry_margins(similarities: np.ndarray, threshold: float) -> np.ndarray:
    """How far each post's registry decision (which claim matches, or none) lies from changing: the gap between
    the best and second-best of :func:`registry_scores`."""
    return _top_gap(registry_scores(similarities, threshold))


def registry_shifts(fast: np.ndarray, reference: np.ndarray, threshold: float) -> np.ndarray:
    """Per post, the most the ``fast`` similarities favour their chosen claim (or no match) over any other choice,
    relative to ``reference``: the decision can differ only where :func:`registry_margins` is below it."""
    return _chosen_shift(registry_scores(fast, threshold), registry_scores(reference, threshold))


def needs_recheck(
    heads: "list[HeadSpec]", probs: Mapping[str, np.ndarray], bounds: Mapping[str, float],
    similarities: np.ndarray | None = None, registry_threshold: float | None = None,
) -> np.ndarray:
    """Boolean mask of the rows whose margin on some head (or on the registry, given its ``similarities``) is at
    or below that head's bound in ``bounds``; heads without a bound are not rechecked."""
    n = len(next(iter(probs.values()))) if probs else 0
    mask = np.zeros(n, dtype=bool)
    for head in heads:
        if head.name in bounds and head.name in probs:
            mask |= margins(head, decision_scores(head, probs[head.name])) <= bounds[head.name]
    if similarities is not None and REGISTRY in bounds and registry_threshold is not None and similarities.shape[1]:
        mask |= registry_margins(similarities, registry_threshold) <= bounds[REGISTRY]
    return mask


def fit_margins(
    heads: "list[HeadSpec]", fast: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray],
    fast_similarities: np.ndarray | None = None, reference_similarities: np.ndarray | None = None,
    registry_threshold: float | None = None,
) -> dict[str, float]:
    """Bounds for :func:`needs_recheck`: the largest shift seen per head (and for the registry, given both
    similarity matrices and its threshold) between ``fast`` and ``reference`` probabilities of the same posts. Every one of those posts whose label differs is then
    rechecked; on unseen posts a change escapes only where the shift exceeds the largest seen."""
    bounds = {}
    for head in heads:
        if head.name in fast and head.name in reference:
            found = shifts(head, decision_scores(head, fast[head.name]), decision_scores(head, reference[head.name]))
            bounds[head.name] = float(found.max()) if len(found) else 0.0
    if (fast_similarities is not None and reference_similarities is not None and registry_threshold is not None
            and fast_similarities.size):
        found = registry_shifts(fast_similarities, reference_similarities, registry_threshold)
        bounds[REGISTRY] = float(found.max())
    return bounds
