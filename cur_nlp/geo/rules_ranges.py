"""Two streets at once: intersections («угол X и Y», «X/Y») and ranges («от X до Y», «между X и Y»)."""

from __future__ import annotations

from typing import Any

from . import lexicon as lx
from .morph import has_name_tag, has_tag, is_known
from .predicates import _SEPARATORS, _bad_name_word, _genitive_name, _name_like, _range_name, _street_type, _toponym
from .rules_names import name_forward
from .rules_scan import Scan
from .rules_streets import street


def intersection(s: Scan, i: int) -> bool:
    """«на углу X и Y», «перекресток X/Y», «пересечение улиц X и Y», «перисечении Ленина брусиловского»."""
    q = i + 1
    st = _street_type(s.toks, q)
    stype = None
    if st is not None:
        stype, q = st
    e1 = name_forward(s, q, after_type=True, lenient=True)
    if e1 is None:
        return False
    sep = s.tok(e1)
    if e1 - q == 2 and not (sep is not None and sep.text in _SEPARATORS | {","}) \
            and all(_genitive_name(s.toks[k]) and not has_tag(s.toks[k].low, "Name")
                    and s.toks[k].low not in lx.HONORIFIC_TAILS for k in (q, q + 1)):
        e1 = q + 1  # «пересечение Родостовца Ленина»: two streets without a separator
        sep = s.tok(e1)
    q2 = e1 + 1 if sep is not None and sep.text in _SEPARATORS | {","} else e1
    st2 = _street_type(s.toks, q2)
    stype2 = stype
    n2 = q2
    if st2 is not None:
        stype2, n2 = st2
    t2 = s.tok(n2)
    e2 = None
    if t2 is not None and (st2 is not None or _name_like(t2, lenient=True)
                           or (t2.is_cap and not _bad_name_word(t2))
                           or (t2.is_word and t2.low.endswith(("ского", "цкого", "ова", "ева", "ина")))):
        e2 = name_forward(s, n2, after_type=True, lenient=True)
        if e2 is None and t2.is_word and not _bad_name_word(t2):
            e2 = n2 + 1  # lower-case adjective-like surname «брусиловского»
    extra = {"intersection": "1"}
    start1 = i + 1 if st is not None else q
    street(s, start1, e1, q, e1, stype, type_first=True, priority=6, source="intersection", extra=extra,
           allow_house=e2 is None)
    if e2 is not None:
        street(s, q2 if st2 is not None else n2, e2, n2, e2, stype2, type_first=True, priority=6,
               source="intersection", extra=extra)
    return True


def range_(s: Scan, i: int) -> bool:
    """«от X до Y», «между X и Y»: two streets bounding a stretch."""
    t = s.toks[i]
    closing = "до" if t.low == "от" else "и"
    first = _range_side(s, i + 1)
    if first is None or s.low(first[2]) != closing:
        return False
    second = _range_side(s, first[2] + 1)
    if second is None:
        return False
    role1, role2 = ("from", "to") if t.low == "от" else ("between", "between")
    street_before_range(s, i)
    for start, (st, q, e), role, allow_house in ((i + 1, first, role1, False),
                                                 (first[2] + 1, second, role2, True)):
        street(s, q if st is None else start, e, q, e, st[0] if st else None, type_first=True, priority=5,
               source="range", extra={"role": role}, allow_house=allow_house)
    return True


def _range_side(s: Scan, q: int) -> tuple[Any, int, int] | None:
    """One street of a range starting at token ``q``: its type match (or None), name start and name end."""
    st = _street_type(s.toks, q)
    if st is not None:
        q = st[1]
    g = s.tok(q)
    if g is None or not (_range_name(g) or st is not None or g.type == "ord"):
        return None
    e = name_forward(s, q, after_type=st is not None, lenient=True, allow_adj=False)
    return None if e is None else (st, q, e)


def street_before_range(s: Scan, i: int) -> None:
    """«Участок Толе би от Абая до Гоголя»: the name right before a range is the street itself."""
    e = i
    b = e - 1
    while b >= 0 and e - b <= 3:
        t = s.toks[b]
        if t.is_word and (t.low in lx.HONORIFIC_TAILS or t.is_cap and not t.sent_start):
            b -= 1
            continue
        break
    # b is now the token before the candidate name (or the first name token if sentence start)
    if b >= 0 and s.toks[b].is_word and s.toks[b].is_cap and s.toks[b].sent_start \
            and _name_like(s.toks[b], lenient=True):
        b -= 1
    s_ = b + 1
    if s_ >= e or not s.free(s_, e):
        return
    first = s.toks[s_]
    if not _name_like(first, lenient=True) or _toponym(first):
        return
    prev = s.tok(s_ - 1)
    if not (prev is None or first.sent_start or prev.type == "punct"
            or prev.low in ("участок", "участке", "участка", "отрезок", "отрезке", "отрезка", "по", "на",
                            "вдоль")):
        return
    if name_forward(s, s_, lenient=True) != e:
        return
    street(s, s_, e, s_, e, None, type_first=True, priority=4, source="range-main", allow_house=False)


def pair(s: Scan, i: int) -> bool:
    """«Гоголя и Байзакова — ...» at a sentence start; «Аносова/Райымбека» anywhere."""
    t = s.toks[i]
    if not (t.is_cap or not is_known(t.low)) or not _name_like(t, lenient=True):
        return False
    e1 = name_forward(s, i, lenient=True, allow_adj=False)
    if e1 is None or not s.free(i, e1):
        return False
    sep = s.tok(e1)
    if sep is None or sep.text not in _SEPARATORS | {"с"}:
        return False
    if sep.text in ("/", "\\") and sep.start == s.toks[e1 - 1].end:
        pass  # glued slash pair
    elif not (t.sent_start and (_genitive_name(t) or s.low(e1 - 1) in lx.HONORIFIC_TAILS)):
        return False
    q = e1 + 1
    t2 = s.tok(q)
    if t2 is None or not (_genitive_name(t2) or _name_like(t2, lenient=True) and
                          (not is_known(t2.low) or has_name_tag(t2.low))):
        return False
    e2 = name_forward(s, q, lenient=True, allow_adj=False)
    if e2 is None:
        return False
    after = s.tok(e2)
    if sep.text not in ("/", "\\") and not (after is None or after.type == "punct" or after.is_num
                                            or after.nl_before or after.sent_start
                                            or after.low in ("перекресток", "перекрёсток")):
        return False
    street(s, i, e1, i, e1, None, type_first=True, priority=4, source="pair", extra={"intersection": "1"})
    street(s, q, e2, q, e2, None, type_first=True, priority=4, source="pair", extra={"intersection": "1"})
    return True
