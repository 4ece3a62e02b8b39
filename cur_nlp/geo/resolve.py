"""Resolution of extracted mentions to coordinates, municipality and region, and the `Locator` facade."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .address import house_key, house_number
from .extract import Extractor, Mention
from .gazetteer import Gazetteer, GeonamesGazetteer, haversine_m
from .morph import fold, name_keys
from .types import Candidate, Location

# confidence of each way of resolving
CONF_EXACT_HOUSE = 0.95
CONF_INTERPOLATED = 0.75
CONF_STREET = 0.85
CONF_FALLBACK = 0.3


@dataclass
class _Context:
    regions: set[str]  # folded region names mentioned in the post or configured
    city: Candidate | None  # settlement the post is about (mentioned or default)
    city_explicit: bool
    districts: frozenset[str] = frozenset()  # folded municipalities of the districts named in the post


class Locator:
    """Text → list of resolved :class:`Location` objects.

    >>> loc = Locator.default(default_region="Краснодарский край")
    >>> [(l.normal, l.level) for l in loc("В Тимашевске нет воды")]      # doctest: +SKIP
    [('Тимашевск', 'settlement')]

    Resolution picks the most specific supported level (house → street → district → settlement →
    region): a street that no gazetteer knows falls back to the settlement of the post (mentioned,
    or ``default_city``) with a low confidence; an unknown settlement stays unresolved (lat/lon
    None) — places are never dropped and never guessed.
    """

    def __init__(self, gazetteers: Sequence[Gazetteer] | None = None, default_region: str | None = None,
                 default_city: str | None = None, extractor: Extractor | None = None,
                 use_ner: bool = True) -> None:
        self.gazetteers: list[Gazetteer] = list(gazetteers) if gazetteers is not None else []
        self.default_region = default_region
        self.default_city = default_city
        self.extractor = extractor or Extractor(use_ner=use_ner)
        self._default_city_cand: Candidate | None | bool = False  # False: not looked up yet

    @classmethod
    def default(cls, *extra: Gazetteer, default_region: str | None = None, default_city: str | None = None,
                use_ner: bool = True) -> "Locator":
        """Locator with the built-in geonames gazetteer (+ any extra gazetteers, e.g. a street table)."""
        return cls(gazetteers=[*extra, GeonamesGazetteer.shared()], default_region=default_region,
                   default_city=default_city, use_ner=use_ner)

    def __call__(self, text: str) -> list[Location]:
        """Extract and resolve the places of ``text``."""
        return self.locate(text)

    def locate(self, text: str) -> list[Location]:
        """Extract and resolve the places of ``text`` (text order)."""
        return self.resolve(text, self.extractor.mentions(text))

    def locate_many(self, texts: Sequence[str]) -> list[list[Location]]:
        """:meth:`locate` of many texts, with the NER model run in batches (the fast path for streams)."""
        return [self.resolve(text, found) for text, found in zip(texts, self.extractor.mentions_many(texts))]

    # ------------------------------------------------------------------ resolution
    def resolve(self, text: str, mentions: Sequence[Mention]) -> list[Location]:
        """Resolve already-extracted mentions of ``text``."""
        out: dict[int, Location] = {}
        admin: dict[int, Candidate | None] = {}
        # A. candidates of every admin mention (the mention's kind first, then the others)
        cands: dict[int, list[Candidate]] = {}
        for k, m in enumerate(mentions):
            if m.kind not in ("settlement", "district", "region"):
                continue
            order = {"settlement": ["settlement", "region", "district"],
                     "district": ["district", "settlement"],
                     "region": ["region", "settlement"]}[m.kind]
            if m.source.endswith("-type"):
                order = order[:1]
            for kind in order:
                found = self._lookup(m.keys, [kind])
                if found:
                    cands[k] = found
                    break
        # B. regions named in the post (or configured) disambiguate settlements
        regions = {fold(self.default_region)} if self.default_region else set()
        for k, found in cands.items():
            if all(c.kind == "region" for c in found):
                regions.update(fold(c.region) for c in found[:1] if c.region)
        ctx = _Context(regions, None, False)
        for k, found in cands.items():
            admin[k] = self._rank(found, mentions[k].keys, ctx)[0]
        # C. re-rank ambiguous names with the regions of the other places of the post
        if len(cands) > 1:
            for k, found in cands.items():
                if len({(c.lat, c.lon) for c in found}) < 2:
                    continue
                others = {fold(c.region) for j, c in admin.items() if j != k and c is not None and c.region}
                admin[k] = self._rank(found, mentions[k].keys, _Context(regions | others, None, False))[0]
        # weak toponym matches (NER/dictionary) to small places outside the configured region are guesses
        for k in list(admin):
            c = admin[k]
            m = mentions[k]
            if c is not None and self.default_region and not m.source.endswith("-type") \
                    and c.kind == "settlement" and c.weight < 10000 \
                    and not (c.region and fold(c.region) in regions):
                admin[k] = None
        settlements = [admin[k] for k in sorted(admin) if admin[k] is not None and admin[k].kind == "settlement"
                       and self._can_be_context(mentions[k], admin[k], regions)]
        city = settlements[0] if settlements else None
        # a second pass with the other settlements as context helps ambiguous names
        if settlements:
            for c in settlements:
                if c.region:
                    regions.add(fold(c.region))
        explicit = city is not None
        if city is None:
            city = self._default_city()
        districts = frozenset(fold(c.municipality) for c in admin.values()
                              if c is not None and c.kind == "district" and c.municipality)
        ctx = _Context(regions, city, explicit, districts)
        for k, m in enumerate(mentions):
            if m.kind in ("settlement", "district", "region"):
                out[k] = self._admin_location(text, m, admin.get(k))
            elif m.kind in ("street", "house"):
                out[k] = self._street_location(text, m, ctx)
            else:
                out[k] = self._landmark_location(text, m, ctx)
        return [out[k] for k in sorted(out)]

    def _can_be_context(self, m: Mention, c: Candidate, regions: set[str]) -> bool:
        """May this settlement replace the default city as the place streets are looked up in?"""
        if not self.default_region or m.source.endswith("-type"):
            return True
        return bool(c.region and fold(c.region) in regions) or c.weight >= 50000

    def _default_city(self) -> Candidate | None:
        if self._default_city_cand is False:
            cand = None
            if self.default_city:
                ctx = _Context({fold(self.default_region)} if self.default_region else set(), None, False)
                keys = name_keys(self.default_city)
                cands = self._lookup(keys, ["settlement"]) or self._lookup(keys, ["region"])
                cand = self._rank(cands, keys, ctx)[0] if cands else None
            self._default_city_cand = cand
        return self._default_city_cand  # type: ignore[return-value]

    def _lookup(self, keys: Sequence[str], kinds: Sequence[str]) -> list[Candidate]:
        out: list[Candidate] = []
        for g in self.gazetteers:
            for kind in kinds:
                if kind in g.kinds:
                    out.extend(g.lookup_keys(keys, kind))
        return out

    def _rank(self, cands: list[Candidate], keys: Sequence[str], ctx: _Context) -> list[Candidate]:
        first = keys[0] if keys else ""

        def score(c: Candidate) -> float:
            s = math.log10(c.weight + 10.0) / 8.0
            names = {fold(c.name)} | {fold(a) for a in c.aliases}
            if first in names or fold(c.name) in keys[:2]:
                s += 0.15
            if c.region and fold(c.region) in ctx.regions:
                s += 1.0
            if ctx.city is not None and c.settlement and fold(c.settlement) == fold(ctx.city.name):
                s += 1.0
            return s

        return sorted(cands, key=score, reverse=True)

    def _best(self, m: Mention, kinds: Sequence[str], ctx: _Context) -> Candidate | None:
        cands = self._lookup(m.keys, kinds)
        if not cands:
            return None
        ranked = self._rank(cands, m.keys, ctx)
        return ranked[0]

    # ------------------------------------------------------------------ per kind
    def _admin_location(self, text: str, m: Mention, c: Candidate | None) -> Location:
        loc = m.to_location(text)
        if c is None:
            return loc
        kind = loc.kind
        if m.source.startswith("ner") and c.kind in ("settlement", "region", "district"):
            kind = c.kind
        normal = m.normal if any(fold(m.normal) == fold(a) for a in (c.name,) + c.aliases) else c.name
        return loc.with_(kind=kind, normal=normal, lat=c.lat, lon=c.lon,
                         municipality=c.municipality if c.kind != "region" else None, region=c.region,
                         level=c.kind, confidence=self._admin_conf(m, c))

    def _admin_conf(self, m: Mention, c: Candidate) -> float:
        conf = 0.9 if m.source.endswith("-type") else 0.8
        if self.default_region and c.region and fold(c.region) != fold(self.default_region):
            conf -= 0.1
        return conf

    def _street_location(self, text: str, m: Mention, ctx: _Context) -> Location:
        loc = self._street_location_keys(text, m, m.keys, ctx)
        if loc.level in ("house", "street") or not m.keys:
            return loc
        # one typo away («Рубинштена», «Богатрыский»): retry with the registry's spelling
        fuzzy = [k for g in self.gazetteers for k in g.suggest(m.keys[0])]
        if fuzzy:
            loc2 = self._street_location_keys(text, m, list(dict.fromkeys(fuzzy)), ctx)
            if loc2.level in ("house", "street"):
                return loc2.with_(confidence=max(0.1, loc2.confidence - 0.2))
        return loc

    def _street_location_keys(self, text: str, m: Mention, keys: Sequence[str], ctx: _Context) -> Location:
        loc = m.to_location(text)
        streets = self._lookup(keys, ["street"])
        streets = self._filter_context(streets, ctx)
        house = m.parts.get("house")
        if house:
            hk = house_key(house, m.parts.get("corpus"), m.parts.get("building"))
            houses = self._filter_context(self._houses(keys), ctx)
            if m.street_type:
                houses = _prefer_type(houses, m.street_type, self.gazetteers) or houses
            exact = [h for h in houses if h.house == hk] or [h for h in houses if h.house == house_key(house)] \
                or [h for h in houses if (h.house or "").split("/")[0] == house_key(house).split("/")[0]]
            if not exact:
                # same number, other corpus/letter («8а» vs «8 лит. А», «61/3» vs «61к3»): nearby
                n = house_number(house)
                same = [h for h in houses if house_number(h.house or "") == n]
                if same:
                    h = max(same, key=lambda c: c.weight)
                    return self._with(loc, h, "house", CONF_EXACT_HOUSE - 0.1)
            if exact:
                h = max(exact, key=lambda c: c.weight)
                return self._with(loc, h, "house", CONF_EXACT_HOUSE)
            interp = _interpolate(houses, house, streets)
            if interp is not None:
                lat, lon, ref, conf = interp
                return loc.with_(lat=lat, lon=lon, municipality=ref.municipality, region=ref.region,
                                 level="house", confidence=conf)
        if streets:
            if m.street_type:
                streets = _prefer_type(streets, m.street_type, self.gazetteers) or streets
            s = max(streets, key=lambda c: c.weight)
            conf = CONF_STREET if m.street_type or len(streets) == 1 else CONF_STREET - 0.1
            return self._with(loc, s, "street", conf)
        return self._fallback(loc, ctx)

    def _landmark_location(self, text: str, m: Mention, ctx: _Context) -> Location:
        loc = m.to_location(text)
        cands = self._filter_context(self._lookup(m.keys, ["landmark"]), ctx)
        if cands:
            c = max(cands, key=lambda c: c.weight)
            return self._with(loc, c, "landmark", 0.8)
        return self._fallback(loc, ctx)

    def _fallback(self, loc: Location, ctx: _Context) -> Location:
        """Unknown street/landmark: the settlement of the post, if any, at low confidence."""
        c = ctx.city
        if c is None:
            return loc
        conf = CONF_FALLBACK if ctx.city_explicit else CONF_FALLBACK - 0.1
        return loc.with_(lat=c.lat, lon=c.lon, municipality=c.municipality, region=c.region,
                         level="settlement" if c.kind == "settlement" else c.kind, confidence=conf)

    def _houses(self, keys: Sequence[str]) -> list[Candidate]:
        out: list[Candidate] = []
        for g in self.gazetteers:
            if "street" in g.kinds or "house" in g.kinds:
                out.extend(g.houses(keys))
        return out

    def _filter_context(self, cands: list[Candidate], ctx: _Context) -> list[Candidate]:
        """Keep candidates in the post's settlement/region when that information exists."""
        if not cands:
            return cands
        if ctx.city is not None:
            city = fold(ctx.city.name)
            names = {city} | {fold(a) for a in ctx.city.aliases}
            same = [c for c in cands if c.settlement and fold(c.settlement) in names]
            if same:
                return same
            in_city_region = [c for c in cands if c.settlement is None and c.region and ctx.city.region
                              and fold(c.region) == fold(ctx.city.region)]
            if in_city_region:
                return in_city_region
            if ctx.city_explicit and any(c.settlement for c in cands):
                return []  # the post names another settlement than the registry's
        if ctx.regions:
            same_r = [c for c in cands if c.region and fold(c.region) in ctx.regions]
            if same_r:
                cands = same_r
        if ctx.districts:
            same_d = [c for c in cands if c.municipality and fold(c.municipality) in ctx.districts]
            if same_d:
                cands = same_d
        return cands

    @staticmethod
    def _with(loc: Location, c: Candidate, level: str, conf: float) -> Location:
        return loc.with_(lat=c.lat, lon=c.lon, municipality=c.municipality, region=c.region, level=level,
                         confidence=conf)


