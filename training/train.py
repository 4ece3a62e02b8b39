"""Training of the multi-head classifier: full fine-tuning or fast (frozen encoder, heads only)."""

from __future__ import annotations

import copy
import logging
import math
import random
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from transformers import AutoTokenizer

from cur_nlp.batching import bucketed_batches, encode, pad
from cur_nlp.encoder import MultiHeadModel
from cur_nlp.model_dir import HeadSpec, ModelConfig
from cur_nlp_training.calibrate import calibrate_and_tune, decision_labels, dev_sources
from cur_nlp_training.config import TrainConfig
from cur_nlp_training.heads_data import TrainingData, load_training_data
from cur_nlp_training.metrics import head_metrics

log = logging.getLogger("cur_nlp.train")


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def choose_max_length(lengths: list[int], limit: int, percentile: float) -> int:
    """Max sequence length from the data: the given percentile of token lengths, capped by ``limit``."""
    return int(min(limit, max(16, math.ceil(np.percentile(lengths, percentile)))))


def collate(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids`` and ``attention_mask`` tensors of one batch (:func:`cur_nlp.batching.pad`)."""
    input_ids, mask = pad(ids, pad_id)
    return torch.from_numpy(input_ids), torch.from_numpy(mask)


def class_weights(targets: np.ndarray, n_labels: int, scheme: str) -> torch.Tensor:
    """Loss weights per class from train frequencies (mean weight over train rows is 1)."""
    counts = np.bincount(targets[targets >= 0], minlength=n_labels).astype(float)
    if scheme == "none":
        return torch.ones(n_labels)
    raw = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
    raw = np.sqrt(raw) if scheme == "sqrt_inverse" else raw
    raw = raw / max((raw * counts).sum() / max(counts.sum(), 1), 1e-12)
    return torch.tensor(raw, dtype=torch.float32)


def layerwise_groups(model: MultiHeadModel, cfg: TrainConfig) -> list[dict]:
    """Parameter groups with layer-wise learning-rate decay: top layer ``lr``, each lower layer × decay."""
    layers = getattr(getattr(model.encoder, "encoder", None), "layer", None)
    depth = len(layers) if layers is not None else 0
    groups: dict[tuple[float, float], list] = {}

    def add(param, lr, decay):
        groups.setdefault((lr, decay), []).append(param)

    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name
        wd = 0.0 if no_decay else cfg.weight_decay
        if name.startswith("heads."):
            add(param, cfg.head_lr, wd)
            continue
        level = depth  # pooler / anything above the layers
        if ".embeddings." in f".{name}":
            level = 0
        else:
            for i in range(depth):
                if f"encoder.layer.{i}." in name:
                    level = i + 1
                    break
        add(param, cfg.lr * cfg.layer_decay ** (depth - min(level, depth)), wd)
    return [{"params": p, "lr": lr, "weight_decay": wd} for (lr, wd), p in groups.items()]


def masked_loss(logits: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
                weights: dict[str, torch.Tensor], head_weights: dict[str, float],
                row_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Sum over heads of ``head_weight`` × the class-weighted cross-entropy over the rows labelled for that head
    (label -1: no label); ``row_weights`` (e.g. per source) weight the rows within each head's mean."""
    total = torch.zeros(())
    for name, out in logits.items():
        y = targets[name]
        keep = y >= 0
        if not keep.any():
            continue
        if row_weights is None:
            loss = nn.functional.cross_entropy(out[keep], y[keep], weight=weights[name])
        else:
            per_row = nn.functional.cross_entropy(out[keep], y[keep], weight=weights[name], reduction="none")
            # weighted mean as cross_entropy computes it, with the row weights beside the class weights
            loss = (per_row * row_weights[keep]).sum() / (weights[name][y[keep]] * row_weights[keep]).sum()
        total = total + head_weights[name] * loss
    return total


@torch.inference_mode()
def compute_vectors(model: MultiHeadModel, ids: list[list[int]], pad_id: int, batch_size: int) -> torch.Tensor:
    """Pooled vectors for token id lists, in input order (length-sorted batches inside)."""
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = torch.zeros((len(ids), model.encoder.config.hidden_size))
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        input_ids, mask = collate([ids[i] for i in batch], pad_id)
        out[batch] = model.embed(input_ids, mask).float()
    return out


@torch.inference_mode()
def head_logits(model: MultiHeadModel, vectors: torch.Tensor) -> dict[str, np.ndarray]:
    model.eval()
    return {k: v.numpy() for k, v in model.classify(vectors).items()}


def dev_score(data: TrainingData, logits: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> tuple[float, dict]:
    """Mean over heads of macro-F1 (F1 of the positive class for binary heads) on dev."""
    scores = {}
    for head in data.heads:
        rows = labels[head.name] >= 0
        if not rows.any():
            continue
        gold, pred = labels[head.name][rows], logits[head.name][rows].argmax(1)
        m = head_metrics(data.labels[head.name], gold, pred, binary=head.type == "binary")
        scores[head.name] = m["positive_f1"] if head.type == "binary" else m["macro_f1"]
    return float(np.mean(list(scores.values()))), scores


def _train_heads_only(model: MultiHeadModel, vectors: torch.Tensor, targets: dict[str, torch.Tensor],
                      weights: dict, head_weights: dict, cfg: TrainConfig, dev_vectors: torch.Tensor,
                      data: TrainingData, dev_labels: dict, row_weights: torch.Tensor | None = None) -> dict:
    optimizer = torch.optim.AdamW(model.heads.parameters(), lr=cfg.head_lr * 3, weight_decay=cfg.weight_decay)
    best, best_state = -1.0, None
    rng = torch.Generator().manual_seed(cfg.seed)
    for epoch in range(cfg.fast_epochs):
        model.train()
        perm = torch.randperm(len(vectors), generator=rng)
        for start in range(0, len(perm), 256):
            batch = perm[start : start + 256]
            loss = masked_loss(model.classify(vectors[batch]), {k: v[batch] for k, v in targets.items()}, weights,
                               head_weights, None if row_weights is None else row_weights[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        score, per_head = dev_score(data, head_logits(model, dev_vectors), dev_labels)
        if score > best:
            best, best_state = score, copy.deepcopy(model.heads.state_dict())
            log.info("fast epoch %d: dev %.4f %s (best)", epoch + 1, score, per_head)
    model.heads.load_state_dict(best_state)
    return {"best_dev_score": best}


def fine_tune(model: MultiHeadModel, optimizer: torch.optim.Optimizer, ids: dict[str, list[list[int]]], pad_id: int,
              batch_loss: Callable[[list[int], torch.Tensor, torch.Tensor], torch.Tensor], data: TrainingData,
              dev_labels: dict[str, np.ndarray], *, epochs: int, batch_size: int, warmup_ratio: float, seed: int,
              log_every: int, eval_batch_size: int, checkpoint: Path | None = None) -> list[dict]:
    """The epoch loop shared by training and distillation: length-bucketed batches, linear warm-up and decay,
    gradient clipping, a dev score after every epoch; the best dev epoch's weights are loaded at the end.

    ``batch_loss(rows, input_ids, mask)`` returns the loss of the train rows ``rows``. With ``checkpoint`` (a file
    path), the whole state is saved there after every epoch, and a run that finds the file resumes after its last
    epoch. Returns one history entry per epoch."""
    rng = random.Random(seed)
    lengths = [len(x) for x in ids["train"]]
    total = math.ceil(len(lengths) / batch_size) * epochs
    warmup = int(total * warmup_ratio)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, warmup)) * max(0.0, (total - s) / max(1, total - warmup))
    )
    history, best, best_state, step, first_epoch = [], -1.0, None, 0, 0
    if checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rng.setstate(state["rng"])
        history, best, best_state, step = state["history"], state["best"], state["best_state"], state["step"]
        first_epoch = len(history)
        log.info("resuming from %s after epoch %d (best dev %.4f)", checkpoint, first_epoch, best)
    for epoch in range(first_epoch, epochs):
        model.train()
        running, seen, t0 = 0.0, 0, time.time()
        for batch in bucketed_batches(lengths, batch_size, rng):
            input_ids, mask = collate([ids["train"][i] for i in batch], pad_id)
            loss = batch_loss(batch, input_ids, mask)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            running += loss.item() * len(batch)
            seen += len(batch)
            if step % log_every == 0:
                log.info("epoch %d step %d/%d loss %.4f (%.1f texts/s)", epoch + 1, step, total,
                         running / seen, seen / (time.time() - t0))
        dev_vectors = compute_vectors(model, ids["dev"], pad_id, eval_batch_size)
        score, per_head = dev_score(data, head_logits(model, dev_vectors), dev_labels)
        history.append({"epoch": epoch + 1, "train_loss": running / max(seen, 1), "dev_score": score, "dev": per_head})
        log.info("epoch %d done: train loss %.4f, dev %.4f %s", epoch + 1, running / max(seen, 1), score, per_head)
        if score > best:
            best, best_state = score, copy.deepcopy(model.state_dict())
            log.info("new best checkpoint (epoch %d)", epoch + 1)
        if checkpoint is not None:
            partial = checkpoint.with_suffix(".partial")
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": rng.getstate(),
                        "scheduler": scheduler.state_dict(), "history": history, "best": best,
                        "best_state": best_state, "step": step}, partial)
            partial.replace(checkpoint)  # a run killed while saving keeps the previous epoch's checkpoint
    model.load_state_dict(best_state)
    return history


