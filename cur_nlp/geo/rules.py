"""Hand-written address rules over tokens: streets, houses, intersections, ranges (see :class:`Rules`)."""

from __future__ import annotations

import re
from typing import Any

from . import lexicon as lx
from .mention import Mention
from .morph import (
    adj_parse,
    has_name_tag,
    has_tag,
    is_adjective,
    is_common_word,
    is_known,
    name_keys,
    nominative_word,
    parses,
)
from .places import PlaceRules
from .predicates import (
    NAME_TAGS, _SEPARATORS, _agrees, _adj_like, _bad_name_word, _descriptive, _gent_adj, _gent_noun, _gent_plural,
    _genitive_name, _house_label, _name_like, _nominative_adj, _normal_street_name, _pure_name, _range_name,
    _relational_adj, _street_type, _toponym, _admin_type, street_keys,
)
from .tokens import Token


class Rules(PlaceRules):
    """One pass of the address/place rules over a tokenised text (``Rules(text, tokenize(text)).run()``)."""

    def __init__(self, text: str, toks: list[Token]) -> None:
        self.text = text
        self.toks = toks
        self.n = len(toks)
        self.out: list[Mention] = []
        self.used: set[int] = set()  # token indices inside street/house mentions

    # ---------------------------------------------------------------- helpers
    def tok(self, i: int) -> Token | None:
        return self.toks[i] if 0 <= i < self.n else None

    def low(self, i: int) -> str:
        t = self.tok(i)
        return t.low if t is not None else ""

    def skip_dot(self, i: int) -> int:
        t = self.tok(i)
        return i + 1 if t is not None and t.text == "." else i

    def span_text(self, i: int, j: int) -> str:
        return self.text[self.toks[i].start:self.toks[j - 1].end]

    def name_forward(self, i: int, *, after_type: bool = False, lenient: bool = False,
                     allow_adj: bool = True) -> int | None:
        """End index of a street name starting at ``i`` (1-4 words), or None."""
        j = i
        t = self.tok(j)
        if t is None:
            return None
        if t.is_word and t.low in ("им", "имени"):
            j = self.skip_dot(j + 1)
        count = 0
        prev_adj = False
        while j < self.n and count < 4:
            t = self.toks[j]
            if count == 0 and t.type == "ord" and t.is_ordinal:
                # «8-я Советская», «1-й Лесной», «2-й красноармейской»
                j += 1
                count += 1
                prev_adj = True
                nx = self.tok(j)
                if nx is not None and nx.is_word and not nx.is_cap and _adj_like(nx.low) and not _descriptive(nx.low):
                    j += 1
                    count += 1
                continue
            if t.is_word and len(t.text) == 1 and t.text.isupper() and self.low(j + 1) == "." and \
                    self.tok(j + 2) is not None and self.toks[j + 2].is_cap:
                j += 2  # an initial: «пр. Ю.Гагарина»
                continue
            if count == 0 and t.is_num and after_type:
                # «улица 8 Марта», «ул. 50 лет Октября»
                nx = self.tok(j + 1)
                if nx is not None and (nx.is_cap and not _bad_name_word(nx) or nx.low == "лет"):
                    j += 1
                    count += 1
                    prev_adj = True
                    continue
                return None
            if not t.is_word:
                break
            if count > 0 and (t.low in lx.HONORIFIC_TAILS or after_type and t.low in lx.NAME_CONTINUATIONS):
                j += 1
                count += 1
                continue
            if count == 0 and after_type and not t.is_cap and t.is_word and not _bad_name_word(t) \
                    and is_adjective(t.low) and not _descriptive(t.low):
                nx = self.tok(j + 1)
                if nx is not None and (nx.low in lx.NAME_CONTINUATIONS or nx.is_house_like or _relational_adj(t.low)):
                    j += 1  # «по набережной обводного канала», «улица садовая 5»
                    count += 1
                    prev_adj = True
                    continue
            if count == 0 and after_type and not t.is_cap and t.is_word and not _bad_name_word(t) and \
                    _gent_plural(t.low) and (self.tok(j + 1) is None or self.toks[j + 1].is_house_like
                                             or self.toks[j + 1].type == "punct"):
                j += 1  # «ул. металлургов 5», «пр. энергетиков»
                count += 1
                break
            if count == 0 and after_type and not t.is_cap and t.is_word and not _bad_name_word(t):
                nx = self.tok(j + 1)
                if nx is not None and nx.is_cap and not nx.sent_start and (
                        has_tag(nx.low, "Surn") or t.low in lx.NAME_CONTINUATIONS) \
                        and any("gent" in p.tag.grammemes for p in parses(t.low)[:2]):
                    j += 1  # lower-case title: «улица подводника Кузьмина»
                    count += 1
                    continue
            if t.low in lx.NAME_TITLES and self.tok(j + 1) is not None:
                nj = self.skip_dot(j + 1)
                nt = self.tok(nj)
                if nt is not None and nt.is_cap:
                    j = nj
                    count += 1
                    continue
            if _street_type(self.toks, j) is not None and count > 0:
                break
            if count == 0:
                if after_type:
                    ok = t.is_cap and not _bad_name_word(t) or _name_like(t, lenient=True, allow_adj=allow_adj)
                    if ok and not t.is_cap and is_known(t.low) and not _pure_name(t.low):
                        ok = False  # «на улице мороз»
                else:
                    ok = _name_like(t, lenient=lenient, allow_adj=allow_adj)
                if not ok:
                    return None
                prev_adj = is_adjective(t.low)
            else:
                if t.sent_start or t.nl_before:
                    break
                if not t.is_cap and prev_adj and count == 1 and not _bad_name_word(t) and \
                        _gent_noun(t.low) and _gent_adj(self.toks[j - 1].low):
                    j += 1  # «Обуховской обороны», «Красных зорь»
                    count += 1
                    prev_adj = False
                    continue
                if not t.is_cap or _bad_name_word(t):
                    break
                if _street_type(self.toks, j) is not None:
                    break
                cont = has_name_tag(t.low) or not is_known(t.low) or prev_adj or is_adjective(t.low) or after_type
                if not cont:
                    break
                prev_adj = is_adjective(t.low)
            j += 1
            count += 1
        if count == 0:
            return None
        # «имени» alone is not a name
        return j

    def house_after(self, j: int, *, need_marker: bool = False) -> tuple[int, dict[str, str]] | None:
        """Parse «, д. 5Б, корп. 2, лит. А, кв. 7» starting at ``j``."""
        k = j
        t = self.tok(k)
        if t is None:
            return None
        if t.text == ",":
            k += 1
        marker = False
        t = self.tok(k)
        if t is not None and t.is_word and t.low in ("возле", "у", "около", "напротив") and \
                self.low(k + 1) in lx.HOUSE_MARKERS and self.low(k + 1) != "№":
            k += 1
            t = self.tok(k)
            if not need_marker:
                need_marker = True
        if t is not None and t.is_word and t.low in lx.HOUSE_MARKERS:
            k = self.skip_dot(k + 1)
            marker = True
        t = self.tok(k)
        if t is not None and t.text == "№" and marker:
            k += 1
        t = self.tok(k)
        if t is None:
            return None
        house: str | None = None
        if t.is_house_like:
            house = t.text
            k += 1
        elif t.type == "ord" and t.is_ordinal and self.low(k + 1) in ("дом", "д"):
            house = t.digits
            k = self.skip_dot(k + 2)
            marker = True
        if house is None:
            return None
        if need_marker and not marker:
            return None
        nxt = self.tok(k)
        digits = re.match(r"\d+", house)
        value = int(digits.group()) if digits else 0
        glued_ok = lx.CORPUS_MARKERS | lx.BUILDING_MARKERS | lx.LITERA_MARKERS | lx.FLAT_MARKERS
        if nxt is not None and nxt.is_word and nxt.start == self.toks[k - 1].end and len(nxt.low) >= 2 \
                and nxt.low not in glued_ok:
            return None  # «5пар», «2шт», «60вт»: a count, not a house
        if nxt is not None and nxt.is_word and len(nxt.text) == 1 and nxt.text in lx.HOUSE_LETTERS \
                and nxt.start == self.toks[k - 1].end + 1 and house.isdigit():
            house += nxt.text  # «14 Б»
            k += 1
            nxt = self.tok(k)
        if not marker:
            if nxt is not None and nxt.is_word and nxt.low in lx.NOT_HOUSE_UNITS:
                after = self.tok(k + 1)
                entrance = nxt.low in lx.ADDRESS_CONTEXT and after is not None and after.is_num
                if not entrance:
                    return None
            if nxt is not None and nxt.text in (":", ".") and self.tok(k + 1) is not None \
                    and self.toks[k + 1].is_num and self.toks[k + 1].start == nxt.end:
                return None  # a time «12:30» or a date «12.03»
            if value == 0 or value > 1500 or (1900 <= value <= 2100):
                return None
            if nxt is not None and nxt.text in ("%", "°"):
                return None
        elif nxt is not None and nxt.is_word and nxt.low in ("лет", "год", "года", "раз", "минут", "метров"):
            return None
        parts: dict[str, str] = {"house": house.replace("\\", "/")}
        # «57-1», «57к1» written without a space: the corpus
        dash = self.tok(k)
        after_dash = self.tok(k + 1)
        if dash is not None and dash.text == "-" and after_dash is not None and after_dash.is_num \
                and after_dash.low.isdigit() and len(after_dash.low) <= 2 and dash.start == self.toks[k - 1].end \
                and after_dash.start == dash.end:
            parts["corpus"] = after_dash.text
            k += 2
        # optional corpus / building / litera / flat
        while True:
            q = k
            if self.low(q) == ",":
                q += 1
            t = self.tok(q)
            if t is None or not t.is_word:
                break
            nq = self.skip_dot(q + 1)
            v = self.tok(nq)
            if v is None:
                break
            if t.low in lx.CORPUS_MARKERS and v.is_house_like and "corpus" not in parts:
                parts["corpus"] = v.text
            elif t.low in lx.BUILDING_MARKERS and v.is_house_like and "building" not in parts and \
                    (t.low != "с" or nq > q + 1):
                parts["building"] = v.text
            elif t.low in lx.LITERA_MARKERS and (v.is_word and len(v.text) <= 2 or v.is_house_like) \
                    and "litera" not in parts and (t.low != "л" or nq > q + 1):
                parts["litera"] = v.text.upper()
            elif t.low in lx.FLAT_MARKERS and v.is_house_like and "flat" not in parts:
                parts["flat"] = v.text
            else:
                break
            k = nq + 1
        return k, parts

    def add(self, i: int, j: int, kind: str, normal: str, *, parts: dict[str, str] | None = None,
            keys: list[str] | None = None, street_type: str | None = None, priority: int = 5,
            source: str = "") -> Mention:
        m = Mention(i, j, self.toks[i].start, self.toks[j - 1].end, kind, normal, dict(parts or {}),
                    list(keys or []), street_type, priority, source)
        self.out.append(m)
        if kind in ("street", "house"):
            self.used.update(range(i, j))
        return m

    def free(self, i: int, j: int) -> bool:
        return not any(k in self.used for k in range(i, j))

    # ---------------------------------------------------------------- street mentions
    def street(self, i: int, j: int, name_i: int, name_j: int, stype: str | None, *, type_first: bool,
               priority: int, source: str, extra: dict[str, str] | None = None,
               allow_house: bool = True) -> tuple[Mention, int]:
        """Register a street (or street+house) mention; returns it and the index after it."""
        name_toks = self.toks[name_i:name_j]
        name = _normal_street_name(name_toks, stype)
        if stype:
            normal = f"{stype} {name}" if type_first else f"{name} {stype}"
        else:
            normal = name
        keys = street_keys([t.text for t in name_toks])
        parts = {"street": normal}
        if extra:
            parts.update(extra)
        j = self.skip_suffix(j)
        end = j
        kind = "street"
        if allow_house:
            h = self.house_after(j)
            if h is not None:
                end, hp = h
                parts.update(hp)
                kind = "house"
                normal = f"{normal}, {_house_label(hp)}"
            else:
                hb = self.house_before(i)
                if hb is not None:
                    i, hp = hb
                    parts.update(hp)
                    kind = "house"
                    normal = f"{normal}, {_house_label(hp)}"
        m = self.add(i, end, kind, normal, parts=parts, keys=keys, street_type=stype, priority=priority,
                     source=source)
        return m, end

    def skip_suffix(self, j: int) -> int:
        """Skip «В.О.», «П.С.» after a street name."""
        for pat in lx.STREET_SUFFIXES:
            if all(self.low(j + k) == w for k, w in enumerate(pat)):
                return j + len(pat)
        return j

    def house_before(self, i: int) -> tuple[int, dict[str, str]] | None:
        """«у дома 14 по улице Руставели», «дома № 12, литера А по ул. X», «дома 150 пр. Ветеранов»."""
        p = self.tok(i - 1)
        if p is None:
            return None
        stop = i - 1 if p.low in ("на", "по") else i
        for k in range(stop - 1, max(-1, stop - 9), -1):
            t = self.toks[k]
            if k in self.used:
                return None
            if t.is_word and t.low in lx.HOUSE_MARKERS:
                h = self.house_after(k)
                if h is None:
                    return None
                end, parts = h
                if end == stop or (end + 1 == stop and self.toks[end].text == ","):
                    return k, parts
                return None
        return None

    def coordinated(self, j: int, stype: str | None, source: str, role: str | None = None) -> None:
        """After a street ending at ``j``: «и Y», «/Y», «- Y», «, Y 5» — more streets of the same kind."""
        k = j
        prev = next((m for m in reversed(self.out) if m.tj == j or m.end == self.toks[j - 1].end), None) \
            if j > 0 else None
        for _ in range(3):
            sep = self.tok(k)
            if sep is None or sep.text not in _SEPARATORS | {","}:
                return
            q = k + 1
            st = _street_type(self.toks, q)
            if st is not None:
                stype2, q = st
            else:
                stype2 = stype if sep.low == "и" else None
            t = self.tok(q)
            if t is None or not self.free(q, q + 1):
                return
            if st is None and not (_name_like(t, lenient=True) and (t.is_cap or not is_known(t.low))):
                return
            if st is None and not t.is_cap and self.house_after(q + 1) is None:
                return  # lower-case words after «и» are rarely streets unless a house number follows
            if st is None and t.is_cap and is_adjective(t.low) and not _genitive_name(t):
                nxt = self.tok(q + 1)
                if nxt is not None and nxt.is_word and not nxt.is_cap:
                    return
            e = self.name_forward(q, after_type=st is not None, lenient=True)
            if e is None:
                return
            if sep.text == ",":
                if self.house_after(e) is None:
                    return
            slash = sep.text in ("/", "\\", "-", "—", "–")
            extra = {"intersection": "1"} if role == "intersection" or slash else None
            if slash and prev is not None:
                prev.parts["intersection"] = "1"
            prev, k = self.street(q if st is None else k + 1, e, q, e, stype2 if st is not None else stype2,
                               type_first=True, priority=5, source=source + "+coord", extra=extra)

    def run(self) -> list[Mention]:
        n = self.n
        toks = self.toks
        i = 0
        # pass 1: type-word streets, intersections, ranges
        while i < n:
            t = toks[i]
            st = _street_type(toks, i)
            if st is not None and i not in self.used:
                stype, after = st
                # backward: «Лесная улица», «2-я Советская улица»
                b = i
                while b - 1 >= 0 and i - (b - 1) <= 3 and (b - 1) not in self.used:
                    p = toks[b - 1]
                    lower_ok = _relational_adj(p.low) or (b == i and len(toks[i].low) > 4 and not _descriptive(p.low))
                    if p.type == "ord" and p.is_ordinal or ((p.is_cap or lower_ok) and _adj_like(p.low)
                                                               and not _bad_name_word(p)):
                        b -= 1
                        continue
                    break
                if b < i and (toks[b].is_cap or toks[b].type == "ord" or _adj_like(toks[b].low)):
                    _, end = self.street(b, after, b, i, stype, type_first=False, priority=6, source="type-back")
                    i = end
                    continue
                # plural «улиц X и Y», forward name
                e = self.name_forward(after, after_type=True)
                if e is not None:
                    _, end = self.street(i, e, after, e, stype, type_first=True, priority=6, source="type-fwd")
                    self.coordinated(end, stype, "type-fwd")
                    i = end
                    continue
            if t.is_word and t.low.startswith(lx.INTERSECTION_PREFIXES) and len(t.low) >= 4 or \
                    t.low in ("угол", "углу", "угла"):
                if self.intersection(i):
                    i += 1
                    continue
            if t.is_word and t.low in ("от", "между"):
                if self.range_(i):
                    i += 1
                    continue
            i += 1
        # pass 2: streets without a type word
        for i in range(n):
            if i in self.used:
                continue
            t = toks[i]
            if t.type == "ord" and self.low(i - 1) in lx.STREET_PREPS:
                self.prep_street(i)
                continue
            if not t.is_word:
                continue
            # «по адресу X 15»: after «адрес» any name is a street
            if self.after_address_word(i) and self.address_cue(i):
                continue
            # NAME + house number: «Муратбaева 57», «Абая, 17-й дом», «тастақ 2 дом 19»
            if self.relaxed_with_marker(i):
                continue
            if _name_like(t, allow_adj=True) and not self.prev_blocks(i):
                e = self.name_forward(i, lenient=False)
                if e is not None and e - i > 1 and _toponym(t) and not is_adjective(t.low):
                    continue  # «Шушары Школьная 32»: the settlement, then the street (next token)
                if e is not None and self.free(i, e):
                    h = None
                    nt = self.tok(e)
                    if nt is not None and nt.is_num and nt.low.isdigit() and len(nt.text) <= 2 \
                            and self.low(e + 1) in ("дом", "д"):
                        # «тастақ 2 дом 19», «Самал 2, д. 5»: a numbered microdistrict
                        h = self.house_after(e + 1, need_marker=True)
                        if h is not None:
                            e += 1
                    if h is None:
                        h = self.house_after(e)
                    if h is not None:
                        m, end = self.street(i, e, i, e, None, type_first=True, priority=5, source="name+house")
                        self.coordinated(end, None, "name+house")
                        continue
            # PREP + genitive name: «на Ленина», «по Муратбаева», «на Невском»
            p = self.tok(i - 1)
            if p is not None and p.is_word and p.low in lx.STREET_PREPS and not self.used_at(i):
                if self.prep_street(i):
                    continue
            # sentence-initial pair: «Гоголя и Байзакова — ...», «Аносова/Райымбека»
            if self.pair(i):
                continue
            # «Толе би по южной стороне», «Айтеке би, уберите»: a Turkic name with its title
            if self.honorific(i):
                continue
        # pass 3: propagate confirmed street names to their other mentions
        self.propagate()
        # landmarks, settlements, districts, regions
        for i in range(n):
            self.landmark(i)
            self.typed_place(i)
            self.toponym(i)
        return self.out

    def toponym(self, i: int) -> None:
        """A dictionary toponym missed by NER: «Сальск остался...», «в северодвинске» (lowest priority)."""
        t = self.toks[i]
        if not t.is_word or i in self.used or len(t.low) < 3 or t.low in lx.STOP_WORDS:
            return
        ps = parses(t.low)
        if not ps or "Geox" not in ps[0].tag.grammemes or not is_known(t.low):
            return
        if any(p.tag.POS == "NOUN" and "Geox" not in p.tag.grammemes and not (NAME_TAGS & p.tag.grammemes)
               for p in ps[:3]):
            return  # «Грязь в парадной» is dirt, not the town of Gryazi
        if not t.is_cap:
            p = self.tok(i - 1)
            if p is None or p.low not in ("в", "во", "из", "под") or is_common_word(t.low):
                return
        nt = self.tok(i + 1)
        if nt is not None and (_admin_type(nt) or _street_type(self.toks, i + 1) is not None):
            return  # «Краснодарский край», «Невский проспект» are found by other rules
        name = t.text
        normal = nominative_word(name)
        self.add(i, i + 1, "settlement", normal[:1].upper() + normal[1:], keys=name_keys(name), priority=1,
                 source="toponym")

    def after_address_word(self, i: int) -> bool:
        p = self.tok(i - 1)
        if p is not None and p.text == ":":
            p = self.tok(i - 2)
        return p is not None and p.low in ("адресу", "адрес", "адреса", "адресе", "стороны")

    def address_cue(self, i: int) -> bool:
        """«по адресу Стойкости 15», «адрес: Белы Куна дом 7»."""
        t = self.toks[i]
        if not t.is_word or _bad_name_word(t) or t.low in lx.SETTLEMENT_TYPES:
            return False
        if _street_type(self.toks, i) is not None:
            return False
        e = self.name_forward(i, after_type=True, lenient=True)
        if e is None and not t.is_cap and (is_adjective(t.low) or _gent_noun(t.low)) and \
                self.house_after(i + 1) is not None:
            e = i + 1  # «по адресу парашютная 61/3»
        if e is not None and self.low(e) == "," and self.house_after(e) is None:
            return False  # «по адресу: Сестрорецк, ул. Токарева, д.16»: a settlement comes first
        if e is None or not self.free(i, e):
            return False
        m, end = self.street(i, e, i, e, None, type_first=True, priority=5, source="address-cue")
        self.coordinated(end, None, "address-cue")
        return True

    def relaxed_with_marker(self, i: int) -> bool:
        """«Ветеранов, дом 105», «гаванская дом 7»: a weaker name is enough before «дом N»."""
        t = self.toks[i]
        # every way to succeed below needs a house number after the word: check that cheap condition first
        if not t.is_word or self.house_after(i + 1) is None:
            return False
        if _bad_name_word(t) or self.prev_blocks(i) or _name_like(t, allow_adj=True):
            return False
        gent = _gent_noun(t.low)
        lower_adj = not t.is_cap and _nominative_adj(t.low)
        if not (t.is_cap and gent or _relational_adj(t.low) or lower_adj or gent and not t.is_cap):
            return False
        e = i + 1
        mid_cap = t.is_cap and not t.sent_start and gent
        if mid_cap and self.house_after(e) is not None:
            pass  # «дома, Комсомола, 17»: a capitalised noun in mid-sentence is a name
        elif not t.is_cap and not (_relational_adj(t.low) or lower_adj) and not self.strong_house(e):
            return False
        elif self.house_after(e, need_marker=True) is None and not self.strong_house(e):
            return False
        self.street(i, e, i, e, None, type_first=True, priority=4, source="relaxed+marker")
        return True

    def strong_house(self, j: int) -> bool:
        """A house number that looks like an address by itself: «12/6», «8а», «24к1», «19, 4 парадная»."""
        h = self.house_after(j)
        if h is None:
            return False
        end, parts = h
        if "/" in parts["house"] or not parts["house"].isdigit() or len(parts) > 1:
            return True
        for k in range(end, min(end + 4, self.n)):
            if self.toks[k].is_word and self.toks[k].low in lx.ADDRESS_CONTEXT:
                return True
        return False

    def used_at(self, i: int) -> bool:
        return i in self.used

    def prev_blocks(self, i: int) -> bool:
        """Words before a candidate name that show it is not a street («школа», «автобус», «дом»)."""
        p = self.tok(i - 1)
        if p is None:
            return False
        if p.text == "№" or p.is_word and (p.low in lx.LANDMARK_TYPES or p.low in ("маршрут", "автобус",
                                                                                  "маршрутка", "трамвай")):
            return True
        if p.text == "." and self.tok(i - 2) is not None and self.toks[i - 2].low in lx.SETTLEMENT_TYPES:
            return True
        if p.is_word and p.low in lx.SETTLEMENT_TYPES and p.low not in ("д", "с", "п", "х"):
            return True  # «г Пушкин Ахматовская 3»: «Пушкин» is the town
        return False

    def intersection(self, i: int) -> bool:
        """«на углу X и Y», «перекресток X/Y», «пересечение улиц X и Y», «перисечении Ленина брусиловского»."""
        q = i + 1
        st = _street_type(self.toks, q)
        stype = None
        if st is not None:
            stype, q = st
        e1 = self.name_forward(q, after_type=True, lenient=True)
        if e1 is None:
            return False
        sep = self.tok(e1)
        if e1 - q == 2 and not (sep is not None and sep.text in _SEPARATORS | {","}) \
                and all(_genitive_name(self.toks[k]) and not has_tag(self.toks[k].low, "Name")
                        and self.toks[k].low not in lx.HONORIFIC_TAILS for k in (q, q + 1)):
            e1 = q + 1  # «пересечение Родостовца Ленина»: two streets without a separator
            sep = self.tok(e1)
        q2 = e1 + 1 if sep is not None and sep.text in _SEPARATORS | {","} else e1
        st2 = _street_type(self.toks, q2)
        stype2 = stype
        n2 = q2
        if st2 is not None:
            stype2, n2 = st2
        t2 = self.tok(n2)
        e2 = None
        if t2 is not None and (st2 is not None or _name_like(t2, lenient=True)
                               or (t2.is_cap and not _bad_name_word(t2))
                               or (t2.is_word and t2.low.endswith(("ского", "цкого", "ова", "ева", "ина")))):
            e2 = self.name_forward(n2, after_type=True, lenient=True)
            if e2 is None and t2.is_word and not _bad_name_word(t2):
                e2 = n2 + 1  # lower-case adjective-like surname «брусиловского»
        extra = {"intersection": "1"}
        start1 = i + 1 if st is not None else q
        self.street(start1, e1, q, e1, stype, type_first=True, priority=6, source="intersection",
                    extra=extra, allow_house=e2 is None)
        if e2 is not None:
            self.street(q2 if st2 is not None else n2, e2, n2, e2, stype2, type_first=True, priority=6,
                        source="intersection", extra=extra)
        return True

    def range_(self, i: int) -> bool:
        """«от X до Y», «между X и Y»: two streets bounding a stretch."""
        t = self.toks[i]
        closing = "до" if t.low == "от" else "и"
        first = self._range_side(i + 1)
        if first is None or self.low(first[2]) != closing:
            return False
        second = self._range_side(first[2] + 1)
        if second is None:
            return False
        role1, role2 = ("from", "to") if t.low == "от" else ("between", "between")
        self.street_before_range(i)
        for start, (st, q, e), role, allow_house in ((i + 1, first, role1, False),
                                                     (first[2] + 1, second, role2, True)):
            self.street(q if st is None else start, e, q, e, st[0] if st else None, type_first=True,
                        priority=5, source="range", extra={"role": role}, allow_house=allow_house)
        return True

    def _range_side(self, q: int) -> tuple[Any, int, int] | None:
        """One street of a range starting at token ``q``: its type match (or None), name start and name end."""
        st = _street_type(self.toks, q)
        if st is not None:
            q = st[1]
        g = self.tok(q)
        if g is None or not (_range_name(g) or st is not None or g.type == "ord"):
            return None
        e = self.name_forward(q, after_type=st is not None, lenient=True, allow_adj=False)
        return None if e is None else (st, q, e)

    def street_before_range(self, i: int) -> None:
        """«Участок Толе би от Абая до Гоголя»: the name right before a range is the street itself."""
        e = i
        b = e - 1
        while b >= 0 and e - b <= 3:
            t = self.toks[b]
            if t.is_word and (t.low in lx.HONORIFIC_TAILS or t.is_cap and not t.sent_start):
                b -= 1
                continue
            break
        # b is now the token before the candidate name (or the first name token if sentence start)
        if b >= 0 and self.toks[b].is_word and self.toks[b].is_cap and self.toks[b].sent_start \
                and _name_like(self.toks[b], lenient=True):
            b -= 1
        s_ = b + 1
        if s_ >= e or not self.free(s_, e):
            return
        first = self.toks[s_]
        if not _name_like(first, lenient=True) or _toponym(first):
            return
        prev = self.tok(s_ - 1)
        if not (prev is None or first.sent_start or prev.type == "punct"
                or prev.low in ("участок", "участке", "участка", "отрезок", "отрезке", "отрезка", "по", "на",
                                "вдоль")):
            return
        if self.name_forward(s_, lenient=True) != e:
            return
        self.street(s_, e, s_, e, None, type_first=True, priority=4, source="range-main", allow_house=False)

    def prep_street(self, i: int) -> bool:
        t = self.toks[i]
        if t.type == "ord" and t.is_ordinal:
            nx = self.tok(i + 1)
            if nx is not None and nx.is_word and _adj_like(nx.low) and not _descriptive(nx.low) and \
                    _street_type(self.toks, i + 2) is None:
                self.street(i, i + 2, i, i + 2, None, type_first=True, priority=4, source="prep-ord")
                return True
            return False
        if _genitive_name(t):
            e = self.name_forward(i, lenient=True, allow_adj=False)
            if e is None:
                return False
            nt = self.tok(e)
            # «на Ленина улице»? handled by the type-word rule; «по Гоголя парк» → landmark
            if nt is not None and nt.is_word and nt.low in lx.LANDMARK_TYPES:
                return False
            _, end = self.street(i, e, i, e, None, type_first=True, priority=4, source="prep")
            self.coordinated(end, None, "prep")
            return True
        if t.is_cap and not t.sent_start and _adj_like(t.low) and not _bad_name_word(t):
            a = adj_parse(t.low)
            nt = self.tok(i + 1)
            if a is None or "sing" not in a.tag.grammemes:
                return False
            if nt is not None and nt.is_word and (nt.low in lx.LANDMARK_TYPES or _agrees(a, nt.low)):
                return False  # «на Центральном рынке», «на Новом месте»
            if nt is not None and nt.is_cap and not _bad_name_word(nt):
                return False  # «на Красной Поляне»: a two-word name, not a street
            if "Geox" in a.tag.grammemes:
                return False
            _, end = self.street(i, i + 1, i, i + 1, None, type_first=True, priority=3, source="prep-adj")
            return True
        return False

    def pair(self, i: int) -> bool:
        """«Гоголя и Байзакова — ...» at a sentence start; «Аносова/Райымбека» anywhere."""
        t = self.toks[i]
        if not (t.is_cap or not is_known(t.low)) or not _name_like(t, lenient=True):
            return False
        e1 = self.name_forward(i, lenient=True, allow_adj=False)
        if e1 is None or not self.free(i, e1):
            return False
        sep = self.tok(e1)
        if sep is None or sep.text not in _SEPARATORS | {"с"}:
            return False
        if sep.text in ("/", "\\") and sep.start == self.toks[e1 - 1].end:
            pass  # glued slash pair
        elif not (t.sent_start and (_genitive_name(t) or self.low(e1 - 1) in lx.HONORIFIC_TAILS)):
            return False
        q = e1 + 1
        t2 = self.tok(q)
        if t2 is None or not (_genitive_name(t2) or _name_like(t2, lenient=True) and
                              (not is_known(t2.low) or has_name_tag(t2.low))):
            return False
        e2 = self.name_forward(q, lenient=True, allow_adj=False)
        if e2 is None:
            return False
        after = self.tok(e2)
        if sep.text not in ("/", "\\") and not (after is None or after.type == "punct" or after.is_num
                                              or after.nl_before or after.sent_start
                                              or after.low in ("перекресток", "перекрёсток")):
            return False
        self.street(i, e1, i, e1, None, type_first=True, priority=4, source="pair",
                    extra={"intersection": "1"})
        self.street(q, e2, q, e2, None, type_first=True, priority=4, source="pair",
                    extra={"intersection": "1"})
        return True

    def honorific(self, i: int) -> bool:
        t = self.toks[i]
        nt = self.tok(i + 1)
        if nt is None or nt.low not in lx.HONORIFIC_TAILS or not t.is_word or _bad_name_word(t):
            return False
        if not (t.is_cap or not is_known(t.low)) or is_common_word(t.low):
            return False
        if nt.start - t.end > 1:
            return False
        self.street(i, i + 2, i, i + 2, None, type_first=True, priority=3, source="honorific")
        return True

    def propagate(self) -> None:
        """A name confirmed as a street elsewhere in the post is a street here too."""
        names: dict[str, str] = {}
        for m in self.out:
            if m.kind in ("street", "house") and m.street_type is None and m.source != "propagate":
                first = self.toks[m.ti]
                if first.is_word:
                    names.setdefault(first.low, m.source)
            elif m.kind in ("street", "house"):
                for k in range(m.ti, m.tj):
                    tk = self.toks[k]
                    if tk.is_word and _street_type(self.toks, k) is None and len(tk.low) > 3:
                        names.setdefault(tk.low, m.source)
                        break
        if not names:
            return
        for i, t in enumerate(self.toks):
            if i in self.used or not t.is_word or t.low not in names:
                continue
            e = self.name_forward(i, lenient=True, allow_adj=True)
            if e is None or not self.free(i, e):
                continue
            self.street(i, e, i, e, None, type_first=True, priority=3, source="propagate")

    # ---------------------------------------------------------------- landmarks and typed places
