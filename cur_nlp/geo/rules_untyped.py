"""Streets without a type word: «по адресу X 15», «Муратбаева 57», «на Ленина», «Толе би», repeats."""

from __future__ import annotations

from . import lexicon as lx
from .morph import adj_parse, is_adjective, is_common_word, is_known
from .normalize import _agrees
from .predicates import (
    _adj_like, _bad_name_word, _descriptive, _genitive_name, _gent_noun, _name_like, _nominative_adj,
    _relational_adj, _street_type, _toponym,
)
from .rules_houses import house_after, strong_house
from .rules_names import name_forward
from .rules_scan import Scan
from .rules_streets import bare_street, street


def after_address_word(s: Scan, i: int) -> bool:
    """Token ``i`` follows «адресу», «адрес:», «со стороны»."""
    p = s.tok(i - 1)
    if p is not None and p.text == ":":
        p = s.tok(i - 2)
    return p is not None and p.low in ("адресу", "адрес", "адреса", "адресе", "стороны")


def address_cue(s: Scan, i: int) -> bool:
    """«по адресу Стойкости 15», «адрес: Белы Куна дом 7»."""
    t = s.toks[i]
    if not t.is_word or _bad_name_word(t) or t.low in lx.SETTLEMENT_TYPES:
        return False
    if _street_type(s.toks, i) is not None:
        return False
    e = name_forward(s, i, after_type=True, lenient=True)
    if e is None and not t.is_cap and (is_adjective(t.low) or _gent_noun(t.low)) and \
            house_after(s, i + 1) is not None:
        e = i + 1  # «по адресу парашютная 61/3»
    if e is not None and s.low(e) == "," and house_after(s, e) is None:
        return False  # «по адресу: Сестрорецк, ул. Токарева, д.16»: a settlement comes first
    if e is None or not s.free(i, e):
        return False
    bare_street(s, i, e, priority=5, source="address-cue")
    return True


def relaxed_with_marker(s: Scan, i: int) -> bool:
    """«Ветеранов, дом 105», «гаванская дом 7»: a weaker name is enough before «дом N»."""
    t = s.toks[i]
    # every way to succeed below needs a house number after the word: check that cheap condition first
    if not t.is_word or house_after(s, i + 1) is None:
        return False
    if _bad_name_word(t) or prev_blocks(s, i) or _name_like(t, allow_adj=True):
        return False
    gent = _gent_noun(t.low)
    lower_adj = not t.is_cap and _nominative_adj(t.low)
    if not (t.is_cap and gent or _relational_adj(t.low) or lower_adj or gent and not t.is_cap):
        return False
    e = i + 1
    mid_cap = t.is_cap and not t.sent_start and gent
    if mid_cap and house_after(s, e) is not None:
        pass  # «дома, Комсомола, 17»: a capitalised noun in mid-sentence is a name
    elif not t.is_cap and not (_relational_adj(t.low) or lower_adj) and not strong_house(s, e):
        return False
    elif house_after(s, e, need_marker=True) is None and not strong_house(s, e):
        return False
    street(s, i, e, i, e, None, type_first=True, priority=4, source="relaxed+marker")
    return True


def prev_blocks(s: Scan, i: int) -> bool:
    """Words before a candidate name that show it is not a street («школа», «автобус», «дом»)."""
    p = s.tok(i - 1)
    if p is None:
        return False
    if p.text == "№" or p.is_word and (p.low in lx.LANDMARK_TYPES
                                       or p.low in ("маршрут", "автобус", "маршрутка", "трамвай")):
        return True
    if p.text == "." and s.tok(i - 2) is not None and s.toks[i - 2].low in lx.SETTLEMENT_TYPES:
        return True
    if p.is_word and p.low in lx.SETTLEMENT_TYPES and p.low not in ("д", "с", "п", "х"):
        return True  # «г Пушкин Ахматовская 3»: «Пушкин» is the town
    return False