CHECKPOINT_FILE = "checkpoint.pt"
"""Written into the output folder after every full fine-tuning epoch; removed once the model directory is saved."""


def start_run(seed: int, torch_threads: int | None, output_dir: str | Path) -> Path:
    """Seed every generator, set torch's threads (when given) and create the output folder; returns it."""
    set_seed(seed)
    if torch_threads:
        torch.set_num_threads(torch_threads)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


def train(cfg: TrainConfig) -> Path:
    """Train, calibrate and save a model directory; returns its path."""
    started = time.time()
    out = start_run(cfg.seed, cfg.torch_threads, cfg.output_dir)
    data = load_training_data(cfg.data, cfg.heads)
    for split in ("train", "dev"):
        counts = {k: int((v >= 0).sum()) for k, v in data.label_matrix(split).items()}
        log.info("%s: %d rows, labelled per head %s", split, len(data.rows[split]), counts)

    tokenizer = AutoTokenizer.from_pretrained(cfg.base_model, use_fast=True)
    pad_id = tokenizer.pad_token_id or 0
    raw_lengths = [len(x) for x in tokenizer([cfg.text_prefix + t for t in data.texts("train")])["input_ids"]]
    max_length = choose_max_length(raw_lengths, cfg.max_length, cfg.max_length_percentile)
    log.info("max_length %d (p%.0f of train token lengths, cap %d)", max_length, cfg.max_length_percentile, cfg.max_length)

    model_cfg = ModelConfig(
        name=cfg.name, version=cfg.version, base_model=cfg.base_model, pooling=cfg.pooling,
        text_prefix=cfg.text_prefix, max_length=max_length,
        heads=[HeadSpec(h.name, h.type, data.labels[h.name]) for h in cfg.heads],
    )
    model = MultiHeadModel.from_encoder(cfg.base_model, model_cfg, cfg.dropout)
    ids = {s: encode(tokenizer, data.texts(s), cfg.text_prefix, max_length)[0] for s in ("train", "dev")}
    labels = {s: data.label_matrix(s) for s in ("train", "dev")}
    targets = {k: torch.tensor(v) for k, v in labels["train"].items()}
    weights = {h.name: class_weights(labels["train"][h.name], len(data.labels[h.name]), cfg.class_weighting) for h in cfg.heads}
    head_weights = {h.name: h.loss_weight for h in cfg.heads}
    row_weights = (torch.from_numpy(data.row_weights("train", cfg.data.source_weights))
                   if cfg.data.source_weights else None)
    history = []

    if cfg.mode == "fast":
        for p in model.encoder.parameters():
            p.requires_grad_(False)
        log.info("fast mode: encoding %d train + %d dev texts once", len(ids["train"]), len(ids["dev"]))
        train_vectors = compute_vectors(model, ids["train"], pad_id, cfg.eval_batch_size)
        dev_vectors = compute_vectors(model, ids["dev"], pad_id, cfg.eval_batch_size)
        history.append(_train_heads_only(model, train_vectors, targets, weights, head_weights, cfg,
                                         dev_vectors, data, labels["dev"], row_weights))
    else:
        optimizer = torch.optim.AdamW(layerwise_groups(model, cfg))
        history = fine_tune(
            model, optimizer, ids, pad_id,
            lambda batch, input_ids, mask: masked_loss(model(input_ids, mask), {k: v[batch] for k, v in targets.items()},
                                                       weights, head_weights,
                                                       None if row_weights is None else row_weights[batch]),
            data, labels["dev"], epochs=cfg.epochs, batch_size=cfg.batch_size, warmup_ratio=cfg.warmup_ratio,
            seed=cfg.seed, log_every=cfg.log_every, eval_batch_size=cfg.eval_batch_size,
            checkpoint=out / CHECKPOINT_FILE)
        dev_vectors = compute_vectors(model, ids["dev"], pad_id, cfg.eval_batch_size)

    calibrate_and_tune(model_cfg, head_logits(model, dev_vectors), labels["dev"], cfg,
                       decision_labels(data, cfg, labels["dev"]),
                       dev_sources(data))
    save_model_dir(model, tokenizer, cfg, out, history, time.time() - started)
    (out / CHECKPOINT_FILE).unlink(missing_ok=True)
    log.info("saved model to %s (%.1f min)", out, (time.time() - started) / 60)
    return out


def save_model_dir(model: MultiHeadModel, tokenizer, cfg: TrainConfig, out: Path, history: list, seconds: float) -> None:
    """Write weights, tokenizer, configs and training history to ``out``."""
    import json

    model.save(out)
    tokenizer.save_pretrained(str(out))
    cfg.save(out / "training_config.yaml")
    (out / "training_history.json").write_text(
        json.dumps({"history": history, "seconds": round(seconds, 1)}, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    if cfg.registry:
        shutil.copy(cfg.registry, out / "known_fakes.jsonl")
