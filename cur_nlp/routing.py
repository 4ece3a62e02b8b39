"""Routing a post or an incident to the body responsible for it, by a table the centre supplies.

The table (CSV or Parquet) has a ``topic`` and a ``body`` column, and optional ``settlement``, ``municipality``,
``region``, ``urgency`` and ``contact`` columns; ``topic`` ``*`` matches any topic, an empty optional cell matches
anything. Of the rows that match, the most specific wins: a named topic before ``*``, then a settlement before a
municipality before a region, then a named urgency; among equally specific rows, the first in the file. A row
``* , , , , body`` is the table's default; with no matching row the route is ``None``. Names compare without case
and with ``ё`` as ``е``.

>>> table = RoutingTable([RouteRule("housing", "ГЖИ"), RouteRule("housing", "Управление ЖКХ Курска", municipality="Курск")])
>>> table.route("housing", None, {"municipality": "курск"})["body"]
'Управление ЖКХ Курска'
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

PLACE_COLUMNS = ("settlement", "municipality", "region")
COLUMNS = ("topic", "body", *PLACE_COLUMNS, "urgency", "contact")
ANY_TOPIC = "*"


def _fold(value: Any) -> str:
    return str(value or "").strip().lower().replace("ё", "е")


@dataclass(frozen=True)
class RouteRule:
    """One row of a routing table."""

    topic: str
    body: str
    contact: str | None = None
    settlement: str | None = None
    municipality: str | None = None
    region: str | None = None
    urgency: str | None = None

    def matches(self, topic: str | None, urgency: str | None, place: Mapping[str, str | None]) -> bool:
        """Whether this row applies to a post of ``topic``/``urgency`` at ``place`` (settlement/municipality/region)."""
        if self.topic != ANY_TOPIC and _fold(self.topic) != _fold(topic):
            return False
        if self.urgency and _fold(self.urgency) != _fold(urgency):
            return False
        return all(not getattr(self, c) or _fold(getattr(self, c)) == _fold(place.get(c)) for c in PLACE_COLUMNS)

    @property
    def specificity(self) -> tuple[bool, bool, bool, bool, bool]:
        """Sort key, most specific highest (see the module docstring)."""
        return (self.topic != ANY_TOPIC, bool(self.settlement), bool(self.municipality), bool(self.region),
                bool(self.urgency))


class RoutingTable:
    """Rows of a routing table, matched most specific first."""

    def __init__(self, rules: Iterable[RouteRule]) -> None:
        # a stable sort keeps file order among equally specific rows
        self.rules = sorted(rules, key=lambda r: r.specificity, reverse=True)

    @classmethod
    def from_file(cls, path: str | Path) -> "RoutingTable":
        """Read a ``.csv`` (UTF-8, a BOM allowed) or ``.parquet`` table; errors name the row."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"routing table {path} not found")
        if path.suffix.lower() in (".parquet", ".pq"):
            import pandas as pd

            rows = pd.read_parquet(path).astype(object).where(lambda f: f.notna(), None).to_dict("records")
            first_row = 1
        else:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.DictReader(handle))
            first_row = 2  # line 1 is the header
        if not rows:
            raise ValueError(f"{path}: the routing table has no rows")
        unknown = sorted(set(rows[0]) - set(COLUMNS))
        if unknown or not {"topic", "body"} <= set(rows[0]):
            raise ValueError(f"{path}: columns must be topic, body and optional {', '.join(COLUMNS[2:])}; "
                             f"found {list(rows[0])}")
        rules = []
        for number, row in enumerate(rows, start=first_row):
            values = {c: (str(row[c]).strip() if row.get(c) not in (None, "") else None) for c in COLUMNS}
            if not values["topic"] or not values["body"]:
                raise ValueError(f"{path}:{number}: 'topic' and 'body' are required")
            rules.append(RouteRule(**values))
        return cls(rules)

    def route(self, topic: str | None, urgency: str | None, place: Mapping[str, str | None]) -> dict[str, Any] | None:
        """``{"body", "contact", "source": "table", "score": 1.0}`` of the most specific matching row, or None."""
        for rule in self.rules:
            if rule.matches(topic, urgency, place):
                return {"body": rule.body, "contact": rule.contact, "source": "table", "score": 1.0}
        return None


def _label(value: Any) -> str | None:
    return value.get("label") if isinstance(value, dict) else value


def record_place(record: Mapping[str, Any], location: Mapping[str, Any] | None = None) -> dict[str, str | None]:
    """Settlement, municipality and region of a post: the record's own fields (``city``/``settlement``,
    ``municipality``, ``region``), else its most specific place (``location``, or the first of ``locations`` with a
    municipality: the gazetteer's municipality of a town is the town)."""
    if location is None:
        location = next((l for l in record.get("locations") or () if isinstance(l, dict) and l.get("municipality")),
                        None)
    location = location or {}
    return {"settlement": record.get("city") or record.get("settlement") or location.get("municipality"),
            "municipality": record.get("municipality") or location.get("municipality"),
            "region": record.get("region") or location.get("region")}


def route_record(record: Mapping[str, Any], table: RoutingTable | None) -> dict[str, Any] | None:
    """The route of a prediction record: the table's when a row matches, else the model's ``route`` head when the
    model has one (``source`` ``model``, ``score`` its probability), else None."""
    if table is not None:
        found = table.route(_label(record.get("topic")), _label(record.get("urgency")), record_place(record))
        if found is not None:
            return found
    head = record.get("route")
    if isinstance(head, dict) and "label" in head and "score" in head:
        return {"body": head["label"], "contact": None, "source": "model", "score": head["score"]}
    return None
