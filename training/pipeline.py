"""The whole recipe behind ``cur-nlp train``: train → sparse heads → registry threshold → evaluation → model card."""

from __future__ import annotations

import logging
from pathlib import Path

from cur_nlp_training.config import TrainConfig

log = logging.getLogger("cur_nlp.pipeline")


def run(cfg: TrainConfig, evaluate: bool = True) -> Path:
    """Train the model described by ``cfg`` and finish its directory; returns its path."""
    from cur_nlp_training.train import train

    out = train(cfg)
    if cfg.sparse_features:
        from cur_nlp_training.hybrid import build_hybrid

        build_hybrid(out)
    if cfg.registry and cfg.registry_pairs:
        from cur_nlp_training.registry_tune import tune_registry

        log.info("registry threshold: %s", tune_registry(out, Path(cfg.registry_pairs)))
    if evaluate and cfg.data.prepared_dir and not cfg.data.files:
        from cur_nlp_training.evaluate import evaluate_model_dir
        from cur_nlp_training.model_card import write_card

        baseline = Path(cfg.baseline_dir) if cfg.baseline_dir else None
        evaluate_model_dir(out, Path(cfg.data.prepared_dir), baseline)
        write_card(out, Path("reports/baseline/metrics.json"))
    return out
