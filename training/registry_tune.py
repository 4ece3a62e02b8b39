"""Tune the known-fakes registry threshold on a labelled paraphrase set and store it in the model config.

``python -m cur_nlp_training.registry_tune MODEL_DIR [--pairs training/registry/paraphrases.jsonl]``: each line has
``text`` and ``claim_id`` (the registered claim it paraphrases, or null for unrelated posts). The threshold
that maximises F1 of correct matches is written to ``config.json`` as ``extra.registry_threshold``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

PAIRS = Path(__file__).parent / "registry" / "paraphrases.jsonl"


def registry_scores(classifier, pairs: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best similarity, whether the best claim is the right one, and whether a match is expected, per text."""
    from cur_nlp.normalize import normalize_text

    texts = [normalize_text(p["text"]) for p in pairs]
    vectors, _ = classifier.embed(texts, normalized=True)
    sims = classifier.registry.similarities(vectors, texts)
    best = sims.argmax(1)
    ids = [classifier.registry.entries[j].id for j in best]
    expected = np.array([p["claim_id"] is not None for p in pairs])
    right = np.array([i == p["claim_id"] for i, p in zip(ids, pairs)])
    return sims.max(1), right, expected


def best_threshold(best: np.ndarray, right: np.ndarray, expected: np.ndarray) -> tuple[float, dict]:
    """Threshold maximising F1 where a true positive is a match to the right claim."""
    result = (0.99, {"f1": 0.0})
    for t in np.unique(np.round(best, 4)):
        matched = best >= t
        tp = int((matched & right).sum())
        fp = int((matched & ~right).sum())
        fn = int((expected & ~(matched & right)).sum())
        f1 = 2 * tp / max(2 * tp + fp + fn, 1)
        if f1 > result[1]["f1"]:
            result = (float(t), {"f1": f1, "tp": tp, "fp": fp, "fn": fn})
    return result


def tune_registry(model_dir: Path, pairs_path: Path = PAIRS) -> dict:
    """Tune the registry threshold of ``model_dir`` on ``pairs_path`` and save it in its config."""
    from cur_nlp.classifier import ComplaintClassifier
    from cur_nlp.model_dir import ModelConfig

    classifier = ComplaintClassifier.from_pretrained(model_dir)
    if classifier.registry is None:
        raise ValueError(f"{model_dir} has no known_fakes.jsonl registry")
    pairs = [json.loads(line) for line in Path(pairs_path).read_text(encoding="utf-8").splitlines() if line.strip()]
    best, right, expected = registry_scores(classifier, pairs)
    threshold, stats = best_threshold(best, right, expected)
    # place the threshold half-way between the chosen boundary score and the best score just below it
    below = best[best < threshold]
    if below.size:
        threshold = float(round((threshold + below.max()) / 2, 4))
    config = ModelConfig.load(model_dir)
    config.extra.registry_threshold = threshold
    config.extra.registry_tuning = {**stats, "pairs": len(pairs), "file": str(pairs_path)}
    config.save(model_dir)
    return {"threshold": threshold, **stats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    args = parser.parse_args()
    print(json.dumps(tune_registry(args.model_dir, args.pairs), ensure_ascii=False))


if __name__ == "__main__":
    main()
