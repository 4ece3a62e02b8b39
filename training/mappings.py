"""Reviewed mapping tables from source labels to the unified topic and urgency labels."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from cur_nlp.labels import URGENCY_LEVELS, topic_ids

MAPPINGS_DIR = Path(__file__).parent / "mappings"


@dataclass(frozen=True)
class Target:
    """Where one source label goes: a topic id and, when the label implies it, an urgency level."""

    topic: str
    urgency: str | None


def load_mapping(name: str) -> dict[str, Target]:
    """Read ``training/mappings/<name>.csv`` (columns ``source_label,topic,urgency``) and validate it.

    Raises ``ValueError`` naming the row when a topic or urgency is unknown or a label is repeated.
    """
    path = MAPPINGS_DIR / f"{name}.csv"
    if not path.exists():
        raise FileNotFoundError(f"mapping table {path} is missing")
    known_topics = set(topic_ids())
    table: dict[str, Target] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != ["source_label", "topic", "urgency"]:
            raise ValueError(f"{path}: expected columns source_label,topic,urgency, found {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            label, topic, urgency = row["source_label"], row["topic"].strip(), (row["urgency"] or "").strip()
            if topic not in known_topics:
                raise ValueError(f"{path}:{line}: unknown topic {topic!r}; expected one of {sorted(known_topics)}")
            if urgency and urgency not in URGENCY_LEVELS:
                raise ValueError(f"{path}:{line}: unknown urgency {urgency!r}; expected one of {URGENCY_LEVELS}")
            if label in table:
                raise ValueError(f"{path}:{line}: source label {label!r} is mapped twice")
            table[label] = Target(topic, urgency or None)
    return table
