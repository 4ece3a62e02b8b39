"""Debunked claims and their files: JSON lines or CSV, read with errors that name the line."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

FIELDS = ("id", "claim", "refutation", "link", "region", "tags", "active")


@dataclass(frozen=True)
class Claim:
    """One rumour that officials have refuted, with the refutation an operator answers with."""

    id: str
    claim: str
    refutation: str = ""
    link: str | None = None
    region: str | None = None
    tags: tuple[str, ...] = ()
    active: bool = True
    added: datetime | None = None
    updated: datetime | None = None

    def __post_init__(self) -> None:
        if not str(self.id).strip():
            raise ValueError("a claim needs a non-empty 'id'")
        if not str(self.claim).strip():
            raise ValueError(f"claim {self.id!r} has an empty 'claim' text")

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Claim":
        """A claim from a JSON/CSV record: ``id`` and ``claim`` required; ``tags`` a list or a ``;``-separated
        string; ``active`` a bool or true/false/1/0."""
        missing = [key for key in ("id", "claim") if not str(record.get(key) or "").strip()]
        if missing:
            raise ValueError(f"missing {' and '.join(repr(m) for m in missing)}")
        unknown = sorted(set(record) - set(FIELDS) - {"added", "updated"})
        if unknown:
            raise ValueError(f"unknown fields {unknown}; expected {list(FIELDS)}")
        tags = record.get("tags") or ()
        if isinstance(tags, str):
            tags = [t.strip() for t in tags.split(";") if t.strip()]
        active = record.get("active", True)
        if isinstance(active, str):
            if active.strip().lower() not in ("", "true", "false", "1", "0"):
                raise ValueError(f"'active' must be true or false, found {active!r}")
            active = active.strip().lower() in ("", "true", "1")
        return cls(id=str(record["id"]).strip(), claim=str(record["claim"]).strip(),
                   refutation=str(record.get("refutation") or "").strip(), link=record.get("link") or None,
                   region=record.get("region") or None, tags=tuple(str(t) for t in tags), active=bool(active))

    def to_record(self) -> dict[str, Any]:
        """JSON-ready form (times as ISO 8601 when known)."""
        record = asdict(self)
        record["tags"] = list(self.tags)
        for key in ("added", "updated"):
            record[key] = record[key].isoformat() if record[key] else None
        return record


def _records(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for row in reader:
            if None in row:
                raise ValueError(f"{path}:{reader.line_num}: more fields than the header names")
            yield reader.line_num, row
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not valid JSON ({error.msg})") from error
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: expected a JSON object, found {type(record).__name__}")
        yield number, record


def read_claims(path: str | Path) -> list[Claim]:
    """Claims of a ``.jsonl`` or ``.csv`` file. Errors name the file and line: a broken line, a missing field,
    a repeated id; an empty file or one without claims is an error too."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"registry file {path} not found")
    claims: list[Claim] = []
    seen: dict[str, int] = {}
    for number, record in _records(path):
        try:
            claim = Claim.from_record(record)
        except ValueError as error:
            raise ValueError(f"{path}:{number}: {error}") from None
        if claim.id in seen:
            raise ValueError(f"{path}:{number}: duplicate id {claim.id!r} (first on line {seen[claim.id]})")
        seen[claim.id] = number
        claims.append(claim)
    if not claims:
        raise ValueError(f"{path}: the registry file has no claims")
    return claims


def write_claims(claims: Iterable[Claim], path: str | Path) -> int:
    """Write ``claims`` to a ``.jsonl`` or ``.csv`` file (written whole: a temporary file renamed at the end);
    returns how many were written."""
    from cur_nlp.io import output_file

    path = Path(path)
    count = 0
    with output_file(str(path)) as handle:
        if path.suffix.lower() == ".csv":
            writer = csv.DictWriter(handle, fieldnames=[*FIELDS, "added", "updated"], lineterminator="\n")
            writer.writeheader()
            for claim in claims:
                record = claim.to_record()
                record["tags"] = ";".join(record["tags"])
                writer.writerow(record)
                count += 1
        else:
            for claim in claims:
                handle.write(json.dumps(claim.to_record(), ensure_ascii=False) + "\n")
                count += 1
    return count
