"""Distil a trained model directory into a shallower student (fewer encoder layers), for faster inference.

``python -m cur_nlp_training.distill --teacher models/default --layers 6 --out runs/student``

The student is the teacher's encoder with every other layer kept (evenly spaced, the last one always kept),
initialised from the teacher's fine-tuned weights, then trained on the teacher's outputs over *all* training
texts of every source (no per-class cap — the labels the teacher produces are free):

* per head, the KL divergence between the teacher's and the student's softened encoder-head distributions
  (temperature ``kd_temperature``), scaled by T²;
* the mean squared error between the pooled sentence vectors, so that the student's vectors stay in the
  teacher's space (the known-fakes registry compares them);
* cross-entropy on the gold labels where a row has one (weight ``hard_weight``).

After training the student is finished like any model directory: the teacher's sparse n-gram heads are reused
(their mixing weight re-tuned on dev), temperatures and decisions are re-fitted on dev, the registry stance model is
re-tuned (mixing weights chosen by dev log-loss by default: ``sparse_alpha_by``). Evaluate the result with
``cur-nlp evaluate --model <out>``; no test split is seen here.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import random
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cur_nlp.classifier import ComplaintClassifier
from cur_nlp.batching import encode
from cur_nlp.encoder import MultiHeadModel
from cur_nlp.model_dir import ModelConfig, ModelExtras
from cur_nlp_training.config import TrainConfig
from cur_nlp_training.heads_data import load_training_data
from cur_nlp_training.train import (
    class_weights, compute_vectors, fine_tune, head_logits, start_run,
)
from cur_nlp_training.calibrate import calibrate_and_tune, decision_labels, dev_sources

log = logging.getLogger("cur_nlp.distill")

TEACHER_FILES = ("tokenizer.json", "tokenizer_config.json", "known_fakes.jsonl", "sparse.safetensors",
                 "sparse_vocab.json")


@dataclass
class DistillConfig:
    """What decides a distillation run (saved in the student's ``config.json`` under ``distillation``)."""

    teacher: str
    output_dir: str
    layers: int = 6
    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-4
    head_lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    kd_temperature: float = 2.0
    vector_weight: float = 1.0
    hard_weight: float = 0.5
    sparse_alpha_by: str = "nll"  # how the reused sparse heads' mixing weight is chosen on dev (see TrainConfig)
    max_texts: int | None = None  # a random sample of the training texts (for smoke tests); None: all
    seed: int = 13
    torch_threads: int | None = None
    log_every: int = 50

    def __post_init__(self) -> None:
        if self.layers < 1:
            raise ValueError(f"layers must be >= 1, found {self.layers}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, found {self.epochs}")


def kept_layers(teacher_depth: int, student_depth: int) -> list[int]:
    """Evenly spaced teacher layers for the student, first and last included (12 → 6: 0, 2, 4, 7, 9, 11)."""
    if not 1 <= student_depth <= teacher_depth:
        raise ValueError(f"student depth must be between 1 and the teacher's {teacher_depth}, found {student_depth}")
    if student_depth == 1:
        return [teacher_depth - 1]
    return [int(round(x)) for x in np.linspace(0, teacher_depth - 1, student_depth)]


def make_student(teacher: MultiHeadModel, depth: int) -> tuple[MultiHeadModel, list[int]]:
    """A copy of ``teacher`` that keeps ``depth`` of its encoder layers (weights copied, heads copied)."""
    layers = teacher.encoder.encoder.layer
    keep = kept_layers(len(layers), depth)
    student = copy.deepcopy(teacher)
    student.encoder.encoder.layer = nn.ModuleList([copy.deepcopy(layers[i]) for i in keep])
    student.encoder.config.num_hidden_layers = depth
    for position, layer in enumerate(student.encoder.encoder.layer):  # keep attention layer indices consistent
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = position
    return student, keep


def distillation_loss(student_logits: dict[str, torch.Tensor], teacher_logits: dict[str, torch.Tensor],
                      student_vectors: torch.Tensor, teacher_vectors: torch.Tensor, targets: dict[str, torch.Tensor],
                      weights: dict[str, torch.Tensor], head_weights: dict[str, float], cfg: DistillConfig) -> torch.Tensor:
    """Soft-target KL per head (× T²) + relative vector error + masked hard-label cross-entropy."""
    t = cfg.kd_temperature
    # squared error relative to the teacher vectors' squared norm: scale-free across encoders
    relative = ((student_vectors - teacher_vectors) ** 2).sum(-1).mean() / (teacher_vectors ** 2).sum(-1).mean()
    total = cfg.vector_weight * relative
    for name, logits in student_logits.items():
        soft = nn.functional.kl_div(nn.functional.log_softmax(logits / t, -1),
                                    nn.functional.log_softmax(teacher_logits[name] / t, -1),
                                    log_target=True, reduction="batchmean") * t * t
        total = total + head_weights[name] * soft
        keep = targets[name] >= 0
        if cfg.hard_weight and keep.any():
            hard = nn.functional.cross_entropy(logits[keep], targets[name][keep], weight=weights[name])
            total = total + cfg.hard_weight * head_weights[name] * hard
    return total


def distill(cfg: DistillConfig) -> Path:
    """Train the student, finish its model directory (sparse heads, calibration, registry) and return its path."""
    started = time.time()
    teacher_dir, out = Path(cfg.teacher), start_run(cfg.seed, cfg.torch_threads, cfg.output_dir)
    train_cfg = TrainConfig.from_yaml(teacher_dir / "training_config.yaml")
    data = load_training_data(replace(train_cfg.data, max_train_per_class=None), train_cfg.heads)
    if cfg.max_texts and cfg.max_texts < len(data.rows["train"]):
        data.rows["train"] = random.Random(cfg.seed).sample(data.rows["train"], cfg.max_texts)
    teacher = ComplaintClassifier.from_pretrained(teacher_dir, backend="torch")
    config: ModelConfig = teacher.config
    ids = {s: encode(teacher.tokenizer, data.texts(s), config.text_prefix, config.max_length)[0] for s in ("train", "dev")}
    pad_id = teacher.tokenizer.pad_token_id or 0
    log.info("teacher %s: encoding %d train texts (all sources, no cap)", teacher_dir, len(ids["train"]))
    teacher_vectors = compute_vectors(teacher.model, ids["train"], pad_id, 64)
    with torch.inference_mode():
        teacher_logits = {k: v.float() for k, v in teacher.model.eval().classify(teacher_vectors).items()}

    student, keep = make_student(teacher.model, cfg.layers)
    log.info("student: %d of %d layers (teacher layers %s)", cfg.layers, len(teacher.model.encoder.encoder.layer), keep)
    labels = {s: data.label_matrix(s) for s in ("train", "dev")}
    targets = {k: torch.tensor(v) for k, v in labels["train"].items()}
    weights = {h.name: class_weights(labels["train"][h.name], len(data.labels[h.name]), train_cfg.class_weighting)
               for h in train_cfg.heads}
    head_weights = {h.name: h.loss_weight for h in train_cfg.heads}
    head_params = [p for n, p in student.named_parameters() if n.startswith("heads.")]
    body_params = [p for n, p in student.named_parameters() if not n.startswith("heads.")]
    optimizer = torch.optim.AdamW([{"params": body_params, "lr": cfg.lr}, {"params": head_params, "lr": cfg.head_lr}],
                                  weight_decay=cfg.weight_decay)

    def batch_loss(batch: list[int], input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        vectors = student.embed(input_ids, mask)
        return distillation_loss(student.classify(vectors), {k: v[batch] for k, v in teacher_logits.items()},
                                 vectors, teacher_vectors[batch], {k: v[batch] for k, v in targets.items()},
                                 weights, head_weights, cfg)

    history = fine_tune(student, optimizer, ids, pad_id, batch_loss, data, labels["dev"], epochs=cfg.epochs,
                        batch_size=cfg.batch_size, warmup_ratio=cfg.warmup_ratio, seed=cfg.seed,
                        log_every=cfg.log_every, eval_batch_size=64)
    dev_vectors = compute_vectors(student, ids["dev"], pad_id, 64)

    student.config = ModelConfig.load(teacher_dir)
    student.config.name = f"{config.name}-{cfg.layers}l"
    student.config.extra = ModelExtras(distillation={
        **cfg.__dict__, "teacher_layers": keep, "teacher_name": config.name, "train_texts": len(ids["train"]),
        "history": history, "minutes": round((time.time() - started) / 60, 1)})
    for head in student.config.heads:
        head.temperature, head.class_bias, head.threshold = 1.0, None, 0.5
    calibrate_and_tune(student.config, head_logits(student, dev_vectors), labels["dev"], train_cfg,
                       decision_labels(data, train_cfg, labels["dev"]),
                       dev_sources(data))
    student.save(out)
    for name in TEACHER_FILES:
        if (teacher_dir / name).exists():
            shutil.copy(teacher_dir / name, out / name)
    train_cfg = replace(train_cfg, name=student.config.name, output_dir=str(out), sparse_alpha_by=cfg.sparse_alpha_by)
    train_cfg.save(out / "training_config.yaml")
    (out / "training_history.json").write_text(json.dumps({"history": history, "distilled_from": str(teacher_dir)},
                                                          indent=2), encoding="utf-8")
    finish(out, teacher_dir, train_cfg, reuse_sparse=config.extra.sparse is not None)
    log.info("student saved to %s (%.1f min)", out, (time.time() - started) / 60)
    return out


def finish(out: Path, teacher_dir: Path, train_cfg: TrainConfig, reuse_sparse: bool) -> None:
    """Reuse the teacher's sparse heads if it has them (alpha re-tuned on dev); retrain the registry stance model."""
    if reuse_sparse:
        from cur_nlp.sparse import SparseHeads
        from cur_nlp_training.hybrid import build_hybrid

        build_hybrid(out, sparse=SparseHeads.load(teacher_dir))
    if train_cfg.registry and train_cfg.stance_data:
        from cur_nlp_training.stance import train_stance

        train_stance(out, Path(train_cfg.stance_data), Path(train_cfg.registry))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="models/default", help="trained model directory to distil")
    parser.add_argument("--out", default="runs/student", help="where to write the student model directory")
    parser.add_argument("--layers", type=int, default=6, help="encoder layers the student keeps")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-texts", type=int, default=None, help="train on a random sample (smoke tests)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    distill(DistillConfig(teacher=args.teacher, output_dir=args.out, layers=args.layers, epochs=args.epochs,
                          batch_size=args.batch_size, lr=args.lr, max_texts=args.max_texts,
                          torch_threads=args.threads))


if __name__ == "__main__":
    main()
