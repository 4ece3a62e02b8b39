"""Public result types of the geo module: plain frozen dataclasses, no yargy/slovnet objects."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

KINDS = ("region", "settlement", "district", "street", "house", "landmark")
# most specific first: the order resolution walks down
LEVELS = ("house", "street", "landmark", "district", "settlement", "region")


@dataclass(frozen=True)
class Location:
    """One place mentioned in a text, optionally resolved to coordinates.

    ``start``/``end`` are character offsets into the original text (``text == source[start:end]``).
    ``kind`` is what was mentioned; ``level`` is what it was resolved to (``None`` when unresolved,
    e.g. a street missing from every gazetteer may resolve to its settlement: kind="street",
    level="settlement").
    """

    text: str
    start: int
    end: int
    kind: str
    normal: str
    parts: dict[str, str] = field(default_factory=dict)
    lat: float | None = None
    lon: float | None = None
    municipality: str | None = None
    region: str | None = None
    level: str | None = None
    confidence: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown location kind {self.kind!r}; expected one of {KINDS}")
        if self.level is not None and self.level not in LEVELS:
            raise ValueError(f"unknown level {self.level!r}")

    @property
    def resolved(self) -> bool:
        """True when the place has coordinates."""
        return self.lat is not None and self.lon is not None

    def with_(self, **changes: Any) -> "Location":
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the ``cur-nlp predict`` contract (+ ``parts``)."""
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "normal": self.normal,
            "lat": self.lat,
            "lon": self.lon,
            "municipality": self.municipality,
            "region": self.region,
            "level": self.level,
            "confidence": round(float(self.confidence), 3),
            "parts": dict(self.parts),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Location":
        """Inverse of :meth:`to_dict` (unknown keys are ignored)."""
        return cls(
            text=d.get("text", ""), start=int(d.get("start", 0)), end=int(d.get("end", 0)),
            kind=d.get("kind", "settlement"), normal=d.get("normal") or d.get("text", ""),
            parts=dict(d.get("parts") or {}), lat=d.get("lat"), lon=d.get("lon"),
            municipality=d.get("municipality"), region=d.get("region"), level=d.get("level"),
            confidence=float(d.get("confidence") or 0.0),
        )


@dataclass(frozen=True)
class Candidate:
    """A gazetteer entry that may match a mention."""

    name: str
    kind: str
    lat: float
    lon: float
    municipality: str | None = None
    region: str | None = None
    weight: float = 0.0  # population for settlements, number of records for streets
    oktmo: str | None = None
    settlement: str | None = None  # the settlement a street/house/district belongs to
    house: str | None = None  # normalised house number for kind="house"
    source: str = ""
    aliases: tuple[str, ...] = ()  # other names of the same place
