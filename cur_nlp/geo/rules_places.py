"""Typed settlements («г. Тимашевск»), districts, regions and dictionary toponyms."""

from __future__ import annotations

from . import lexicon as lx
from .morph import fold, is_adjective, is_common_word, is_known, name_keys, nominative_word, normalize_phrase, parses
from .normalize import _adj_agrees_with, _normal_settlement
from .predicates import NAME_TAGS, _admin_type, _bad_name_word, _street_type
from .rules_scan import Scan


def typed_place(s: Scan, i: int) -> None:
    """«г. Тимашевск», «пос. Парголово», «Приморский район», «Ленинградская область»."""
    t = s.toks[i]
    if not t.is_word or i in s.used:
        return
    low = t.low
    # settlement type word + name
    if low in lx.SETTLEMENT_TYPES:
        short = len(low) <= 3
        j = s.skip_dot(i + 1)
        if short and j == i + 1 and low not in ("г", "пгт", "рп"):
            return
        nt = s.tok(j)
        if nt is None or not nt.is_cap or _bad_name_word(nt) and nt.low not in ("город",):
            return
        if nt.start - t.end > 2:
            return
        e = j + 1
        while e < s.n and e - j < 3 and s.toks[e].is_cap and not s.toks[e].sent_start \
                and not _admin_type(s.tok(e + 1)) \
                and _adj_agrees_with(s.toks[e - 1].low, s.toks[e].low, strict=True):
            e += 1  # «Красное Село», «Сосновый Бор»; not «Шушары Школьная»
        name = s.span_text(j, e)
        normal = _normal_settlement(name)
        s.add(i, e, "settlement", normal, parts={"type": lx.SETTLEMENT_TYPES[low]}, keys=name_keys(name), priority=5,
              source="settlement-type")
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
        p = s.toks[b - 1]
        if p.is_word and is_adjective(p.low) and not _bad_name_word(p) \
                and (p.is_cap or "-" in p.low) and _adj_agrees_with(p.low, low):
            b -= 1
        elif p.text == "-" and b - 2 >= 0:
            b -= 1
        else:
            break
    end = i + 1
    if len(low) <= 3:
        end = s.skip_dot(i + 1)
    if b == i:
        # «Республика Татарстан», «район Автово»
        nt = s.tok(end)
        if nt is None or not nt.is_cap or _bad_name_word(nt) or nt.sent_start:
            return
        e = end + 1
        while e < s.n and e - end < 3 and s.toks[e].is_cap and not s.toks[e].sent_start:
            e += 1
        name = s.span_text(end, e)
        head = normalize_phrase(s.span_text(i, end))
        normal = f"{head} {name}"
        start, stop = i, e
    else:
        phrase = s.span_text(b, i) + " " + (lx.DISTRICT_TYPES.get(low) or lx.REGION_TYPES.get(low) or t.text) \
            if len(low) <= 4 else s.span_text(b, end)
        normal = normalize_phrase(phrase)
        start, stop = b, end
    if not s.free(start, stop):
        return
    kind = "region" if rtype else "district"
    if rtype == "округ" and dtype:
        kind = "district"
    normal = normal[:1].upper() + normal[1:]
    s.add(start, stop, kind, normal, keys=name_keys(normal), priority=5, source=kind + "-type")


def toponym(s: Scan, i: int) -> None:
    """A dictionary toponym missed by NER: «Сальск остался...», «в северодвинске» (lowest priority)."""
    t = s.toks[i]
    if not t.is_word or i in s.used or len(t.low) < 3 or t.low in lx.STOP_WORDS:
        return
    ps = parses(t.low)
    if not ps or "Geox" not in ps[0].tag.grammemes or not is_known(t.low):
        return
    if any(p.tag.POS == "NOUN" and "Geox" not in p.tag.grammemes and not (NAME_TAGS & p.tag.grammemes)
           for p in ps[:3]):
        return  # «Грязь в парадной» is dirt, not the town of Gryazi
    if not t.is_cap:
        p = s.tok(i - 1)
        if p is None or p.low not in ("в", "во", "из", "под") or is_common_word(t.low):
            return
    nt = s.tok(i + 1)
    if nt is not None and (_admin_type(nt) or _street_type(s.toks, i + 1) is not None):
        return  # «Краснодарский край», «Невский проспект» are found by other rules
    name = t.text
    normal = nominative_word(name)
    s.add(i, i + 1, "settlement", normal[:1].upper() + normal[1:], keys=name_keys(name), priority=1,
          source="toponym")
