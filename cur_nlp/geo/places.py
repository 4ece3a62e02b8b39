"""Rules for landmarks («остановка «X»», «школа №5», «Центральный парк»), typed settlements
(«г. Тимашевск»), districts, regions and dictionary toponyms; mixed into :class:`cur_nlp.geo.rules.Rules`."""

from __future__ import annotations

from functools import lru_cache

from . import lexicon as lx
from .mention import Mention
from .morph import fold, is_adjective, name_keys, normalize_phrase, parses
from .predicates import (
    _QUOTES_CLOSE, _QUOTES_OPEN, _adj_agrees_with, _admin_type, _agree, _bad_name_word,
    _normal_settlement, _street_type,
)
from .tokens import Token


@lru_cache(maxsize=65536)
def landmark_type(low: str) -> str | None:
    """The landmark type a lower-case word names («школа», «школы» → школа), else None (cached: every word of
    every post is asked)."""
    ltype = lx.LANDMARK_TYPES.get(low)
    if ltype is None and len(low) > 3:
        for p in parses(low)[:4]:
            if p.tag.POS == "NOUN" and "sing" in p.tag.grammemes and fold(p.normal_form) in lx.LANDMARK_TYPES:
                return lx.LANDMARK_TYPES[fold(p.normal_form)]
    return ltype


