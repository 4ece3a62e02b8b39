"""Incidents in the shared database (:mod:`cur_nlp.database`), so that every service replica assigns posts to the
same incidents.

An assignment takes the incident lock row first (replicas assign one batch at a time), closes the incidents that
no post of the batch can join (quiet since before its oldest post), reads the open incidents of the batch's towns,
runs :class:`~cur_nlp.incidents.grouping.IncidentGrouper` over the batch, writes back what changed and closes the
incidents that are quiet by the batch's newest post — all in one transaction. A post id the database has seen gets its incident back unchanged, so a retried request does not count
a post twice.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Sequence

from sqlalchemy import Connection, Engine, select, update

from cur_nlp.database import incident_lock, incident_posts, incidents, open_database
from cur_nlp.incidents.grouping import GroupingSettings, IncidentGrouper
from cur_nlp.incidents.incident import Incident, Member
from cur_nlp.incidents.places import House
from cur_nlp.incidents.post import Post
from cur_nlp.incidents.textsim import SparseVector


def _state(incident: Incident) -> str:
    return json.dumps({
        "houses": [[h.street, h.number, h.part] for h in incident.houses], "streets": sorted(incident.streets),
        "point": list(incident.point) if incident.point else None, "location": incident.location,
        "names": incident.names,
        "topic_counts": dict(incident.topic_counts), "topic_mass": dict(incident.topic_mass),
        "members": [{"id": m.id, "text": m.text, "vector": m.vector.to_json()} for m in incident.members],
    }, ensure_ascii=False)


def _incident(row: Any, post_ids: list[str]) -> Incident:
    state = json.loads(row.state)
    return Incident(
        id=row.id, area=row.area, first_seen=row.first_seen, last_seen=row.last_seen, post_ids=post_ids,
        topic_counts=Counter(state["topic_counts"]), topic_mass=Counter(state["topic_mass"]), urgency=row.urgency,
        houses=[House(*h) for h in state["houses"]], streets=set(state["streets"]),
        point=tuple(state["point"]) if state["point"] else None, location=state["location"], names=state["names"],
        members=[Member(m["id"], m["text"], SparseVector.from_json(m["vector"])) for m in state["members"]],
        closed=row.status == "closed")


class IncidentStore:
    """Incidents in one database (an SQLite file path or an SQLAlchemy URL), grouped with ``settings``."""

    def __init__(self, engine: Engine, settings: GroupingSettings | None = None) -> None:
        self.engine, self.settings = engine, settings or GroupingSettings()

    @classmethod
    def open(cls, location: str | Path, settings: GroupingSettings | None = None) -> "IncidentStore":
        """The store in ``location``, created on first use (the same database as the fakes registry)."""
        return cls(open_database(location), settings)

    def assign(self, posts: Sequence[Post]) -> list[tuple[Incident, bool]]:
        """The incident of each post (and whether the post started it), in input order."""
        if not posts:
            return []
        with self.engine.begin() as connection:
            connection.execute(update(incident_lock).where(incident_lock.c.id == 1)
                               .values(writes=incident_lock.c.writes + 1))
            quiet = timedelta(hours=self.settings.quiet_hours)
            self._close(connection, min(p.time for p in posts) - quiet)  # none of the batch can join them
            seen = dict(connection.execute(select(incident_posts.c.post_id, incident_posts.c.incident_id)
                                           .where(incident_posts.c.post_id.in_({p.id for p in posts}))).all())
            grouper = IncidentGrouper(self.settings, new_id=lambda _: f"inc-{uuid.uuid4().hex[:16]}")
            areas = {p.place.area for p in posts if p.id not in seen}
            grouper.restore(self._read(connection, incidents.c.status == "open", incidents.c.area.in_(areas)))
            before = {i.id: len(i.post_ids) for i in grouper.open.values()}
            results: list[tuple[Incident, bool] | None] = []
            for post in posts:
                if post.id in seen:
                    results.append(None)
                    continue
                incident, new = grouper.assign(post)
                seen[post.id] = incident.id
                results.append((incident, new))
            self._write(connection, list(grouper.open.values()), before)
            cutoff = max(p.time for p in posts) - quiet
            self._close(connection, cutoff)
            for incident in grouper.open.values():
                incident.closed = incident.last_seen < cutoff
            earlier = {seen[p.id] for p, r in zip(posts, results) if r is None}
            stored = {i.id: i for i in self._read(connection, incidents.c.id.in_(earlier))} if earlier else {}
        return [result or (grouper.open.get(seen[post.id]) or stored[seen[post.id]], False)
                for post, result in zip(posts, results)]

    def get(self, incident_id: str) -> Incident | None:
        """One incident by id."""
        with self.engine.connect() as connection:
            found = self._read(connection, incidents.c.id == incident_id)
        return found[0] if found else None

    def recent(self, limit: int = 100, status: str | None = "open") -> list[Incident]:
        """The incidents heard from most recently (``status`` ``open``, ``closed`` or None for both)."""
        with self.engine.connect() as connection:
            ids = select(incidents.c.id).order_by(incidents.c.last_seen.desc(), incidents.c.id).limit(limit)
            if status is not None:
                ids = ids.where(incidents.c.status == status)
            found = self._read(connection, incidents.c.id.in_(ids.scalar_subquery()))
        return sorted(found, key=lambda i: (i.last_seen, i.id), reverse=True)

    @staticmethod
    def _close(connection: Connection, cutoff: datetime) -> None:
        connection.execute(update(incidents).where(incidents.c.status == "open", incidents.c.last_seen < cutoff)
                           .values(status="closed"))

    @staticmethod
    def _read(connection: Connection, *conditions: Any) -> list[Incident]:
        rows = connection.execute(select(incidents).where(*conditions)).all()
        members: dict[str, list[str]] = defaultdict(list)
        if rows:
            for post_id, incident_id in connection.execute(
                    select(incident_posts.c.post_id, incident_posts.c.incident_id)
                    .where(incident_posts.c.incident_id.in_([r.id for r in rows]))
                    .order_by(incident_posts.c.incident_id, incident_posts.c.position)):
                members[incident_id].append(post_id)
        return [_incident(row, members[row.id]) for row in rows]

    @staticmethod
    def _write(connection: Connection, changed: list[Incident], before: dict[str, int]) -> None:
        for incident in changed:
            known = before.get(incident.id)
            if known == len(incident.post_ids):
                continue
            values = {"area": incident.area, "status": "open", "first_seen": incident.first_seen,
                      "last_seen": incident.last_seen, "posts": len(incident.post_ids), "topic": incident.topic,
                      "urgency": incident.urgency, "state": _state(incident)}
            if known is None:
                connection.execute(incidents.insert().values(id=incident.id, **values))
            else:
                connection.execute(update(incidents).where(incidents.c.id == incident.id).values(**values))
            connection.execute(incident_posts.insert(), [
                {"post_id": post_id, "incident_id": incident.id, "position": position}
                for position, post_id in enumerate(incident.post_ids[known or 0:], start=known or 0)])
