"""Quantisation-aware distillation: a copy of a trained model that keeps its outputs in ONNX Runtime's int8.

The copy's encoder is trained to give the teacher's outputs when it runs in ONNX Runtime's dynamic int8, the file
``cur-nlp export-onnx`` writes (issue 6's int8 accuracy rule).

``python -m training.qat train --teacher models/default --out runs/qat8``

The student starts as an exact copy of the teacher. Every matmul the int8 export quantises runs through fake
quantisation that reproduces ONNX Runtime's dynamic int8 arithmetic after the export's SmoothQuant step:

* the input is divided per channel by SmoothQuant factors ``s_j = a_j^alpha / w_j^(1-alpha)`` (``a_j``: the
  channel's largest activation on calibration texts, ``w_j``: the largest weight it meets; the export's formula,
  computed once from the teacher) and rounded to uint8 with one scale and zero point for the whole tensor
  (``DynamicQuantizeLinear``);
* the weight, multiplied by ``s_j``, is rounded to symmetric int8 per output channel (``quantize_dynamic``'s QInt8
  per-channel weights);
* the position and token-type tables are rounded to uint8 per tensor (the export's quantised ``Gather`` nodes).

Rounding passes gradients straight through. The student is trained on the teacher's pooled vectors and head logits
over all training texts of every source (no gold labels: the target is the teacher's behaviour, in int8). The word
embeddings (which the export keeps in fp32) and the heads are frozen, and the teacher's calibration, decisions,
sparse heads and registry are copied unchanged: only the encoder's weights differ from the teacher's. The factors
are saved with the model (``int8_smoothing.safetensors``), and ``cur-nlp export-onnx`` rounds on exactly that grid.

Then export and compare with the teacher (dev by default; the test splits only for a candidate that passed on dev):

    cur-nlp export-onnx runs/qat8 --data artifacts/data --fp32-nodes 0
    python -m training.qat compare --teacher models/default --model runs/qat8 --backend onnx-int8 --split dev
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cur_nlp.classifier import ComplaintClassifier
from cur_nlp.encoder import MultiHeadModel
from cur_nlp.model_dir import ModelConfig
from training.config import TrainConfig
from training.distill import DistillConfig, distillation_loss
from training.heads_data import load_training_data
from training.train import collate, compute_vectors, encode, fine_tune, set_seed

log = logging.getLogger("cur_nlp.qat")

COPIED_FILES = ("tokenizer.json", "tokenizer_config.json", "known_fakes.jsonl", "sparse.safetensors",
                "sparse_vocab.json", "training_config.yaml")
"""Teacher files the student keeps as they are (its evaluation, card and history are the teacher's: not copied)."""


# ---------------------------------------------------------------------------------------------- fake int8
def straight_through(exact: torch.Tensor, rounded: torch.Tensor) -> torch.Tensor:
    """``rounded`` in the forward pass, the gradient of ``exact`` in the backward pass."""
    return exact + (rounded - exact).detach()


def fake_int8_per_channel(weight: torch.Tensor) -> torch.Tensor:
    """Symmetric int8 per output channel (rows of a torch ``Linear`` weight), range -127..127, dequantised."""
    scale = weight.detach().abs().amax(1, keepdim=True).clamp_min(1e-12) / 127
    return straight_through(weight, (weight / scale).round().clamp(-127, 127) * scale)


def fake_uint8_per_tensor(x: torch.Tensor) -> torch.Tensor:
    """uint8 with one scale and zero point for the whole tensor, its range stretched to include 0 and rounded half
    to even, as ONNX Runtime's ``DynamicQuantizeLinear``; dequantised."""
    low, high = x.detach().amin().clamp(max=0), x.detach().amax().clamp(min=0)
    scale = ((high - low) / 255).clamp_min(1e-12)
    zero = (-low / scale).round().clamp(0, 255)
    return straight_through(x, ((x / scale).round() + zero).clamp(0, 255).sub(zero) * scale)


class FakeInt8Linear(nn.Module):
    """A ``Linear`` as the int8 export runs it: input divided by the SmoothQuant factors and rounded per tensor,
    weight multiplied by them and rounded per channel. ``linear`` keeps the real (trained) parameters."""

    def __init__(self, linear: nn.Linear, smooth: torch.Tensor) -> None:
        super().__init__()
        self.linear = linear
        self.register_buffer("smooth", smooth.to(linear.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(fake_uint8_per_tensor(x / self.smooth), fake_int8_per_channel(self.linear.weight * self.smooth),
                        self.linear.bias)


class FakeUint8Embedding(nn.Module):
    """An ``Embedding`` whose table is rounded to uint8 per tensor (the export's quantised ``Gather``)."""

    def __init__(self, embedding: nn.Embedding) -> None:
        super().__init__()
        self.embedding = embedding

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, fake_uint8_per_tensor(self.embedding.weight))


def quantised_linears(model: MultiHeadModel) -> list[list[tuple[nn.Module, str]]]:
    """The ``Linear`` layers the int8 export quantises, grouped by shared input (query, key and value are one
    fused matmul in the export, so they share their SmoothQuant factors), as ``(parent, attribute)`` pairs.
    Raises ``ValueError`` for encoders other than BERT."""
    if model.encoder.config.model_type != "bert":
        raise ValueError(f"quantisation-aware training reproduces the int8 export of BERT encoders only, "
                         f"found {model.encoder.config.model_type!r}")
    groups = []
    for layer in model.encoder.encoder.layer:
        attention = layer.attention
        groups += [[(attention.self, "query"), (attention.self, "key"), (attention.self, "value")],
                   [(attention.output, "dense")], [(layer.intermediate, "dense")], [(layer.output, "dense")]]
    return groups


@torch.inference_mode()
def activation_ranges(model: MultiHeadModel, ids: Sequence[list[int]], pad_id: int, batch_size: int = 16) -> list[torch.Tensor]:
    """Largest magnitude of every input channel of each group of :func:`quantised_linears`, over the
    non-padding tokens of ``ids`` (the export measures the same on unpadded sequences)."""
    groups = quantised_linears(model)
    ranges: list[torch.Tensor | None] = [None] * len(groups)
    current_mask: list[torch.Tensor] = []

    def hook(index: int):
        def record(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            x = inputs[0][current_mask[0].bool()]
            peak = x.abs().amax(0)
            ranges[index] = peak if ranges[index] is None else torch.maximum(ranges[index], peak)
        return record

    handles = [getattr(*group[0]).register_forward_pre_hook(hook(i)) for i, group in enumerate(groups)]
    try:
        model.eval()
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            input_ids, mask = collate([ids[i] for i in order[start : start + batch_size]], pad_id)
            current_mask[:] = [mask]
            model.embed(input_ids, mask)
    finally:
        for handle in handles:
            handle.remove()
    return [r for r in ranges if r is not None]


def smoothing_factors(model: MultiHeadModel, ranges: Sequence[torch.Tensor], alpha: float | None) -> list[torch.Tensor]:
    """SmoothQuant factor per input channel of each group, as ``cur_nlp.backends.export.smooth_activations``
    computes them (``alpha`` None: no smoothing, all ones)."""
    factors = []
    for group, activation in zip(quantised_linears(model), ranges):
        if alpha is None:
            factors.append(torch.ones_like(activation))
            continue
        weight = torch.cat([getattr(parent, name).weight.detach() for parent, name in group])  # (out, in)
        weight_range = weight.abs().amax(0).clamp_min(1e-5)
        factors.append((activation ** alpha / weight_range ** (1 - alpha)).clamp(1e-2, 1e2))
    return factors


def save_smoothing(directory: Path, factors: Sequence[torch.Tensor]) -> None:
    """Write the factors the student was trained with to the model directory, where ``cur-nlp export-onnx`` uses
    them instead of measuring its own (``cur_nlp.backends.export.trained_smoothing``): the int8 grid of the file is
    then the grid the weights were trained on."""
    from safetensors.torch import save_file

    from cur_nlp.backends.export import SMOOTHING_FILE, smoothing_key

    save_file({smoothing_key(i): f.detach().float().contiguous() for i, f in enumerate(factors)},
              str(Path(directory) / SMOOTHING_FILE))


def load_smoothing(directory: Path) -> list[torch.Tensor]:
    """The factors :func:`save_smoothing` wrote, in the order of :func:`quantised_linears`."""
    from safetensors.torch import load_file

    from cur_nlp.backends.export import SMOOTHING_FILE, smoothing_key

    stored = load_file(str(directory / SMOOTHING_FILE))
    return [stored[smoothing_key(i)] for i in range(len(stored))]


def insert_fake_int8(model: MultiHeadModel, factors: Sequence[torch.Tensor]) -> None:
    """Wrap every quantised ``Linear`` (and the position and token-type tables) in fake int8, in place."""
    for group, smooth in zip(quantised_linears(model), factors):
        for parent, name in group:
            setattr(parent, name, FakeInt8Linear(getattr(parent, name), smooth))
    embeddings = model.encoder.embeddings
    for name in ("position_embeddings", "token_type_embeddings"):
        setattr(embeddings, name, FakeUint8Embedding(getattr(embeddings, name)))


def remove_fake_int8(model: MultiHeadModel) -> None:
    """Undo :func:`insert_fake_int8`: put the trained ``Linear`` and ``Embedding`` modules back, in place."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, FakeInt8Linear):
                setattr(parent, name, child.linear)
            elif isinstance(child, FakeUint8Embedding):
                setattr(parent, name, child.embedding)


# ---------------------------------------------------------------------------------------------- training
@dataclass
class QatConfig:
    """What decides a quantisation-aware run (saved in the student's ``config.json`` under
    ``quantization_aware``)."""

    teacher: str
    output_dir: str
    epochs: int = 1
    batch_size: int = 16  # the ONNX backend runs calls of at most 16 rows: per-tensor ranges over as many
    lr: float = 5e-6  # 2e-5 diverged on models/default (loss 0.006 -> 0.02 in 250 steps)
    weight_decay: float = 0.0
    warmup_ratio: float = 0.06
    kd_temperature: float = 1.0
    vector_weight: float = 1.0
    smooth_alpha: float | None = 0.8  # the strength the export chose for the shipped model
    init: str | None = None  # continue from an earlier run's directory (its weights and smoothing factors)
    calibration_texts: int = 256
    max_texts: int | None = None  # a random sample of the training texts (for smoke tests); None: all
    seed: int = 13
    torch_threads: int | None = None
    log_every: int = 50

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, found {self.epochs}")
        if self.smooth_alpha is not None and not 0 <= self.smooth_alpha <= 1:
            raise ValueError(f"smooth_alpha must be in [0, 1] or None, found {self.smooth_alpha}")


def train_quantization_aware(cfg: QatConfig) -> Path:
    """Train the fake-int8 copy of the teacher, save it as a model directory (the teacher's decisions, sparse
    heads and registry unchanged) and return its path."""
    set_seed(cfg.seed)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    started = time.time()
    teacher_dir, out = Path(cfg.teacher), Path(cfg.output_dir)
    if out.resolve() == teacher_dir.resolve():
        raise ValueError("--out must differ from --teacher: the teacher's weights would be overwritten")
    train_cfg = TrainConfig.from_yaml(teacher_dir / "training_config.yaml")
    data = load_training_data(replace(train_cfg.data, max_train_per_class=None), train_cfg.heads)
    if cfg.max_texts and cfg.max_texts < len(data.rows["train"]):
        data.rows["train"] = random.Random(cfg.seed).sample(data.rows["train"], cfg.max_texts)
    teacher = ComplaintClassifier.from_pretrained(teacher_dir, backend="torch")
    config = teacher.config
    ids = {s: encode(teacher.tokenizer, data.texts(s), config.text_prefix, config.max_length) for s in ("train", "dev")}
    pad_id = teacher.tokenizer.pad_token_id or 0
    log.info("teacher %s: encoding %d train texts", teacher_dir, len(ids["train"]))
    teacher_vectors = compute_vectors(teacher.model, ids["train"], pad_id, 64)
    with torch.inference_mode():
        teacher_logits = {k: v.float() for k, v in teacher.model.eval().classify(teacher_vectors).items()}

    if cfg.init:  # an earlier run: its weights, trained on its factors
        student = MultiHeadModel.load(cfg.init, ModelConfig.load(cfg.init))
        factors = load_smoothing(Path(cfg.init))
    else:
        student = MultiHeadModel.load(teacher_dir, ModelConfig.load(teacher_dir))
        calibration = random.Random(cfg.seed).sample(ids["train"], min(cfg.calibration_texts, len(ids["train"])))
        factors = smoothing_factors(student, activation_ranges(student, calibration, pad_id), cfg.smooth_alpha)
    insert_fake_int8(student, factors)
    for module in student.modules():  # the target is a deterministic function: no dropout
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    frozen = ("heads.", "encoder.embeddings.word_embeddings.")
    trained = [p for n, p in student.named_parameters() if not n.startswith(frozen)]
    for name, parameter in student.named_parameters():
        parameter.requires_grad_(not name.startswith(frozen))
    optimizer = torch.optim.AdamW(trained, lr=cfg.lr, weight_decay=cfg.weight_decay)
    head_weights = {h.name: h.loss_weight for h in train_cfg.heads}
    loss_cfg = DistillConfig(teacher=cfg.teacher, output_dir=cfg.output_dir, kd_temperature=cfg.kd_temperature,
                             vector_weight=cfg.vector_weight, hard_weight=0.0)
    no_targets = {k: torch.full((len(ids["train"]),), -1) for k in teacher_logits}

    def batch_loss(batch: list[int], input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        vectors = student.embed(input_ids, mask)
        return distillation_loss(student.classify(vectors), {k: v[batch] for k, v in teacher_logits.items()},
                                 vectors, teacher_vectors[batch], {k: v[batch] for k, v in no_targets.items()},
                                 {}, head_weights, loss_cfg)

    history = fine_tune(student, optimizer, ids, pad_id, batch_loss, data, data.label_matrix("dev"),
                        epochs=cfg.epochs, batch_size=cfg.batch_size, warmup_ratio=cfg.warmup_ratio, seed=cfg.seed,
                        log_every=cfg.log_every, eval_batch_size=16)
    remove_fake_int8(student)

    out.mkdir(parents=True, exist_ok=True)
    student.config = config
    student.config.name = f"{config.name}-qat-int8"
    student.config.extra = {k: v for k, v in config.extra.items() if k != "backends"}  # checks were the teacher's
    student.config.extra["quantization_aware"] = {
        **asdict(cfg), "teacher_name": config.name, "train_texts": len(ids["train"]), "history": history,
        "minutes": round((time.time() - started) / 60, 1)}
    student.save(out)
    save_smoothing(out, factors)
    for name in COPIED_FILES:
        if (teacher_dir / name).exists():
            shutil.copy(teacher_dir / name, out / name)
    log.info("quantisation-aware student saved to %s (%.1f min)", out, (time.time() - started) / 60)
    return out


# ---------------------------------------------------------------------------------------------- comparison
SOURCES = ("spb", "kursk", "ru22fact")


def compare(teacher_dir: str | Path, model_dir: str | Path, backend: str, data_dir: str | Path, split: str = "dev",
            sources: Sequence[str] = SOURCES) -> dict[str, Any]:
    """Labels of ``model_dir`` run with ``backend`` against the teacher's fp32 (``torch``) labels on ``split`` of
    each source: agreement per head, the pooled vectors' cosine and relative error, and for sources with topic gold
    the topic macro-F1 and accuracy of both, the difference with its paired-bootstrap 5-95% interval and the number
    of changed topic labels."""
    import datasets

    from cur_nlp.backends.export import macro_f1, paired_bootstrap_f1
    from cur_nlp.classifier import decide

    teacher = ComplaintClassifier.from_pretrained(teacher_dir, backend="torch")
    candidate = ComplaintClassifier.from_pretrained(model_dir, backend=backend)
    if [h.labels for h in teacher.config.heads] != [h.labels for h in candidate.config.heads]:
        raise ValueError(f"{model_dir} and {teacher_dir} have different heads or labels: not comparable")
    report: dict[str, Any] = {"teacher": str(teacher_dir), "model": str(model_dir), "backend": backend, "split": split}
    for source in sources:
        path = Path(data_dir) / source
        if not path.exists():
            continue
        rows = datasets.load_from_disk(str(path))[split]
        texts = list(rows["text"])
        got, vectors = {}, {}
        for name, clf in (("teacher", teacher), ("model", candidate)):
            scores = clf.predict_scores(texts)
            got[name] = {h.name: decide(h, scores[h.name]) for h in clf.config.heads}
            vectors[name] = clf.embed(texts)[0]
        ref, new = vectors["teacher"], vectors["model"]
        cosine = (ref * new).sum(1) / np.maximum(np.linalg.norm(ref, axis=1) * np.linalg.norm(new, axis=1), 1e-12)
        entry: dict[str, Any] = {"posts": len(texts), "agreement": {
            head: round(float(np.mean(got["teacher"][head] == got["model"][head])), 4) for head in got["teacher"]},
            "vectors": {"mean_cosine": round(float(cosine.mean()), 5), "min_cosine": round(float(cosine.min()), 5),
                        "relative_error": round(float(np.linalg.norm(new - ref) / np.linalg.norm(ref)), 4)}}
        topic = teacher.config.head("topic") if "topic" in teacher.head_names else None
        keep = [i for i, g in enumerate(rows["topic"]) if topic and g in topic.labels]
        if keep:
            gold = np.array([topic.labels.index(rows["topic"][i]) for i in keep])
            ref, new = got["teacher"]["topic"][keep], got["model"]["topic"][keep]
            entry["topic"] = {"n": len(keep), "macro_f1_teacher": round(macro_f1(gold, ref), 4),
                              "macro_f1_model": round(macro_f1(gold, new), 4),
                              "diff_pt": {k: round(100 * v, 2) for k, v in paired_bootstrap_f1(gold, ref, new).items()},
                              "accuracy_diff_pt": round(100 * float(np.mean(new == gold) - np.mean(ref == gold)), 2),
                              "labels_changed": int(np.sum(ref != new))}
        report[source] = entry
        log.info("%s %s: %s", source, split, json.dumps(entry))
    return report


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train the fake-int8 copy of a model directory")
    train.add_argument("--teacher", default="models/default", help="trained model directory")
    train.add_argument("--out", default="runs/qat8", help="where to write the student model directory")
    train.add_argument("--epochs", type=int, default=1)
    train.add_argument("--lr", type=float, default=5e-6)
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--smooth-alpha", type=float, default=0.8, help="SmoothQuant strength (negative: none)")
    train.add_argument("--init", default=None, help="continue from an earlier run's output directory")
    train.add_argument("--max-texts", type=int, default=None, help="train on a random sample (smoke tests)")
    train.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    check = commands.add_parser("compare", help="labels of a model (any backend) against the teacher's fp32 labels")
    check.add_argument("--teacher", default="models/default")
    check.add_argument("--model", required=True, help="model directory to compare")
    check.add_argument("--backend", default="onnx-int8", help="backend the model runs with")
    check.add_argument("--data", default="artifacts/data", help="prepared splits (cur-nlp data prepare)")
    check.add_argument("--split", default="dev", help="split to compare on (test only for a dev-checked choice)")
    check.add_argument("--out", default=None, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    if args.command == "train":
        train_quantization_aware(QatConfig(
            teacher=args.teacher, output_dir=args.out, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
            smooth_alpha=None if args.smooth_alpha < 0 else args.smooth_alpha, init=args.init, max_texts=args.max_texts,
            torch_threads=args.threads))
        return
    report = compare(args.teacher, args.model, args.backend, args.data, args.split)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
