"""An incident: posts about one problem at one place, with what an operator needs to see and route it.

An incident keeps every member's id but the text and vector of only a few members (the first and the most recent),
so its size in memory and in the database stays bounded however loud it gets.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cur_nlp.incidents.places import House, more_specific
from cur_nlp.incidents.post import Post
from cur_nlp.incidents.textsim import SparseVector, cosine
from cur_nlp.labels import URGENCY_LEVELS
from cur_nlp.routing import RoutingTable


@dataclass
class Member:
    """A kept member: what comparisons and the representative text need."""

    id: str
    text: str
    vector: SparseVector


def more_urgent(a: str | None, b: str | None) -> str | None:
    """The more urgent of two urgency labels (known levels beat unknown ones; None when both are None)."""
    rank = {level: i for i, level in enumerate(URGENCY_LEVELS)}
    if a is None or b is None:
        return a or b
    return a if rank.get(a, len(rank)) <= rank.get(b, len(rank)) else b


@dataclass
class Incident:
    """One incident (see the module docstring). ``topic`` is the most frequent topic of its posts, ``urgency`` the
    highest, ``location`` the most specific place any of them named."""

    id: str
    area: str
    first_seen: datetime
    last_seen: datetime
    post_ids: list[str] = field(default_factory=list)
    topic_counts: Counter = field(default_factory=Counter)
    topic_mass: Counter = field(default_factory=Counter)
    urgency: str | None = None
    houses: list[House] = field(default_factory=list)
    streets: set[str] = field(default_factory=set)
    point: tuple[float, float] | None = None
    location: dict[str, Any] | None = None
    names: dict[str, str | None] = field(default_factory=dict)  # settlement, municipality, region
    members: list[Member] = field(default_factory=list)
    closed: bool = False

    @classmethod
    def start(cls, incident_id: str, post: Post) -> "Incident":
        """A new incident made of ``post``."""
        incident = cls(incident_id, post.place.area, post.time, post.time)
        incident.add(post, kept=1)
        return incident

    @property
    def topic(self) -> str | None:
        """The most frequent topic label of the posts (the first seen wins a tie)."""
        return self.topic_counts.most_common(1)[0][0] if self.topic_counts else None

    def topic_share(self, topics: dict[str, float]) -> float:
        """Dot product of a post's topic probabilities with the incident's mean topic probabilities."""
        total = sum(self.topic_mass.values())
        return sum(p * self.topic_mass.get(t, 0.0) for t, p in topics.items()) / total if total else 0.0

    def similarity(self, post: Post) -> float:
        """Highest text similarity of ``post`` to a kept member."""
        return max((cosine(post.vector, member.vector) for member in self.members), default=0.0)

    def add(self, post: Post, kept: int) -> None:
        """Count ``post`` in; keep its text and vector among the first and the ``kept - 1`` most recent."""
        self.post_ids.append(post.id)
        self.first_seen, self.last_seen = min(self.first_seen, post.time), max(self.last_seen, post.time)
        if post.topic:
            self.topic_counts[post.topic] += 1
        self.topic_mass.update(post.topics)
        self.urgency = more_urgent(self.urgency, post.urgency)
        place = post.place
        if place.house is not None and not any(place.house == h for h in self.houses):
            self.houses.append(place.house)
        self.streets.update(place.streets)
        self.point = self.point or place.point
        if place.location is not None and more_specific(place.location, self.location):
            self.location = place.location
        for key, name in place.names.items():
            self.names[key] = self.names.get(key) or name
        self.members.append(Member(post.id, post.text, post.vector))
        if len(self.members) > kept:
            del self.members[1]  # the first post stays: it is usually the full complaint

    def representative(self) -> Member:
        """The kept member most similar to the others (the first one when there are two or fewer)."""
        if len(self.members) <= 2:
            return self.members[0]
        return max(self.members, key=lambda m: sum(cosine(m.vector, o.vector) for o in self.members if o is not m))

    def to_dict(self, routes: RoutingTable | None = None) -> dict[str, Any]:
        """The incident as ``cur-nlp incidents`` writes it and the service returns it (with ``route`` from the
        routing table ``routes``: its topic, highest urgency and place names)."""
        place = dict(self.location) if self.location else {}
        if self.point is not None:
            place.update(lat=self.point[0], lon=self.point[1])
        data = {
            "id": self.id, "topic": self.topic, "urgency": self.urgency, "place": place or None,
            "area": self.area or None, **{k: v for k, v in self.names.items() if v}, "first_seen": self.first_seen.isoformat(), "last_seen": self.last_seen.isoformat(),
            "posts": len(self.post_ids), "text": self.representative().text, "post_ids": list(self.post_ids),
            "status": "closed" if self.closed else "open",
        }
        if routes is not None:
            data["route"] = routes.route(self.topic, self.urgency, self.names)
        return data

