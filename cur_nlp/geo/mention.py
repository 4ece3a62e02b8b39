"""Internal extraction result (a place mention with lookup keys) and overlap resolution."""

from __future__ import annotations

from dataclasses import dataclass, field

from .types import Location


@dataclass
class Mention:
    """Internal extraction result with lookup keys (converted to :class:`Location` for users)."""

    ti: int  # first token index
    tj: int  # token index after the last token
    start: int
    end: int
    kind: str
    normal: str
    parts: dict[str, str] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # folded lookup keys (best first)
    street_type: str | None = None
    priority: int = 0
    source: str = ""

    def to_location(self, text: str) -> Location:
        return Location(text=text[self.start:self.end], start=self.start, end=self.end, kind=self.kind,
                        normal=self.normal, parts=dict(self.parts))



def _select(found: list[Mention]) -> list[Mention]:
    """Greedy non-overlapping selection by priority, then length; returned in text order."""
    chosen: list[Mention] = []
    for m in sorted(found, key=lambda m: (-m.priority, -(m.end - m.start), m.start)):
        if any(m.start < c.end and c.start < m.end for c in chosen):
            continue
        chosen.append(m)
    chosen.sort(key=lambda m: m.start)
    return chosen
