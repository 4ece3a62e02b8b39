"""A post as grouping sees it, read from a prediction record (``cur-nlp predict`` output or any JSON object with
``text`` and optional ``id``, ``created``, ``lat``/``lon``, a town field, ``topic``, ``urgency``, ``locations``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cur_nlp.incidents.places import Place, place_of
from cur_nlp.incidents.textsim import SparseVector, text_vector


@dataclass(frozen=True)
class Post:
    """One post: id, text, time (naive UTC), place, topic (label and top probabilities), urgency, text vector."""

    id: str
    text: str
    time: datetime
    place: Place
    topic: str | None
    topics: dict[str, float]
    urgency: str | None
    vector: SparseVector


def utc_naive(moment: datetime) -> datetime:
    """``moment`` as a naive UTC time (aware times are converted; naive ones are taken as they are)."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo is not None else moment


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string (``Z`` allowed) or a Unix timestamp as a naive UTC time; None when unreadable."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), timezone.utc).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return utc_naive(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except ValueError:
        return None


def _label(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("label")
    return str(value) if value not in (None, "") else None


def _top(value: Any) -> dict[str, float]:
    """The head's ``top`` list as {label: probability} (the label alone, with 1.0, when there is no list)."""
    if isinstance(value, dict) and isinstance(value.get("top"), list):
        return {str(pair[0]): float(pair[1]) for pair in value["top"]
                if isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[1], (int, float))}
    label = _label(value)
    return {label: 1.0} if label else {}


def post_from_record(record: dict[str, Any], now: datetime, fallback_id: str) -> Post | None:
    """The post of a record, or None when it has no text to read. ``created`` is used when readable, else ``now``
    (the time of processing); ``id`` defaults to ``fallback_id``."""
    text = record.get("text")
    if not isinstance(text, str) or not text.strip() or record.get("empty") is True:
        return None
    post_id = record.get("id")
    return Post(
        id=str(post_id) if post_id not in (None, "") else fallback_id,
        text=text,
        time=parse_time(record.get("created")) or utc_naive(now),
        place=place_of(record),
        topic=_label(record.get("topic")),
        topics=_top(record.get("topic")),
        urgency=_label(record.get("urgency")),
        vector=text_vector(text),
    )
