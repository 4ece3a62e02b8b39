"""Streaming grouping of posts into incidents: same problem, same place, within a quiet period.

A post is compared with the open incidents of its town that it could belong to (those on a street it names, near
its point, or of its topic) and seen within ``quiet_hours`` of it. Places decide first (:func:`relation`): another
house, another street or a point farther than ``radius_m`` rules an incident out. The post then joins the
incident with the highest score if that score reaches the threshold of the relation (the same house, the same
street, or no place on either side), and starts a new incident otherwise. The score is the text similarity to a
kept member, plus ``topic_weight`` × topic agreement when the places agree; without a place only the text counts
(the same topic in the same town is not the same problem). An incident that hears nothing for
``quiet_hours`` (of post time) closes and leaves memory. The thresholds are tuned on the dev part of the team's pair
set (``cur-nlp incidents-eval``, docs/incidents.md).
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable, Iterable

from cur_nlp.incidents.incident import Incident
from cur_nlp.incidents.places import Place, distance_m, with_scanned_houses
from cur_nlp.incidents.post import Post


@dataclass(frozen=True)
class GroupingSettings:
    """How posts are grouped (see the module docstring); the defaults are the values tuned on dev."""

    quiet_hours: float = 48.0
    radius_m: float = 50.0
    house_threshold: float = 0.2
    street_threshold: float = 0.0
    unplaced_threshold: float = 0.3
    topic_weight: float = 0.5
    kept_members: int = 8

    def __post_init__(self) -> None:
        if self.quiet_hours <= 0 or self.radius_m <= 0 or self.kept_members < 1:
            raise ValueError("quiet_hours and radius_m must be positive and kept_members at least 1, found "
                             f"{self.quiet_hours}, {self.radius_m}, {self.kept_members}")


def relation(place: Place, incident: Incident, radius_m: float) -> str:
    """How a post's place relates to an incident's: ``house`` (the same house, or points within ``radius_m``),
    ``street`` (a shared street, a house on one side only), ``unplaced`` (either has no place) or ``conflict``."""
    if place.point is not None and incident.point is not None:
        return "house" if distance_m(place.point, incident.point) <= radius_m else "conflict"
    house = place.house
    if house is not None and incident.houses:
        return "house" if any(house.same_as(h) for h in incident.houses) else "conflict"
    if place.streets and incident.streets:
        return "street" if set(place.streets) & incident.streets else "conflict"
    return "unplaced"


def _cell(point: tuple[float, float], radius_m: float) -> tuple[int, int]:
    """A grid cell at least ``radius_m`` wide in both directions up to 78° N (a longitude degree is wider than
    0.2 of a latitude degree there), so points within the radius lie in neighbouring cells."""
    step = radius_m / 111_000.0
    return int(point[0] // step), int(point[1] // (step / 0.2))


def _discard(index: dict, key: object, incident_id: str) -> None:
    """Remove ``incident_id`` from ``index[key]``, and the key when nothing is left."""
    ids = index.get(key)
    if ids is not None:
        ids.discard(incident_id)
        if not ids:
            del index[key]


class IncidentGrouper:
    """Open incidents in memory and the rule that assigns posts to them.

    >>> grouper = IncidentGrouper()                      # doctest: +SKIP
    >>> incident, new = grouper.assign(post)             # doctest: +SKIP
    >>> closed = grouper.close_quiet(post.time)          # doctest: +SKIP
    """

    def __init__(self, settings: GroupingSettings | None = None,
                 new_id: Callable[[Post], str] | None = None) -> None:
        self.settings = settings or GroupingSettings()
        self.new_id = new_id or (lambda post: f"inc-{post.id}")
        self.open: dict[str, Incident] = {}
        self._by_street: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._by_topic: dict[tuple[str, str | None], set[str]] = defaultdict(set)
        self._by_cell: dict[tuple[str, tuple[int, int]], set[str]] = defaultdict(set)
        self._streets: dict[str, Counter] = defaultdict(Counter)  # area → street keys of its open incidents
        self._quiet: list[tuple[datetime, str]] = []  # (last seen, id), a heap checked lazily

    @property
    def quiet(self) -> timedelta:
        return timedelta(hours=self.settings.quiet_hours)

    def restore(self, incidents: Iterable[Incident]) -> None:
        """Take back open incidents (e.g. read from the database)."""
        for incident in incidents:
            self._index(incident)

    def assign(self, post: Post) -> tuple[Incident, bool]:
        """The incident ``post`` joins (and whether it is new); the incident is updated with the post."""
        area = post.place.area
        place = with_scanned_houses(post.place, post.text, self._streets.get(area, ()))
        post = replace(post, place=place)
        thresholds = {"house": self.settings.house_threshold, "street": self.settings.street_threshold,
                      "unplaced": self.settings.unplaced_threshold}
        best, best_key = None, None
        for incident in self._candidates(post):
            kind = relation(place, incident, self.settings.radius_m)
            if kind == "conflict":
                continue
            score = incident.similarity(post)
            if kind != "unplaced":  # topic says which problem, not where: without a place, only the text counts
                score += self.settings.topic_weight * incident.topic_share(post.topics)
            key = (score, incident.last_seen)  # equal scores: the incident heard from last
            if score >= thresholds[kind] and (best_key is None or key > best_key):
                best, best_key = incident, key
        if best is None:
            incident = Incident.start(self.new_id(post), post)
            self._index(incident)
            return incident, True
        self._unindex_streets(best)
        best.add(post, self.settings.kept_members)
        self._index(best)
        return best, False

    def close_quiet(self, now: datetime) -> list[Incident]:
        """Close and forget the incidents whose last post is more than ``quiet_hours`` before ``now``."""
        closed = []
        while self._quiet and self._quiet[0][0] < now - self.quiet:
            last_seen, incident_id = heapq.heappop(self._quiet)
            incident = self.open.get(incident_id)
            if incident is None or incident.last_seen != last_seen:
                continue  # an entry from before the incident's latest post (a newer entry exists)
            closed.append(self._close(incident))
        return closed

    def close_all(self) -> list[Incident]:
        """Hand back every open incident (they stay ``open``: their quiet period has not passed)."""
        incidents = sorted(self.open.values(), key=lambda i: (i.first_seen, i.id))
        self.open.clear()
        for index in (self._by_street, self._by_topic, self._by_cell, self._streets):
            index.clear()
        self._quiet.clear()
        return incidents

    def _candidates(self, post: Post) -> list[Incident]:
        area, window = post.place.area, self.quiet
        ids: set[str] = set()
        for topic in post.topics or {post.topic: 1.0}:
            ids |= self._by_topic.get((area, topic), set())
        for street in post.place.streets:
            ids |= self._by_street.get((area, street), set())
        if post.place.point is not None:
            row, col = _cell(post.place.point, self.settings.radius_m)
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    ids |= self._by_cell.get((area, (row + dr, col + dc)), set())
        found = (self.open[i] for i in ids)
        return sorted((i for i in found if i.first_seen - window <= post.time <= i.last_seen + window),
                      key=lambda i: i.id)

    def _index(self, incident: Incident) -> None:
        self.open[incident.id] = incident
        area = incident.area
        for street in incident.streets:
            self._by_street[(area, street)].add(incident.id)
            self._streets[area][street] += 1
        for topic in incident.topic_counts:
            self._by_topic[(area, topic)].add(incident.id)
        if not incident.topic_counts:
            self._by_topic[(area, None)].add(incident.id)
        if incident.point is not None:
            self._by_cell[(area, _cell(incident.point, self.settings.radius_m))].add(incident.id)
        heapq.heappush(self._quiet, (incident.last_seen, incident.id))

    def _unindex_streets(self, incident: Incident) -> None:
        """Undo the per-area street counts of ``incident`` before it changes (re-added by :meth:`_index`)."""
        counts = self._streets.get(incident.area)
        if counts is None:
            return
        for street in incident.streets:
            counts[street] -= 1
            if counts[street] <= 0:
                del counts[street]
        if not counts:
            del self._streets[incident.area]

    def _close(self, incident: Incident) -> Incident:
        del self.open[incident.id]
        area = incident.area
        self._unindex_streets(incident)
        for street in incident.streets:
            _discard(self._by_street, (area, street), incident.id)
        for topic in (*incident.topic_counts, None):
            _discard(self._by_topic, (area, topic), incident.id)
        if incident.point is not None:
            _discard(self._by_cell, (area, _cell(incident.point, self.settings.radius_m)), incident.id)
        incident.closed = True
        return incident
