"""The label language of cur_nlp: topics from the regional rubricator and four urgency levels.

Labels are data shipped with the package (``cur_nlp/data/*.json``); a trained model directory
carries its own copy of the label lists, so a retrained model with new labels needs no code change.

>>> [t.id for t in load_topics()][:3]
['improvement', 'housing', 'roads']
>>> URGENCY_LEVELS
('critical', 'high', 'normal', 'low')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

URGENCY_LEVELS: tuple[str, ...] = ("critical", "high", "normal", "low")
"""Urgency levels from most to least urgent (the order is meaningful)."""


@dataclass(frozen=True)
class Label:
    """One label of a head: a stable id, a Russian display name and a description."""

    id: str
    name: str
    description: str


def _read_json(name: str) -> dict:
    return json.loads(resources.files("cur_nlp.data").joinpath(name).read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def load_topics() -> tuple[Label, ...]:
    """Topics of the unified taxonomy (merged groups of the rubricator), in canonical order."""
    return tuple(Label(t["id"], t["name"], t["description"]) for t in _read_json("topics.json")["topics"])


@lru_cache(maxsize=None)
def load_urgency_levels() -> tuple[Label, ...]:
    """Urgency levels with their definitions, from ``critical`` to ``low``."""
    return tuple(Label(u["id"], u["name"], u["description"]) for u in _read_json("urgency.json")["levels"])


def topic_ids() -> list[str]:
    """Ids of all topics, in canonical order."""
    return [t.id for t in load_topics()]


@lru_cache(maxsize=None)
def rubricator_group_to_topic() -> dict[str, str]:
    """Map each group name of the source rubricator to the unified topic id it was merged into."""
    return {g: t["id"] for t in _read_json("topics.json")["topics"] for g in t["groups"]}
