"""Training data as the trainer sees it: texts per split and, per head, label indices (-1 = no label).

Heads are data: a head is a name, a type and a column; its labels come from the taxonomy (``topic``,
``urgency``), from the config, or from the values found in the training split.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cur_nlp.labels import URGENCY_LEVELS, topic_ids
from cur_nlp.normalize import normalize_text

SPLITS = ("train", "dev", "test")

log = logging.getLogger("cur_nlp.train")


@dataclass
class HeadColumn:
    """A head to train: ``name``, ``type`` (multiclass or binary), the data ``column`` holding its labels,
    and optionally the ``labels`` (``"taxonomy:topic"``, ``"taxonomy:urgency"``, an explicit list, or None to
    take the sorted values seen in train)."""

    name: str
    type: str = "multiclass"
    column: str | None = None
    labels: Any = None
    loss_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.type not in ("multiclass", "binary"):
            raise ValueError(f"head {self.name!r}: type must be multiclass or binary, found {self.type!r}")
        self.column = self.column or self.name


@dataclass
class DataConfig:
    """Where the texts and labels come from.

    Either ``prepared_dir`` + ``sources`` (splits built by ``cur-nlp data prepare``) or ``files``
    (``{"train": path, "dev": path, "test": path}``, CSV or JSONL with a ``text`` column plus label columns).
    ``fill`` sets a label for a whole source where the source is silent (e.g. portal petitions are not fakes).
    ``max_train_per_class`` caps train rows per (source, label of ``cap_head``) to keep CPU training short
    (``uncapped`` sources are kept whole). ``read_labels``: per column, a CSV (``id,<column>``) of labels read by
    hand; they replace the source's (weak) labels in train and dev rows; test rows keep theirs, so a read test half
    stays an evaluation set. ``source_weights``: per source, a factor on its rows' training loss (default 1), so a
    large source does not drown the small ones. ``written_sources``: sources whose labels were written or read by
    hand with the text (they count as read labels where decisions are tuned).
    """

    prepared_dir: str | None = "artifacts/data"
    sources: list[str] = field(default_factory=lambda: ["spb", "kursk", "ru22fact"])
    files: dict[str, str] | None = None
    text_column: str = "text"
    fill: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_train_per_class: int | None = None
    cap_head: str = "topic"
    uncapped: list[str] = field(default_factory=list)
    read_labels: dict[str, str] = field(default_factory=dict)
    source_weights: dict[str, float] = field(default_factory=dict)
    written_sources: list[str] = field(default_factory=list)
    seed: int = 13


@dataclass
class TrainingData:
    """Texts, sources and ids per split, and label indices per head."""

    heads: list[HeadColumn]
    labels: dict[str, list[str]]
    rows: dict[str, list[dict[str, Any]]]

    def texts(self, split: str) -> list[str]:
        return [r["text"] for r in self.rows[split]]

    def ids(self, split: str) -> list[str]:
        return [r["id"] for r in self.rows[split]]

    def sources(self, split: str) -> list[str]:
        return [r["source"] for r in self.rows[split]]

    def row_weights(self, split: str, source_weights: dict[str, float]) -> np.ndarray:
        """Loss weight of every row of ``split``: its source's factor in ``source_weights`` (default 1)."""
        return np.array([source_weights.get(r["source"], 1.0) for r in self.rows[split]], dtype=np.float32)

    def label_matrix(self, split: str) -> dict[str, np.ndarray]:
        """Per head, label index per row (-1 where the row has no label for that head)."""
        return {h.name: np.array([self._index(h, r.get(h.column)) for r in self.rows[split]], dtype=np.int64)
                for h in self.heads}

    def targets(self, split: str, head: str) -> tuple[np.ndarray, np.ndarray]:
        """Row positions that have a label for ``head`` and their label indices."""
        indices = self.label_matrix(split)[head]
        rows = np.flatnonzero(indices >= 0)
        return rows, indices[rows]

    def _index(self, head: HeadColumn, value: Any) -> int:
        if not _has_label(value):
            return -1
        key = _label_key(value)
        labels = self.labels[head.name]
        if key not in labels:
            return -1  # outside the head's label set: only in test rows (load_training_data refuses the others)
        return labels.index(key)


def _has_label(value: Any) -> bool:
    return not (value is None or (isinstance(value, float) and np.isnan(value)) or value == "")


