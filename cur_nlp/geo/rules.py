"""Hand-written address rules over tokens: the order they run in (see :class:`Rules`).

The rules themselves are functions of a :class:`~cur_nlp.geo.rules_scan.Scan`, grouped by what they recognise:
street names (``rules_names``), house numbers (``rules_houses``), streets with a type word and their coordinated
neighbours (``rules_streets``), streets without one (``rules_untyped``), intersections and ranges
(``rules_ranges``), landmarks (``rules_landmarks``) and settlements, districts, regions (``rules_places``).
"""

from __future__ import annotations

from . import lexicon as lx
from .mention import Mention
from .rules_landmarks import landmark
from .rules_places import toponym, typed_place
from .rules_ranges import intersection, pair, range_
from .rules_scan import Scan
from .rules_streets import typed_street
from .rules_untyped import (
    address_cue, after_address_word, honorific, name_with_house, prep_street, propagate, relaxed_with_marker,
)


class Rules(Scan):
    """One pass of the address/place rules over a tokenised text (``Rules(text, tokenize(text)).run()``)."""

    def run(self) -> list[Mention]:
        """All mentions the rules find, in the order found (overlaps are resolved later by the extractor)."""
        self._typed_streets()
        self._untyped_streets()
        propagate(self)
        for i in range(self.n):
            landmark(self, i)
            typed_place(self, i)
            toponym(self, i)
        return self.out

    def _typed_streets(self) -> None:
        """Pass 1: streets with a type word, intersections, ranges."""
        i = 0
        while i < self.n:
            t = self.toks[i]
            end = typed_street(self, i)
            if end is not None:
                i = end
                continue
            if t.is_word and t.low.startswith(lx.INTERSECTION_PREFIXES) and len(t.low) >= 4 or \
                    t.low in ("угол", "углу", "угла"):
                if intersection(self, i):
                    i += 1
                    continue
            if t.is_word and t.low in ("от", "между"):
                if range_(self, i):
                    i += 1
                    continue
            i += 1

    def _untyped_streets(self) -> None:
        """Pass 2: streets without a type word, on the tokens pass 1 left free."""
        for i in range(self.n):
            if i in self.used:
                continue
            t = self.toks[i]
            if t.type == "ord" and self.low(i - 1) in lx.STREET_PREPS:
                prep_street(self, i)
                continue
            if not t.is_word:
                continue
            # «по адресу X 15»: after «адрес» any name is a street
            if after_address_word(self, i) and address_cue(self, i):
                continue
            # NAME + house number: «Муратбaева 57», «Абая, 17-й дом», «тастақ 2 дом 19»
            if relaxed_with_marker(self, i) or name_with_house(self, i):
                continue
            # PREP + genitive name: «на Ленина», «по Муратбаева», «на Невском»
            p = self.tok(i - 1)
            if p is not None and p.is_word and p.low in lx.STREET_PREPS and i not in self.used:
                if prep_street(self, i):
                    continue
            # sentence-initial pair: «Гоголя и Байзакова — ...», «Аносова/Райымбека»
            if pair(self, i):
                continue
            # «Толе би по южной стороне», «Айтеке би, уберите»: a Turkic name with its title
            honorific(self, i)
