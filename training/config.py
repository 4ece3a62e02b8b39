"""Typed training configuration, read from YAML and saved beside the trained weights."""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cur_nlp_training.heads_data import DataConfig, HeadColumn


RETIRED_KEYS = {"registry_pairs"}
"""Keys of older saved configs that are read and ignored."""


@dataclass
class TrainConfig:
    """Everything that decides a training run. Validated on creation; no hyper-parameters from env vars.

    ``mode``: ``full`` fine-tunes the encoder (default for the shipped model); ``fast`` freezes it, caches
    sentence vectors once and trains only the heads (minutes on a CPU, for trying new labels).
    ``sparse_features``: add TF-IDF n-gram heads beside the encoder, mixed per head with a weight tuned on dev.
    ``sparse_alpha_by``: how that weight is chosen: ``f1`` (dev macro-F1; default, how models/default 0.1.0 was
    built) or ``nll`` (dev log-loss after temperature scaling: smoother, not decided by a few rare-class posts).
    ``decision_labels``: per head, a hand-labelled CSV (``id,<head>``) whose dev-split rows replace the dev column
    for decision tuning (e.g. the urgency gold set instead of weak urgency labels).
    ``min_recall``: per head, labels chosen whenever their probability passes a visible threshold tuned on dev for
    this recall; ``recall_min_precision``: the lowest dev precision such a threshold may cost (an operator flooded
    with false alarms stops reading them).
    ``registry``: a claims file copied into the model as its example registry (``known_fakes.jsonl``);
    ``stance_data``: the team-written posts the registry's stance model is trained and tuned on (``train-stance``).
    """

    name: str
    output_dir: str
    heads: list[HeadColumn]
    base_model: str = "../shared/models/multilingual-e5-small-ru"
    version: str = "0.1.0"
    mode: str = "full"
    data: DataConfig = field(default_factory=DataConfig)
    epochs: int = 3
    batch_size: int = 32
    eval_batch_size: int = 64
    lr: float = 5e-5
    head_lr: float = 1e-3
    layer_decay: float = 0.9
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    dropout: float = 0.1
    max_length: int = 128
    max_length_percentile: float = 98.0
    pooling: str = "mean"
    text_prefix: str = "query: "
    class_weighting: str = "sqrt_inverse"
    fast_epochs: int = 60
    calibrate: bool = True
    tune_decisions: bool = True
    min_recall: dict[str, dict[str, float]] = field(default_factory=dict)
    recall_min_precision: float = 0.5
    decision_labels: dict[str, str] = field(default_factory=dict)
    sparse_features: bool = False
    sparse_alpha_by: str = "f1"
    registry: str | None = None
    stance_data: str | None = "training/data/fakes"
    baseline_dir: str | None = None
    torch_threads: int | None = None
    seed: int = 13
    log_every: int = 50

    def __post_init__(self) -> None:
        self.heads = [h if isinstance(h, HeadColumn) else HeadColumn(**h) for h in self.heads]
        if isinstance(self.data, dict):
            self.data = DataConfig(**self.data)
        if not self.heads:
            raise ValueError("config needs at least one head")
        if self.mode not in ("full", "fast"):
            raise ValueError(f"mode must be 'full' or 'fast', found {self.mode!r}")
        if self.class_weighting not in ("none", "inverse", "sqrt_inverse"):
            raise ValueError(f"class_weighting must be none, inverse or sqrt_inverse, found {self.class_weighting!r}")
        for name, value in (("epochs", self.epochs), ("batch_size", self.batch_size), ("max_length", self.max_length)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, found {value}")
        if self.sparse_alpha_by not in ("nll", "f1"):
            raise ValueError(f"sparse_alpha_by must be 'nll' or 'f1', found {self.sparse_alpha_by!r}")
        if not 0 <= self.recall_min_precision <= 1:
            raise ValueError(f"recall_min_precision must be in [0, 1], found {self.recall_min_precision}")
        if not 0 < self.layer_decay <= 1:
            raise ValueError(f"layer_decay must be in (0, 1], found {self.layer_decay}")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "TrainConfig":
        """Read a config file; an empty file, unknown keys and missing required keys are errors that name them."""
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            found = "nothing" if data is None else f"a {type(data).__name__}"
            raise ValueError(f"{path}: expected a mapping of config keys, found {found}; see training/configs/")
        for key in RETIRED_KEYS & set(data):
            del data[key]  # written by older versions into saved training configs
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown config keys {unknown}; known keys: {sorted(known)}")
        required = [name for name, f in cls.__dataclass_fields__.items()
                    if f.default is MISSING and f.default_factory is MISSING]
        missing = [name for name in required if name not in data]
        if missing:
            raise ValueError(f"{path}: missing config keys {missing} (required: {required})")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False), encoding="utf-8")