def _prefer_type(cands: list[Candidate], stype: str, gazetteers: Sequence[Gazetteer]) -> list[Candidate]:
    out = []
    for c in cands:
        for g in gazetteers:
            st = getattr(g, "street_type", None)
            if st is not None and st(c) == stype:
                out.append(c)
                break
    return out


def _interpolate(houses: list[Candidate], house: str, streets: list[Candidate]
                 ) -> tuple[float, float, Candidate, float] | None:
    """Position of a house number from the known houses of the street.

    Linear interpolation between the nearest lower and higher numbers (same side of the street
    first, then both sides); otherwise the nearest known house when at most 10 numbers away.
    """
    n = house_number(house)
    if n is None or not houses:
        return None
    nums = [(house_number(h.house or ""), h) for h in houses]
    nums = [(k, h) for k, h in nums if k is not None]
    if not nums:
        return None
    for pool in ([(k, h) for k, h in nums if k % 2 == n % 2], nums):
        lower = [(k, h) for k, h in pool if k < n]
        upper = [(k, h) for k, h in pool if k > n]
        if not lower or not upper:
            continue
        lo = max(lower, key=lambda x: x[0])
        hi = min(upper, key=lambda x: x[0])
        if haversine_m(lo[1].lat, lo[1].lon, hi[1].lat, hi[1].lon) > 2500:
            continue  # a street split in pieces: do not draw a line across
        t = (n - lo[0]) / (hi[0] - lo[0])
        lat = lo[1].lat + t * (hi[1].lat - lo[1].lat)
        lon = lo[1].lon + t * (hi[1].lon - lo[1].lon)
        ref = lo[1] if t <= 0.5 else hi[1]
        gap = hi[0] - lo[0]
        return lat, lon, ref, CONF_INTERPOLATED if gap <= 20 else CONF_INTERPOLATED - 0.15
    k, near = min(nums, key=lambda x: abs(x[0] - n))
    if abs(k - n) <= 10:
        return near.lat, near.lon, near, CONF_INTERPOLATED - 0.1
    return None
