"""``python -m cur_nlp_training <config.yaml>``: train without the CLI (same as ``cur-nlp train --config``)."""

import logging
import sys

from cur_nlp_training.config import TrainConfig
from cur_nlp_training.train import train

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    train(TrainConfig.from_yaml(sys.argv[1]))