class PlaceRules:
    """Landmark/settlement/district/region rules (uses the helpers of :class:`cur_nlp.geo.rules.Rules`)."""

    text: str
    toks: list[Token]
    n: int
    out: list[Mention]
    used: set[int]

    def landmark(self, i: int) -> None:
        t = self.toks[i]
        if not t.is_word or i in self.used and self.low(i + 1) not in _QUOTES_OPEN:
            return
        ltype = landmark_type(t.low)
        if ltype is None:
            return
        j = self.skip_dot(i + 1) if len(t.low) <= 3 else i + 1
        # «детский сад» / «станция метро»
        if t.low in ("детский", "детского") and self.low(i + 1).startswith("сад"):
            j = i + 2
        if ltype == "станция" and self.low(j) == "метро":
            j += 1
        if ltype == "метро" and self.low(j) in ("станция", "ст"):
            j = self.skip_dot(j + 1)
        start = i
        name: str | None = None
        end = None
        nt = self.tok(j)
        if nt is not None and nt.text == "№":
            j += 1
            nt = self.tok(j)
        if nt is not None and nt.is_num and nt.start - self.toks[j - 1].end <= 1:
            name = nt.text
            end = j + 1
        elif nt is not None and nt.text in _QUOTES_OPEN:
            k = j + 1
            while k < self.n and k - j < 8 and self.toks[k].text not in _QUOTES_CLOSE:
                k += 1
            if k < self.n and k > j + 1:
                name = self.span_text(j + 1, k)
                end = k + 1
        elif nt is not None and nt.is_word and nt.low in ("им", "имени"):
            e = self.name_forward(j, after_type=True, lenient=True)
            if e is not None:
                name = self.span_text(j, e)
                end = e
        elif nt is not None and nt.is_cap and not nt.sent_start and not _bad_name_word(nt) and \
                _street_type(self.toks, j) is None:
            e = self.name_forward(j, after_type=True, lenient=True)
            if e is not None:
                name = self.span_text(j, e)
                end = e
        # «Центральный парк», «Горьковская станция»
        b = i
        while b - 1 >= 0 and i - (b - 1) <= 2:
            p = self.toks[b - 1]
            if p.is_cap and is_adjective(p.low) and not _bad_name_word(p) and (b - 1) not in self.used:
                b -= 1
            else:
                break
        if b < i:
            start = b
            adj = " ".join(normalize_phrase(self.span_text(k, k + 1)) for k in range(b, i))
            if name is None:
                name = adj
                end = j if len(t.low) <= 3 else i + 1
            else:
                name = f"{adj} {name}"
        quoted = nt is not None and nt.text in _QUOTES_OPEN
        if name is None or end is None or not (quoted or self.free(start, end)):
            return
        head = ltype  # canonical nominative type word («парке» → «парк», «ТЦ» → «торговый центр»)
        if b < i:
            adjs = " ".join(_agree(self.toks[k].text, head) for k in range(b, i))
            normal = f"{adjs} {head[:1].lower() + head[1:]}"
            rest = self.span_text(j, end) if end > j else ""
            if rest:
                normal += " " + rest
        else:
            normal = f"{head} {name}"
        keys = [fold(normal)] + name_keys(name)
        self.add(start, end, "landmark", normal[:1].upper() + normal[1:],
                 parts={"type": ltype, "name": name}, keys=keys, priority=7 if quoted else 4, source="landmark")

    def typed_place(self, i: int) -> None:
        """«г. Тимашевск», «пос. Парголово», «Приморский район», «Ленинградская область»."""
        t = self.toks[i]
        if not t.is_word or i in self.used:
            return
        low = t.low
        # settlement type word + name
        if low in lx.SETTLEMENT_TYPES:
            short = len(low) <= 3
            j = self.skip_dot(i + 1)
            if short and j == i + 1 and low not in ("г", "пгт", "рп"):
                return
            nt = self.tok(j)
            if nt is None or not nt.is_cap or _bad_name_word(nt) and nt.low not in ("город",):
                return
            if nt.start - t.end > 2:
                return
            e = j + 1
            while e < self.n and e - j < 3 and self.toks[e].is_cap and not self.toks[e].sent_start \
                    and not _admin_type(self.tok(e + 1)) and _adj_agrees_with(self.toks[e - 1].low,
                                                                               self.toks[e].low, strict=True):
                e += 1  # «Красное Село», «Сосновый Бор»; not «Шушары Школьная»
            name = self.span_text(j, e)
            normal = _normal_settlement(name)
            self.add(i, e, "settlement", normal, parts={"type": lx.SETTLEMENT_TYPES[low]},
                     keys=name_keys(name), priority=5, source="settlement-type")
            return
        # «Приморский район», «Тимашевского района», «Ленинградская область», «Краснодарский край»
        dtype = lx.DISTRICT_TYPES.get(low)
        rtype = lx.REGION_TYPES.get(low)
        if dtype is None and rtype is None and len(low) > 3:
            for p in parses(low)[:2]:
                nf = fold(p.normal_form)
                if nf in ("район",):
                    dtype = "район"
                elif nf in ("область", "край", "республика", "округ"):
                    rtype = nf
                if dtype or rtype:
                    break
        if dtype is None and rtype is None:
            return
        b = i
        while b - 1 >= 0 and i - (b - 1) <= 2:
            p = self.toks[b - 1]
            if p.is_word and is_adjective(p.low) and not _bad_name_word(p) \
                    and (p.is_cap or "-" in p.low) and _adj_agrees_with(p.low, low):
                b -= 1
            elif p.text == "-" and b - 2 >= 0:
                b -= 1
            else:
                break
        end = i + 1
        if len(low) <= 3:
            end = self.skip_dot(i + 1)
        if b == i:
            # «Республика Татарстан», «район Автово»
            nt = self.tok(end)
            if nt is None or not nt.is_cap or _bad_name_word(nt) or nt.sent_start:
                return
            e = end + 1
            while e < self.n and e - end < 3 and self.toks[e].is_cap and not self.toks[e].sent_start:
                e += 1
            name = self.span_text(end, e)
            head = normalize_phrase(self.span_text(i, end))
            normal = f"{head} {name}"
            start, stop = i, e
        else:
            phrase = self.span_text(b, i) + " " + (lx.DISTRICT_TYPES.get(low) or lx.REGION_TYPES.get(low) or t.text) \
                if len(low) <= 4 else self.span_text(b, end)
            normal = normalize_phrase(phrase)
            start, stop = b, end
        if not self.free(start, stop):
            return
        kind = "region" if rtype else "district"
        if rtype == "округ" and dtype:
            kind = "district"
        normal = normal[:1].upper() + normal[1:]
        self.add(start, stop, kind, normal, keys=name_keys(normal), priority=5, source=kind + "-type")
