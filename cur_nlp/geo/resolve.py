"""The :class:`Locator` facade: extraction, then resolution of the post's regions, settlements and districts;
streets, houses and landmarks are resolved in :mod:`cur_nlp.geo.resolve_streets` within that context."""

from __future__ import annotations

import math
from typing import Sequence

from .extract import Extractor, Mention
from .gazetteer import Gazetteer
from .gazetteer_geonames import GeonamesGazetteer
from .morph import fold, name_keys
from .resolve_streets import Context, landmark_location, lookup, street_location
from .types import Candidate, Location


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
                found = lookup(self.gazetteers, m.keys, [kind])
                if found:
                    cands[k] = found
                    break
        # B. regions named in the post (or configured) disambiguate settlements
        regions = {fold(self.default_region)} if self.default_region else set()
        for k, found in cands.items():
            if all(c.kind == "region" for c in found):
                regions.update(fold(c.region) for c in found[:1] if c.region)
        ctx = Context(regions, None, False)
        for k, found in cands.items():
            admin[k] = self._rank(found, mentions[k].keys, ctx)[0]
        # C. re-rank ambiguous names with the regions of the other places of the post
        if len(cands) > 1:
            for k, found in cands.items():
                if len({(c.lat, c.lon) for c in found}) < 2:
                    continue
                others = {fold(c.region) for j, c in admin.items() if j != k and c is not None and c.region}
                admin[k] = self._rank(found, mentions[k].keys, Context(regions | others, None, False))[0]
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
        ctx = Context(regions, city, explicit, districts)
        for k, m in enumerate(mentions):
            if m.kind in ("settlement", "district", "region"):
                out[k] = self._admin_location(text, m, admin.get(k))
            elif m.kind in ("street", "house"):
                out[k] = street_location(self.gazetteers, text, m, ctx)
            else:
                out[k] = landmark_location(self.gazetteers, text, m, ctx)
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
                ctx = Context({fold(self.default_region)} if self.default_region else set(), None, False)
                keys = name_keys(self.default_city)
                cands = lookup(self.gazetteers, keys, ["settlement"]) or lookup(self.gazetteers, keys, ["region"])
                cand = self._rank(cands, keys, ctx)[0] if cands else None
            self._default_city_cand = cand
        return self._default_city_cand  # type: ignore[return-value]

    def _rank(self, cands: list[Candidate], keys: Sequence[str], ctx: Context) -> list[Candidate]:
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
