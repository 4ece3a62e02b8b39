"""Add sparse n-gram heads beside a trained encoder (the hybrid model) and re-tune calibration on dev.

``python -m cur_nlp_training.hybrid MODEL_DIR``: fits TF-IDF (word 1-2 + char_wb 2-5) → class-balanced logistic
regression per head on the model's full training data (no per-class cap), tunes per head the mixing weight
``alpha`` of ``(1 - alpha) * log p_encoder + alpha * log p_sparse`` on dev (by ``sparse_alpha_by`` of the
training config: calibrated log-loss, or macro-F1), refits temperatures and decision
rules on the mixed logits, and writes ``sparse.safetensors``, ``sparse_vocab.json`` and ``config.json``.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from cur_nlp.classifier import ComplaintClassifier
from cur_nlp.decoding import mix_logits, softmax
from cur_nlp.model_dir import ModelConfig, SparseMix
from cur_nlp.sparse import SparseHeads, TfidfBlock
from cur_nlp_training.calibrate import fit_temperature
from cur_nlp_training.config import TrainConfig
from cur_nlp_training.heads_data import load_training_data
from cur_nlp_training.metrics import head_metrics
from cur_nlp_training.calibrate import calibrate_and_tune, decision_labels, dev_sources

log = logging.getLogger("cur_nlp.hybrid")


def fit_sparse(data, heads, max_word: int = 60_000, max_char: int = 120_000, C: float = 4.0) -> SparseHeads:
    """TF-IDF blocks and a logistic regression per head on the train split."""
    texts = data.texts("train")
    word = TfidfVectorizer(ngram_range=(1, 2), max_features=max_word, sublinear_tf=True, min_df=2)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), max_features=max_char, sublinear_tf=True, min_df=2)
    features = hstack([word.fit_transform(texts), char.fit_transform(texts)]).tocsr()
    weights, biases = {}, {}
    for head in heads:
        rows, targets = data.targets("train", head.name)
        n_labels = len(data.labels[head.name])
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=3000).fit(features[rows], targets)
        weight = np.zeros((features.shape[1], n_labels), dtype=np.float32)
        bias = np.full(n_labels, -30.0, dtype=np.float32)  # labels unseen in train stay impossible
        if len(model.classes_) == 2 and n_labels == 2:
            weight[:, 1], bias[:] = model.coef_[0], (0.0, model.intercept_[0])
        else:
            weight[:, model.classes_] = model.coef_.T
            bias[model.classes_] = model.intercept_
        weights[head.name], biases[head.name] = weight, bias
        log.info("sparse head %s fitted on %d rows", head.name, len(rows))
    blocks = [TfidfBlock(kind, vec.ngram_range, sorted(vec.vocabulary_, key=vec.vocabulary_.get), vec.idf_)
              for kind, vec in (("word", word), ("char_wb", char))]
    return SparseHeads(blocks, weights, biases)


def calibrated_nll(logits: np.ndarray, gold: np.ndarray) -> float:
    """Mean negative log-likelihood of ``gold`` after temperature scaling (a smooth, proper score: unlike
    macro-F1 it is not decided by a handful of dev posts of the rare classes)."""
    probs = softmax(logits, fit_temperature(logits, gold))
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(gold)), gold], 1e-12, 1.0))))


def head_score(labels, gold, logits, binary) -> float:
    m = head_metrics(labels, gold, logits.argmax(1), binary=binary)
    return m["positive_f1"] if binary else m["macro_f1"]


def build_hybrid(model_dir: Path, sparse: SparseHeads | None = None) -> dict:
    """Fit sparse heads (or reuse ``sparse``, e.g. a teacher's), tune their mixing weight per head and the
    calibration on dev, and save both into ``model_dir``."""
    cfg = TrainConfig.from_yaml(model_dir / "training_config.yaml")
    data_cfg = replace(cfg.data, max_train_per_class=None)
    data = load_training_data(data_cfg, cfg.heads)
    sparse = sparse or fit_sparse(data, cfg.heads)
    clf = ComplaintClassifier.from_pretrained(model_dir)
    clf.sparse = None
    dev_texts = data.texts("dev")
    vectors, _ = clf.embed(dev_texts)
    encoder_logits = clf.head_logits(vectors, dev_texts)
    sparse_logits = sparse.logits(dev_texts)
    labels = data.label_matrix("dev")
    alpha, report = {}, {}
    for head in cfg.heads:
        rows = labels[head.name] >= 0
        gold = labels[head.name][rows]
        binary = head.type == "binary"
        scores, losses = {}, {}
        for a in np.round(np.arange(0.0, 1.01, 0.1), 2):
            mixed = mix_logits({head.name: encoder_logits[head.name][rows]}, {head.name: sparse_logits[head.name][rows]},
                               {head.name: float(a)})[head.name]
            scores[float(a)] = head_score(data.labels[head.name], gold, mixed, binary)
            losses[float(a)] = calibrated_nll(mixed, gold)
        if cfg.sparse_alpha_by == "nll":
            best = min(losses, key=lambda a: (losses[a], abs(a - 0.5)))
        else:
            best = max(scores, key=lambda a: (scores[a], -abs(a - 0.5)))
        alpha[head.name] = best
        report[head.name] = {"dev_by_alpha": scores, "dev_nll_by_alpha": losses, "alpha": best,
                             "chosen_by": cfg.sparse_alpha_by}
        log.info("head %s: dev score by alpha %s, dev NLL by alpha %s -> alpha %.1f (by %s)", head.name, scores,
                 {a: round(v, 4) for a, v in losses.items()}, best, cfg.sparse_alpha_by)
    mixed = mix_logits(encoder_logits, sparse_logits, alpha)
    config = ModelConfig.load(model_dir)
    config.extra.sparse = SparseMix(alpha, "word 1-2 + char_wb 2-5 TF-IDF, logistic regression", report)
    for head in config.heads:  # reset decisions before re-tuning on the mixed logits
        head.temperature, head.class_bias, head.threshold = 1.0, None, 0.5
    calibrate_and_tune(config, mixed, labels, cfg, decision_labels(data, cfg, labels),
                       dev_sources(data))
    sparse.save(model_dir)
    config.save(model_dir)
    return report


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description="Add sparse n-gram heads to a trained model directory.")
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--keep-sparse", action="store_true",
                        help="reuse the directory's fitted sparse heads; only re-tune mixing and calibration")
    args = parser.parse_args()
    build_hybrid(args.model_dir, SparseHeads.load(args.model_dir) if args.keep_sparse else None)


if __name__ == "__main__":
    main()
