"""What the weekly (or monthly) picture shows, computed from prediction records in two streaming passes: the first
finds the period (the week or calendar month of the newest post), the second counts and groups.

Counts are by topic × municipality (the heat map), topics overall and per municipality against the previous
period, urgency by topic, the share of posts that could not be placed, the fakes matched in the registry, and the
largest and most urgent incidents still open at the end of the period.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from cur_nlp.geo.heatmap import UNRESOLVED, primary_location
from cur_nlp.geo.types import Location
from cur_nlp.incidents import GroupingSettings, Incident, IncidentGrouper, post_from_record
from cur_nlp.incidents.post import parse_time, utc_naive
from cur_nlp.labels import URGENCY_LEVELS

PERIODS = ("week", "month")
UNKNOWN_TOPIC = "unknown"


@dataclass(frozen=True)
class Period:
    """A half-open time window ``[start, end)`` and the window before it."""

    kind: str
    start: datetime
    end: datetime
    previous_start: datetime

    @classmethod
    def ending_with(cls, kind: str, newest: datetime) -> "Period":
        """The week (7 days up to and including the newest post's day) or calendar month of ``newest``."""
        if kind not in PERIODS:
            raise ValueError(f"period must be one of {PERIODS}, found {kind!r}")
        day = newest.replace(hour=0, minute=0, second=0, microsecond=0)
        if kind == "week":
            end = day + timedelta(days=1)
            return cls(kind, end - timedelta(days=7), end, end - timedelta(days=14))
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        return cls(kind, start, end, (start - timedelta(days=1)).replace(day=1))

    def which(self, moment: datetime) -> str | None:
        """``current``, ``previous`` or None for a moment outside both windows."""
        if self.start <= moment < self.end:
            return "current"
        if self.previous_start <= moment < self.start:
            return "previous"
        return None


def _label(value: Any, default: str | None = None) -> str | None:
    if isinstance(value, dict):
        value = value.get("label")
    return str(value) if value not in (None, "") else default


def post_municipality(record: dict[str, Any]) -> tuple[str, tuple[float, float] | None]:
    """Where a post is for the report: the municipality of its most specific resolved place (and that place's
    point), else the record's own ``municipality``/``city`` (with its ``lat``/``lon``), else «(не определено)»."""
    locations = [Location.from_dict(d) for d in record.get("locations") or () if isinstance(d, dict)]
    location = primary_location(locations)
    if location is not None and (location.municipality or location.region):
        return location.municipality or location.region, (float(location.lat), float(location.lon))
    name = record.get("municipality") or record.get("city") or record.get("settlement")
    try:
        point = (float(record["lat"]), float(record["lon"]))
    except (KeyError, TypeError, ValueError):
        point = None
    return (str(name) if name else UNRESOLVED), point


@dataclass
class Picture:
    """Everything the report shows (see the module docstring)."""

    period: Period
    posts: int = 0
    previous_posts: int = 0
    unplaced: int = 0
    topics: Counter = field(default_factory=Counter)
    previous_topics: Counter = field(default_factory=Counter)
    by_municipality: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    previous_by_municipality: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    urgency: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    points: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    fakes: Counter = field(default_factory=Counter)  # (claim id, claim text) → posts
    open_incidents: list[Incident] = field(default_factory=list)
    closed_incidents: int = 0

    def count_previous(self, topic: str, municipality: str) -> None:
        """Count one post of the previous period."""
        self.previous_posts += 1
        self.previous_topics[topic] += 1
        self.previous_by_municipality[municipality][topic] += 1

    @property
    def municipalities(self) -> list[str]:
        """Municipalities by posts in the period, most first (the unplaced row last)."""
        totals = {m: sum(c.values()) for m, c in self.by_municipality.items()}
        return sorted(totals, key=lambda m: (m == UNRESOLVED, -totals[m], m))

    def top_topics(self, municipality: str | None = None, k: int = 5) -> list[tuple[str, int, int]]:
        """The ``k`` most frequent topics (overall or in one municipality): (topic, posts, previous posts)."""
        now = self.topics if municipality is None else self.by_municipality.get(municipality, Counter())
        before = self.previous_topics if municipality is None else self.previous_by_municipality.get(municipality,
                                                                                                      Counter())
        return [(topic, n, before.get(topic, 0)) for topic, n in sorted(now.items(), key=lambda x: (-x[1], x[0]))[:k]]

    def largest(self, k: int = 10) -> list[Incident]:
        """The open incidents with the most posts."""
        return sorted(self.open_incidents, key=lambda i: (-len(i.post_ids), i.first_seen, i.id))[:k]

    def most_urgent(self, k: int = 10) -> list[Incident]:
        """The open incidents of the highest urgency (then the most posts)."""
        rank = {level: n for n, level in enumerate(URGENCY_LEVELS)}
        return sorted(self.open_incidents, key=lambda i: (rank.get(i.urgency or "", len(rank)), -len(i.post_ids),
                                                          i.first_seen, i.id))[:k]


def newest_time(records: Iterable[dict[str, Any]]) -> datetime | None:
    """The newest readable ``created`` of the records (None when none has one)."""
    return max((t for t in (parse_time(r.get("created")) for r in records) if t is not None), default=None)


def build_picture(read: Callable[[], Iterable[dict[str, Any]]], kind: str,
                  previous: Callable[[], Iterable[dict[str, Any]]] | None = None,
                  settings: GroupingSettings | None = None, now: datetime | None = None) -> Picture:
    """The picture of the ``kind`` period that ends with the newest post of ``read()`` (a callable, because the
    records are read twice); the previous period's counts come from both ``read()`` and ``previous()``. Records
    without ``created`` count as posted ``now`` (default: the time of the call)."""
    now = utc_naive(now or datetime.now(timezone.utc))
    newest = newest_time(read()) or now
    picture = Picture(Period.ending_with(kind, newest))
    grouper = IncidentGrouper(settings)
    for record in read():
        when = parse_time(record.get("created")) or now
        which = picture.period.which(when)
        if which is None:
            continue
        topic = _label(record.get("topic"), UNKNOWN_TOPIC)
        municipality, point = post_municipality(record)
        if which == "previous":
            picture.count_previous(topic, municipality)
            continue
        picture.posts += 1
        picture.topics[topic] += 1
        picture.by_municipality[municipality][topic] += 1
        picture.urgency[topic][_label(record.get("urgency"), "unknown")] += 1
        picture.unplaced += municipality == UNRESOLVED
        if point is not None:
            picture.points[municipality].append(point)
        fake = record.get("fake")
        if isinstance(fake, dict) and fake.get("source") == "registry":
            match = fake.get("match") or {}
            picture.fakes[(str(match.get("id", "")), str(match.get("claim", "")))] += 1
        post = post_from_record(record, now, f"#{picture.posts}")
        if post is not None:
            grouper.assign(post)
            picture.closed_incidents += len(grouper.close_quiet(post.time))
    for record in previous() if previous is not None else ():
        when = parse_time(record.get("created")) or now
        if picture.period.which(when) == "previous":
            picture.count_previous(_label(record.get("topic"), UNKNOWN_TOPIC), post_municipality(record)[0])
    picture.closed_incidents += len(grouper.close_quiet(picture.period.end))
    picture.open_incidents = grouper.close_all()
    return picture
