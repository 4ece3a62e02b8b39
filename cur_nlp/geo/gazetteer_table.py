"""User gazetteers: a street/house registry (or districts, landmarks, settlements) read from a CSV/Parquet table."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .address import house_key, registry_street_keys
from .gazetteer import ADMIN_KINDS, Gazetteer, _Index
from .morph import fold, name_key, name_keys
from .types import KINDS, Candidate

TABLE_COLUMNS = ("name", "kind", "lat", "lon", "municipality", "region")
OPTIONAL_COLUMNS = ("oktmo", "settlement", "weight", "population", "house")


class TableGazetteer(Gazetteer):
    """A user-supplied gazetteer (street/house registry, districts, landmarks, settlements).

    Rows need ``name, kind, lat, lon, municipality, region``; optional ``oktmo``, ``settlement``
    (the settlement a street belongs to), ``weight`` or ``population`` and ``house`` (for
    kind="house": the house number, the street goes in ``name``; without a ``house`` column a
    house row's ``name`` is parsed as an address, e.g. «Мебельная улица, дом 47, корпус 1»).
    """

    name = "table"

    def __init__(self, rows: Iterable[Mapping[str, Any]], name: str = "table") -> None:
        self.name = name
        self._index = _Index()
        self._houses: dict[str, list[Candidate]] = defaultdict(list)
        self._kinds: set[str] = set()
        self._street_types: dict[int, str | None] = {}
        self._buckets: dict[str, list[str]] | None = None
        n = 0
        for row in rows:
            self.add(row)
            n += 1
        self.size = n

    @classmethod
    def from_file(cls, path: str | Path, **read_kw: Any) -> "TableGazetteer":
        """Load a CSV (comma/semicolon/tab, UTF-8) or Parquet file."""
        path = Path(path)
        if path.suffix.lower() in (".parquet", ".pq"):
            import pandas as pd

            df = pd.read_parquet(path, **read_kw)
            rows = df.where(df.notna(), None).to_dict("records")
            return cls(rows, name=path.stem)
        with open(path, encoding="utf-8-sig", newline="") as f:
            sample = f.read(4096)
            f.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            return cls(list(csv.DictReader(f, dialect=dialect)), name=path.stem)

    def add(self, row: Mapping[str, Any]) -> None:
        """Add one row (a mapping with the table columns)."""
        missing = [c for c in TABLE_COLUMNS if c not in row]
        if missing:
            raise ValueError(f"gazetteer row lacks columns {missing}: {dict(row)}")
        kind = str(row["kind"]).strip().lower()
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} in gazetteer row {dict(row)}")
        name = str(row["name"]).strip()
        weight = _float(row.get("weight"))
        if weight is None:
            weight = _float(row.get("population"))
        cand_kw = dict(
            lat=float(row["lat"]), lon=float(row["lon"]),
            municipality=_str(row.get("municipality")), region=_str(row.get("region")),
            weight=weight or 0.0, oktmo=_str(row.get("oktmo")), settlement=_str(row.get("settlement")),
            source=self.name,
        )
        self._kinds.add(kind)
        if kind in ("street", "house"):
            house = _str(row.get("house"))
            if kind == "house" and house is None:
                from .address import parse_address

                parsed = parse_address(name)
                if parsed is None or "house" not in parsed.parts:
                    raise ValueError(f"cannot parse the house address {name!r}")
                stype, keys = parsed.street_type, list(parsed.keys)
                p = parsed.parts
                house = house_key(p["house"], p.get("corpus"), p.get("building"))
                name = parsed.street
            else:
                stype, keys = registry_street_keys(name)
                if house is not None:
                    house = house_key(house)
            cand = Candidate(name=name, kind=kind, house=house, **cand_kw)  # type: ignore[arg-type]
            self._street_types[id(cand)] = stype
            if kind == "street":
                for k in keys:
                    self._index.add(k, cand)
            else:
                for k in keys:
                    self._houses[k].append(cand)
                self._kinds.add("street")
            return
        cand = Candidate(name=name, kind=kind, **cand_kw)  # type: ignore[arg-type]
        keys = {fold(name), name_key(name)}
        if kind == "landmark":
            keys |= set(name_keys(name)[:1])
        for k in keys:
            self._index.add(k, cand)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._kinds)

    def lookup_keys(self, keys: Sequence[str], kind: str | None = None) -> list[Candidate]:
        if kind == "house":
            return [c for k in keys for c in self._houses.get(k, ())][:1000]
        return self._index.get(keys, kind, all_keys=kind in ADMIN_KINDS)

    def houses(self, street_keys: Sequence[str]) -> list[Candidate]:
        for k in street_keys:
            hs = self._houses.get(k)
            if hs:
                return list(hs)
        return []

    def suggest(self, key: str) -> list[str]:
        if len(key) < 6:
            return []
        if self._buckets is None:
            self._buckets = defaultdict(list)
            for k in set(self._index.by_kind.get("street", {})) | set(self._houses):
                self._buckets[k[:1]].append(k)
        return [k for k in self._buckets.get(key[:1], ()) if abs(len(k) - len(key)) <= 1 and k != key
                and _one_edit(k, key)]

    def street_type(self, cand: Candidate) -> str | None:
        """Street type («улица», «проспект»...) of a street/house candidate of this table."""
        return self._street_types.get(id(cand))


def _one_edit(a: str, b: str) -> bool:
    """Are two strings at Levenshtein distance exactly 1 (or a swap of two neighbours)?"""
    if len(a) == len(b):
        diff = [k for k in range(len(a)) if a[k] != b[k]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                  and a[diff[1]] == b[diff[0]])
    if len(a) > len(b):
        a, b = b, a
    k = 0
    while k < len(a) and a[k] == b[k]:
        k += 1
    return a[k:] == b[k + 1:]


def _float(v: Any) -> float | None:
    if v is None or v == "":
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _str(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    s = str(v).strip()
    return s or None
