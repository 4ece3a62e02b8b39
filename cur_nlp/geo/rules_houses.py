"""House numbers around a street: «, д. 5Б, корп. 2, лит. А, кв. 7» after it, «у дома 14 по» before it."""

from __future__ import annotations

import re

from . import lexicon as lx
from .rules_scan import Scan


def house_after(s: Scan, j: int, *, need_marker: bool = False) -> tuple[int, dict[str, str]] | None:
    """Parse «, д. 5Б, корп. 2, лит. А, кв. 7» starting at ``j``."""
    k = j
    t = s.tok(k)
    if t is None:
        return None
    if t.text == ",":
        k += 1
    marker = False
    t = s.tok(k)
    if t is not None and t.is_word and t.low in ("возле", "у", "около", "напротив") and \
            s.low(k + 1) in lx.HOUSE_MARKERS and s.low(k + 1) != "№":
        k += 1
        t = s.tok(k)
        if not need_marker:
            need_marker = True
    if t is not None and t.is_word and t.low in lx.HOUSE_MARKERS:
        k = s.skip_dot(k + 1)
        marker = True
    t = s.tok(k)
    if t is not None and t.text == "№" and marker:
        k += 1
    t = s.tok(k)
    if t is None:
        return None
    house: str | None = None
    if t.is_house_like:
        house = t.text
        k += 1
    elif t.type == "ord" and t.is_ordinal and s.low(k + 1) in ("дом", "д"):
        house = t.digits
        k = s.skip_dot(k + 2)
        marker = True
    if house is None:
        return None
    if need_marker and not marker:
        return None
    nxt = s.tok(k)
    digits = re.match(r"\d+", house)
    value = int(digits.group()) if digits else 0
    glued_ok = lx.CORPUS_MARKERS | lx.BUILDING_MARKERS | lx.LITERA_MARKERS | lx.FLAT_MARKERS
    if nxt is not None and nxt.is_word and nxt.start == s.toks[k - 1].end and len(nxt.low) >= 2 \
            and nxt.low not in glued_ok:
        return None  # «5пар», «2шт», «60вт»: a count, not a house
    if nxt is not None and nxt.is_word and len(nxt.text) == 1 and nxt.text in lx.HOUSE_LETTERS \
            and nxt.start == s.toks[k - 1].end + 1 and house.isdigit():
        house += nxt.text  # «14 Б»
        k += 1
        nxt = s.tok(k)
    if not marker:
        if nxt is not None and nxt.is_word and nxt.low in lx.NOT_HOUSE_UNITS:
            after = s.tok(k + 1)
            entrance = nxt.low in lx.ADDRESS_CONTEXT and after is not None and after.is_num
            if not entrance:
                return None
        if nxt is not None and nxt.text in (":", ".") and s.tok(k + 1) is not None \
                and s.toks[k + 1].is_num and s.toks[k + 1].start == nxt.end:
            return None  # a time «12:30» or a date «12.03»
        if value == 0 or value > 1500 or (1900 <= value <= 2100):
            return None
        if nxt is not None and nxt.text in ("%", "°"):
            return None
    elif nxt is not None and nxt.is_word and nxt.low in ("лет", "год", "года", "раз", "минут", "метров"):
        return None
    parts: dict[str, str] = {"house": house.replace("\\", "/")}
    # «57-1», «57к1» written without a space: the corpus
    dash = s.tok(k)
    after_dash = s.tok(k + 1)
    if dash is not None and dash.text == "-" and after_dash is not None and after_dash.is_num \
            and after_dash.low.isdigit() and len(after_dash.low) <= 2 and dash.start == s.toks[k - 1].end \
            and after_dash.start == dash.end:
        parts["corpus"] = after_dash.text
        k += 2
    # optional corpus / building / litera / flat
    while True:
        q = k
        if s.low(q) == ",":
            q += 1
        t = s.tok(q)
        if t is None or not t.is_word:
            break
        nq = s.skip_dot(q + 1)
        v = s.tok(nq)
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


def house_before(s: Scan, i: int) -> tuple[int, dict[str, str]] | None:
    """«у дома 14 по улице Руставели», «дома № 12, литера А по ул. X», «дома 150 пр. Ветеранов»."""
    p = s.tok(i - 1)
    if p is None:
        return None
    stop = i - 1 if p.low in ("на", "по") else i
    for k in range(stop - 1, max(-1, stop - 9), -1):
        t = s.toks[k]
        if k in s.used:
            return None
        if t.is_word and t.low in lx.HOUSE_MARKERS:
            h = house_after(s, k)
            if h is None:
                return None
            end, parts = h
            if end == stop or (end + 1 == stop and s.toks[end].text == ","):
                return k, parts
            return None
    return None


def strong_house(s: Scan, j: int) -> bool:
    """A house number that looks like an address by itself: «12/6», «8а», «24к1», «19, 4 парадная»."""
    h = house_after(s, j)
    if h is None:
        return False
    end, parts = h
    if "/" in parts["house"] or not parts["house"].isdigit() or len(parts) > 1:
        return True
    for k in range(end, min(end + 4, s.n)):
        if s.toks[k].is_word and s.toks[k].low in lx.ADDRESS_CONTEXT:
            return True
    return False