def name_with_house(s: Scan, i: int) -> bool:
    """A name and a house number: «Муратбаева 57», «Самал 2, д. 5». True when token ``i`` is settled (a street, or
    a settlement right before one)."""
    t = s.toks[i]
    if not _name_like(t, allow_adj=True) or prev_blocks(s, i):
        return False
    e = name_forward(s, i, lenient=False)
    if e is not None and e - i > 1 and _toponym(t) and not is_adjective(t.low):
        return True  # «Шушары Школьная 32»: the settlement, then the street (next token)
    if e is None or not s.free(i, e):
        return False
    h = None
    nt = s.tok(e)
    if nt is not None and nt.is_num and nt.low.isdigit() and len(nt.text) <= 2 and s.low(e + 1) in ("дом", "д"):
        # «тастақ 2 дом 19», «Самал 2, д. 5»: a numbered microdistrict
        h = house_after(s, e + 1, need_marker=True)
        if h is not None:
            e += 1
    if h is None:
        h = house_after(s, e)
    if h is None:
        return False
    bare_street(s, i, e, priority=5, source="name+house")
    return True


def prep_street(s: Scan, i: int) -> bool:
    """A street right after a preposition: «на Ленина», «на 6-ой Советской», «на Невском»."""
    t = s.toks[i]
    if t.type == "ord" and t.is_ordinal:
        nx = s.tok(i + 1)
        if nx is not None and nx.is_word and _adj_like(nx.low) and not _descriptive(nx.low) and \
                _street_type(s.toks, i + 2) is None:
            street(s, i, i + 2, i, i + 2, None, type_first=True, priority=4, source="prep-ord")
            return True
        return False
    if _genitive_name(t):
        e = name_forward(s, i, lenient=True, allow_adj=False)
        if e is None:
            return False
        nt = s.tok(e)
        # «на Ленина улице»? handled by the type-word rule; «по Гоголя парк» → landmark
        if nt is not None and nt.is_word and nt.low in lx.LANDMARK_TYPES:
            return False
        bare_street(s, i, e, priority=4, source="prep")
        return True
    if t.is_cap and not t.sent_start and _adj_like(t.low) and not _bad_name_word(t):
        a = adj_parse(t.low)
        nt = s.tok(i + 1)
        if a is None or "sing" not in a.tag.grammemes:
            return False
        if nt is not None and nt.is_word and (nt.low in lx.LANDMARK_TYPES or _agrees(a, nt.low)):
            return False  # «на Центральном рынке», «на Новом месте»
        if nt is not None and nt.is_cap and not _bad_name_word(nt):
            return False  # «на Красной Поляне»: a two-word name, not a street
        if "Geox" in a.tag.grammemes:
            return False
        _, end = street(s, i, i + 1, i, i + 1, None, type_first=True, priority=3, source="prep-adj")
        return True
    return False


def honorific(s: Scan, i: int) -> bool:
    """A Turkic name with its title: «Толе би», «Кабанбай батыра»."""
    t = s.toks[i]
    nt = s.tok(i + 1)
    if nt is None or nt.low not in lx.HONORIFIC_TAILS or not t.is_word or _bad_name_word(t):
        return False
    if not (t.is_cap or not is_known(t.low)) or is_common_word(t.low):
        return False
    if nt.start - t.end > 1:
        return False
    street(s, i, i + 2, i, i + 2, None, type_first=True, priority=3, source="honorific")
    return True


def propagate(s: Scan) -> None:
    """A name confirmed as a street elsewhere in the post is a street here too."""
    names: dict[str, str] = {}
    for m in s.out:
        if m.kind in ("street", "house") and m.street_type is None and m.source != "propagate":
            first = s.toks[m.ti]
            if first.is_word:
                names.setdefault(first.low, m.source)
        elif m.kind in ("street", "house"):
            for k in range(m.ti, m.tj):
                tk = s.toks[k]
                if tk.is_word and _street_type(s.toks, k) is None and len(tk.low) > 3:
                    names.setdefault(tk.low, m.source)
                    break
    if not names:
        return
    for i, t in enumerate(s.toks):
        if i in s.used or not t.is_word or t.low not in names:
            continue
        e = name_forward(s, i, lenient=True, allow_adj=True)
        if e is None or not s.free(i, e):
            continue
        street(s, i, e, i, e, None, type_first=True, priority=3, source="propagate")
