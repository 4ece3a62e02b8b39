"""The whole recipe behind ``cur-nlp train``: train → sparse heads → registry stance model → evaluation → model card."""

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
    if cfg.registry and cfg.stance_data:
        from cur_nlp_training.stance import train_stance

        result = train_stance(out, Path(cfg.stance_data), Path(cfg.registry))
        log.info("registry stance model: dev F1 %.3f, test F1 %.3f", result["dev"]["f1"], result["test"]["f1"])
    if evaluate and cfg.data.prepared_dir and not cfg.data.files:
        from cur_nlp_training.evaluate import evaluate_model_dir
        from cur_nlp_training.model_card import write_card

        baseline = Path(cfg.baseline_dir) if cfg.baseline_dir else None
        evaluate_model_dir(out, Path(cfg.data.prepared_dir), baseline)
        write_card(out, Path("reports/baseline/metrics.json"))
    return out
