"""Street mentions: registering one (with its house), type-word streets, coordinated streets."""

from __future__ import annotations

from . import lexicon as lx
from .mention import Mention
from .morph import is_adjective, is_known
from .normalize import _house_label, _normal_street_name, street_keys
from .predicates import (
    _SEPARATORS, _adj_like, _bad_name_word, _descriptive, _genitive_name, _name_like, _relational_adj, _street_type,
)
from .rules_houses import house_after, house_before
from .rules_names import name_forward
from .rules_scan import Scan


def street(s: Scan, i: int, j: int, name_i: int, name_j: int, stype: str | None, *, type_first: bool,
           priority: int, source: str, extra: dict[str, str] | None = None,
           allow_house: bool = True) -> tuple[Mention, int]:
    """Register a street (or street+house) mention; returns it and the index after it."""
    name_toks = s.toks[name_i:name_j]
    name = _normal_street_name(name_toks, stype)
    if stype:
        normal = f"{stype} {name}" if type_first else f"{name} {stype}"
    else:
        normal = name
    keys = street_keys([t.text for t in name_toks])
    parts = {"street": normal}
    if extra:
        parts.update(extra)
    j = skip_suffix(s, j)
    end = j
    kind = "street"
    hp: dict[str, str] | None = None
    if allow_house:
        h = house_after(s, j)
        if h is not None:
            end, hp = h
        else:
            hb = house_before(s, i)
            if hb is not None:
                i, hp = hb
    if hp is not None:
        parts.update(hp)
        kind = "house"
        normal = f"{normal}, {_house_label(hp)}"
    m = s.add(i, end, kind, normal, parts=parts, keys=keys, street_type=stype, priority=priority, source=source)
    return m, end


def bare_street(s: Scan, i: int, e: int, *, priority: int, source: str) -> None:
    """A street without a type word on tokens ``i`` to ``e - 1``, and the streets coordinated with it."""
    _, end = street(s, i, e, i, e, None, type_first=True, priority=priority, source=source)
    coordinated(s, end, None, source)


def skip_suffix(s: Scan, j: int) -> int:
    """Skip «В.О.», «П.С.» after a street name."""
    for pat in lx.STREET_SUFFIXES:
        if all(s.low(j + k) == w for k, w in enumerate(pat)):
            return j + len(pat)
    return j


def coordinated(s: Scan, j: int, stype: str | None, source: str, role: str | None = None) -> None:
    """After a street ending at ``j``: «и Y», «/Y», «- Y», «, Y 5» — more streets of the same kind."""
    k = j
    prev = next((m for m in reversed(s.out) if m.tj == j or m.end == s.toks[j - 1].end), None) \
        if j > 0 else None
    for _ in range(3):
        sep = s.tok(k)
        if sep is None or sep.text not in _SEPARATORS | {","}:
            return
        q = k + 1
        st = _street_type(s.toks, q)
        if st is not None:
            stype2, q = st
        else:
            stype2 = stype if sep.low == "и" else None
        t = s.tok(q)
        if t is None or not s.free(q, q + 1):
            return
        if st is None and not (_name_like(t, lenient=True) and (t.is_cap or not is_known(t.low))):
            return
        if st is None and not t.is_cap and house_after(s, q + 1) is None:
            return  # lower-case words after «и» are rarely streets unless a house number follows
        if st is None and t.is_cap and is_adjective(t.low) and not _genitive_name(t):
            nxt = s.tok(q + 1)
            if nxt is not None and nxt.is_word and not nxt.is_cap:
                return
        e = name_forward(s, q, after_type=st is not None, lenient=True)
        if e is None:
            return
        if sep.text == ",":
            if house_after(s, e) is None:
                return
        slash = sep.text in ("/", "\\", "-", "—", "–")
        extra = {"intersection": "1"} if role == "intersection" or slash else None
        if slash and prev is not None:
            prev.parts["intersection"] = "1"
        prev, k = street(s, q if st is None else k + 1, e, q, e, stype2, type_first=True, priority=5,
                         source=source + "+coord", extra=extra)


def typed_street(s: Scan, i: int) -> int | None:
    """A street around the type word at ``i``: «Лесная улица», «2-я Советская ул.» before it, «улица X», «улиц X и Y»
    after it. Returns the index after the street, or None."""
    st = _street_type(s.toks, i)
    if st is None or i in s.used:
        return None
    stype, after = st
    # backward: «Лесная улица», «2-я Советская улица»
    b = i
    while b - 1 >= 0 and i - (b - 1) <= 3 and (b - 1) not in s.used:
        p = s.toks[b - 1]
        lower_ok = _relational_adj(p.low) or (b == i and len(s.toks[i].low) > 4 and not _descriptive(p.low))
        if p.type == "ord" and p.is_ordinal or ((p.is_cap or lower_ok) and _adj_like(p.low)
                                                and not _bad_name_word(p)):
            b -= 1
            continue
        break
    if b < i and (s.toks[b].is_cap or s.toks[b].type == "ord" or _adj_like(s.toks[b].low)):
        _, end = street(s, b, after, b, i, stype, type_first=False, priority=6, source="type-back")
        return end
    # plural «улиц X и Y», forward name
    e = name_forward(s, after, after_type=True)
    if e is None:
        return None
    _, end = street(s, i, e, after, e, stype, type_first=True, priority=6, source="type-fwd")
    coordinated(s, end, stype, "type-fwd")
    return end
