"""Resolution of streets, houses and landmarks inside what the post says about where it is (:class:`Context`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .address import house_key, house_number
from .gazetteer import Gazetteer, haversine_m
from .mention import Mention
from .morph import fold
from .types import Candidate, Location

# confidence of each way of resolving
CONF_EXACT_HOUSE = 0.95
CONF_INTERPOLATED = 0.75
CONF_STREET = 0.85
CONF_FALLBACK = 0.3


@dataclass
class Context:
    """Where the post is: its settlement (mentioned or default), regions and districts."""

    regions: set[str]  # folded region names mentioned in the post or configured
    city: Candidate | None  # settlement the post is about (mentioned or default)
    city_explicit: bool
    districts: frozenset[str] = frozenset()  # folded municipalities of the districts named in the post


def lookup(gazetteers: Sequence[Gazetteer], keys: Sequence[str], kinds: Sequence[str]) -> list[Candidate]:
    """Candidates of every gazetteer that answers these kinds, gazetteer by gazetteer."""
    out: list[Candidate] = []
    for g in gazetteers:
        for kind in kinds:
            if kind in g.kinds:
                out.extend(g.lookup_keys(keys, kind))
    return out


def street_location(gazetteers: Sequence[Gazetteer], text: str, m: Mention, ctx: Context) -> Location:
    """A street or house mention resolved to a house, its street, or the post's settlement."""
    loc = _street_location_keys(gazetteers, text, m, m.keys, ctx)
    if loc.level in ("house", "street") or not m.keys:
        return loc
    # one typo away («Рубинштена», «Богатрыский»): retry with the registry's spelling
    fuzzy = [k for g in gazetteers for k in g.suggest(m.keys[0])]
    if fuzzy:
        loc2 = _street_location_keys(gazetteers, text, m, list(dict.fromkeys(fuzzy)), ctx)
        if loc2.level in ("house", "street"):
            return loc2.with_(confidence=max(0.1, loc2.confidence - 0.2))
    return loc


def _street_location_keys(gazetteers: Sequence[Gazetteer], text: str, m: Mention, keys: Sequence[str],
                          ctx: Context) -> Location:
    loc = m.to_location(text)
    streets = lookup(gazetteers, keys, ["street"])
    streets = _filter_context(streets, ctx)
    house = m.parts.get("house")
    if house:
        hk = house_key(house, m.parts.get("corpus"), m.parts.get("building"))
        houses = _filter_context(_houses(gazetteers, keys), ctx)
        if m.street_type:
            houses = _prefer_type(houses, m.street_type, gazetteers) or houses
        exact = [h for h in houses if h.house == hk] or [h for h in houses if h.house == house_key(house)] \
            or [h for h in houses if (h.house or "").split("/")[0] == house_key(house).split("/")[0]]
        if not exact:
            # same number, other corpus/letter («8а» vs «8 лит. А», «61/3» vs «61к3»): nearby
            n = house_number(house)
            same = [h for h in houses if house_number(h.house or "") == n]
            if same:
                h = max(same, key=lambda c: c.weight)
                return _with(loc, h, "house", CONF_EXACT_HOUSE - 0.1)
        if exact:
            h = max(exact, key=lambda c: c.weight)
            return _with(loc, h, "house", CONF_EXACT_HOUSE)
        interp = _interpolate(houses, house, streets)
        if interp is not None:
            lat, lon, ref, conf = interp
            return loc.with_(lat=lat, lon=lon, municipality=ref.municipality, region=ref.region,
                             level="house", confidence=conf)
    if streets:
        if m.street_type:
            streets = _prefer_type(streets, m.street_type, gazetteers) or streets
        s = max(streets, key=lambda c: c.weight)
        conf = CONF_STREET if m.street_type or len(streets) == 1 else CONF_STREET - 0.1
        return _with(loc, s, "street", conf)
    return _fallback(loc, ctx)


def landmark_location(gazetteers: Sequence[Gazetteer], text: str, m: Mention, ctx: Context) -> Location:
    """A landmark resolved through the gazetteers, else to the post's settlement."""
    loc = m.to_location(text)
    cands = _filter_context(lookup(gazetteers, m.keys, ["landmark"]), ctx)
    if cands:
        c = max(cands, key=lambda c: c.weight)
        return _with(loc, c, "landmark", 0.8)
    return _fallback(loc, ctx)


def _fallback(loc: Location, ctx: Context) -> Location:
    """Unknown street/landmark: the settlement of the post, if any, at low confidence."""
    c = ctx.city
    if c is None:
        return loc
    conf = CONF_FALLBACK if ctx.city_explicit else CONF_FALLBACK - 0.1
    return _with(loc, c, "settlement" if c.kind == "settlement" else c.kind, conf)


def _houses(gazetteers: Sequence[Gazetteer], keys: Sequence[str]) -> list[Candidate]:
    out: list[Candidate] = []
    for g in gazetteers:
        if "street" in g.kinds or "house" in g.kinds:
            out.extend(g.houses(keys))
    return out


def _filter_context(cands: list[Candidate], ctx: Context) -> list[Candidate]:
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
