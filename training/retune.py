"""Re-fit calibration and decision rules of a finished model directory on dev, without retraining.

``python -m cur_nlp_training.retune MODEL_DIR``: recomputes the dev logits (encoder heads mixed with the sparse heads
when present) and reruns temperature scaling, class offsets and thresholds with the current rules.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from cur_nlp.classifier import ComplaintClassifier
from cur_nlp.model_dir import ModelConfig
from cur_nlp_training.config import TrainConfig
from cur_nlp_training.heads_data import load_training_data
from cur_nlp_training.calibrate import calibrate_and_tune, decision_labels, dev_sources


def retune(model_dir: Path) -> ModelConfig:
    cfg = TrainConfig.from_yaml(model_dir / "training_config.yaml")
    data = load_training_data(cfg.data, cfg.heads)
    classifier = ComplaintClassifier.from_pretrained(model_dir, backend="torch")  # the fp32 reference
    texts = data.texts("dev")
    vectors, _ = classifier.embed(texts)
    logits = classifier.head_logits(vectors, texts)
    config = ModelConfig.load(model_dir)
    for head in config.heads:
        head.temperature, head.class_bias, head.threshold, head.recall_thresholds = 1.0, None, 0.5, None
    labels = data.label_matrix("dev")
    calibrate_and_tune(config, logits, labels, cfg, decision_labels(data, cfg, labels),
                       dev_sources(data))
    config.save(model_dir)
    return config


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    retune(parser.parse_args().model_dir)


if __name__ == "__main__":
    main()
