"""The registry of debunked claims in the database (:mod:`cur_nlp.database`): add, list, remove, import, export.

Every write bumps the registry revision in the same transaction, so each replica that shares the database sees a
change from its next request on (:class:`cur_nlp.fakes.matcher.FakeMatcher` compares revisions).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from sqlalchemy import Engine, select, update

from cur_nlp.database import fake_claims, open_database, registry_revision
from cur_nlp.fakes.claims import Claim

Embed = Callable[[list[str]], np.ndarray]
"""Claim texts → encoder vectors (float32, one row per text)."""


class DuplicateClaimError(ValueError):
    """A claim id that the registry already holds."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _claim(row) -> Claim:
    return Claim(id=row.id, claim=row.claim, refutation=row.refutation or "", link=row.link, region=row.region,
                 tags=tuple(json.loads(row.tags or "[]")), active=bool(row.active), added=row.added,
                 updated=row.updated)


class ClaimStore:
    """Claims in one database; vectors are computed once when a claim is written (``embed`` with the name of the
    model that computes them), never per request."""

    def __init__(self, engine: Engine, embed: Embed | None = None, vector_model: str | None = None) -> None:
        self.engine, self.embed, self.vector_model = engine, embed, vector_model

    @classmethod
    def open(cls, location: str | Path, embed: Embed | None = None, vector_model: str | None = None) -> "ClaimStore":
        """The store in ``location`` (an SQLite file path or an SQLAlchemy URL), created on first use."""
        return cls(open_database(location), embed, vector_model)

    def revision(self) -> int:
        """A number that changes with every write to the registry."""
        with self.engine.connect() as connection:
            return int(connection.execute(select(registry_revision.c.revision)).scalar_one())

    def claims(self, include_inactive: bool = False) -> list[Claim]:
        """Claims in id order (active ones only unless ``include_inactive``)."""
        query = select(fake_claims).order_by(fake_claims.c.id)
        if not include_inactive:
            query = query.where(fake_claims.c.active.is_(True))
        with self.engine.connect() as connection:
            return [_claim(row) for row in connection.execute(query)]

    def claims_with_vectors(self) -> tuple[list[Claim], list[np.ndarray | None], int]:
        """Active claims, their stored vectors (``None`` where missing or computed by another model) and the
        revision they were read at, in one transaction."""
        with self.engine.connect() as connection:
            revision = int(connection.execute(select(registry_revision.c.revision)).scalar_one())
            rows = connection.execute(select(fake_claims).where(fake_claims.c.active.is_(True))
                                      .order_by(fake_claims.c.id)).all()
        vectors = [np.frombuffer(row.vector, dtype=np.float32).copy()
                   if row.vector is not None and row.vector_model == self.vector_model else None for row in rows]
        return [_claim(row) for row in rows], vectors, revision

    def add(self, claims: Sequence[Claim], replace: bool = False) -> int:
        """Write ``claims`` (all or none). An id the registry holds is refused (:class:`DuplicateClaimError`)
        unless ``replace``; ids repeated inside ``claims`` are always refused. Returns how many were written."""
        ids = [c.id for c in claims]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise DuplicateClaimError(f"duplicate claim ids in the input: {repeated}")
        vectors = self._vectors(claims)
        now = _now()
        with self.engine.begin() as connection:
            existing = {row.id: row.added for row in connection.execute(
                select(fake_claims.c.id, fake_claims.c.added).where(fake_claims.c.id.in_(ids)))}
            if existing and not replace:
                raise DuplicateClaimError(f"the registry already holds claim ids {sorted(existing)}; "
                                          "remove them first or import with replace")
            if existing:
                connection.execute(fake_claims.delete().where(fake_claims.c.id.in_(list(existing))))
            connection.execute(fake_claims.insert(), [
                {"id": c.id, "claim": c.claim, "refutation": c.refutation, "link": c.link, "region": c.region,
                 "tags": json.dumps(list(c.tags), ensure_ascii=False), "active": c.active,
                 "added": existing.get(c.id) or c.added or now, "updated": now,
                 "vector": None if v is None else np.asarray(v, dtype=np.float32).tobytes(),
                 "vector_model": None if v is None else self.vector_model}
                for c, v in zip(claims, vectors)])
            self._bump(connection)
        return len(claims)

    def remove(self, ids: Sequence[str]) -> list[str]:
        """Deactivate claims (kept for the record, no longer matched); returns the ids that were active."""
        with self.engine.begin() as connection:
            found = connection.execute(select(fake_claims.c.id).where(
                fake_claims.c.id.in_(list(ids)), fake_claims.c.active.is_(True))).scalars().all()
            if found:
                connection.execute(update(fake_claims).where(fake_claims.c.id.in_(found))
                                   .values(active=False, updated=_now()))
                self._bump(connection)
        return sorted(found)

    def _vectors(self, claims: Sequence[Claim]) -> list[np.ndarray | None]:
        if self.embed is None or not claims:
            return [None] * len(claims)
        return list(np.asarray(self.embed([c.claim for c in claims]), dtype=np.float32))

    @staticmethod
    def _bump(connection) -> None:
        connection.execute(update(registry_revision).where(registry_revision.c.id == 1)
                           .values(revision=registry_revision.c.revision + 1))