def check_known_labels(rows: dict[str, list[dict[str, Any]]], heads: list[HeadColumn],
                       labels: dict[str, list[str]]) -> None:
    """Train and dev rows whose label is not in their head's label set are no longer dropped without a word: for a
    head with given labels (the taxonomy or a list) they are a ``ValueError`` that lists the labels with how many
    rows carry each; for a head whose labels are the values seen in train, dev rows with other values are logged
    (they cannot be predicted, so they take no part in calibration)."""
    problems = []
    for head in heads:
        unknown = Counter(_label_key(row[head.column]) for split in ("train", "dev") for row in rows[split]
                          if _has_label(row.get(head.column)) and _label_key(row[head.column]) not in labels[head.name])
        if not unknown:
            continue
        listed = ", ".join(f"{label!r} ({count} rows)" for label, count in unknown.most_common(10))
        listed += f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        if head.labels is None and head.type == "multiclass":
            log.warning("head %r (column %r): dev rows with labels never seen in train are left out: %s",
                        head.name, head.column, listed)
        else:
            problems.append(f"head {head.name!r} (column {head.column!r}): {listed}")
    if problems:
        raise ValueError("train/dev rows with labels outside their head's labels: " + "; ".join(problems)
                         + ". Fix the data, or add the labels to the head's `labels` in the config")


def _label_key(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower()
    return str(value)


def _resolve_labels(head: HeadColumn, train_rows: list[dict]) -> list[str]:
    if head.type == "binary":
        return ["false", "true"]
    if head.labels == "taxonomy:topic":
        return topic_ids()
    if head.labels == "taxonomy:urgency":
        return list(URGENCY_LEVELS)
    if isinstance(head.labels, list):
        return [str(x) for x in head.labels]
    if head.labels is not None:
        raise ValueError(f"head {head.name!r}: labels must be a list, 'taxonomy:topic', 'taxonomy:urgency' or empty")
    values = sorted({_label_key(r[head.column]) for r in train_rows if r.get(head.column) not in (None, "")})
    if len(values) < 2:
        raise ValueError(f"head {head.name!r}: column {head.column!r} has {len(values)} distinct labels in train; need 2+")
    return values


def _read_table(path: str | Path, text_column: str) -> list[dict[str, Any]]:
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {path} not found")
    frame = pd.read_json(path, lines=True) if path.suffix in (".jsonl", ".json") else pd.read_csv(path)
    if text_column not in frame.columns:
        raise ValueError(f"{path}: expected a {text_column!r} column, found {list(frame.columns)}")
    frame = frame.astype(object).where(frame.notna(), None)
    rows = frame.to_dict("records")
    for i, row in enumerate(rows):
        row["text"] = normalize_text(str(row.pop(text_column) or ""))
        row.setdefault("id", f"{path.stem}:{i}")
        row["id"] = str(row["id"])
        row.setdefault("source", path.stem)
    return rows


def _cap(rows: list[dict], column: str, cap: int, seed: int, uncapped: list[str]) -> list[dict]:
    rng = random.Random(seed)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    seen: dict[tuple, int] = {}
    kept = []
    for row in shuffled:
        key = (row.get("source"), row.get(column))
        # rows with labels read by hand are never capped away
        if row.get("source") in uncapped or any(k.startswith("read_") for k in row) or seen.get(key, 0) < cap:
            seen[key] = seen.get(key, 0) + 1
            kept.append(row)
    return kept


def apply_read_labels(rows: dict[str, list[dict]], column: str, path: str | Path) -> int:
    """Replace ``column`` of the train and dev rows whose id is in the CSV ``path`` (``id,<column>``) by the label
    read there; returns how many rows changed hands. Read rows are marked ``read_<column>: True``."""
    import csv

    with open(path, encoding="utf-8", newline="") as handle:
        read = {row["id"]: row[column] for row in csv.DictReader(handle)}
    replaced = 0
    for split in ("train", "dev"):
        for row in rows[split]:
            if row["id"] in read:
                row[column], row[f"read_{column}"] = read[row["id"]], True
                replaced += 1
    return replaced


def load_training_data(data: DataConfig, heads: list[HeadColumn]) -> TrainingData:
    """Assemble train/dev/test rows from prepared sources or user files, apply fills and caps."""
    rows: dict[str, list[dict]] = {s: [] for s in SPLITS}
    if data.files:
        missing = [s for s in ("train", "dev") if s not in data.files]
        if missing:
            raise ValueError(f"data.files needs at least train and dev files, missing {missing}")
        for split, path in data.files.items():
            rows[split] = _read_table(path, data.text_column)
    else:
        from cur_nlp_training.splits import load_prepared

        for source in data.sources:
            prepared = load_prepared(data.prepared_dir, source)
            for split in SPLITS:
                rows[split].extend(prepared[split].to_list())
    for split_rows in rows.values():
        for row in split_rows:
            for column, value in data.fill.get(row.get("source"), {}).items():
                if row.get(column) is None:
                    row[column] = value
    for column, path in data.read_labels.items():
        apply_read_labels(rows, column, path)
    if data.max_train_per_class:
        cap_column = next((h.column for h in heads if h.name == data.cap_head), data.cap_head)
        rows["train"] = _cap(rows["train"], cap_column, data.max_train_per_class, data.seed, data.uncapped)
    labels = {h.name: _resolve_labels(h, rows["train"]) for h in heads}
    check_known_labels(rows, heads, labels)
    return TrainingData(heads=heads, labels=labels, rows=rows)
