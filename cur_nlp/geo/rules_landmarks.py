"""Landmarks: «остановка «X»», «школа №5», «Центральный парк»."""

from __future__ import annotations

from functools import lru_cache

from . import lexicon as lx
from .morph import fold, is_adjective, name_keys, normalize_phrase, parses
from .normalize import _agree
from .predicates import _QUOTES_CLOSE, _QUOTES_OPEN, _bad_name_word, _street_type
from .rules_names import name_forward
from .rules_scan import Scan


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


def landmark(s: Scan, i: int) -> None:
    t = s.toks[i]
    if not t.is_word or i in s.used and s.low(i + 1) not in _QUOTES_OPEN:
        return
    ltype = landmark_type(t.low)
    if ltype is None:
        return
    j = s.skip_dot(i + 1) if len(t.low) <= 3 else i + 1
    # «детский сад» / «станция метро»
    if t.low in ("детский", "детского") and s.low(i + 1).startswith("сад"):
        j = i + 2
    if ltype == "станция" and s.low(j) == "метро":
        j += 1
    if ltype == "метро" and s.low(j) in ("станция", "ст"):
        j = s.skip_dot(j + 1)
    start = i
    name: str | None = None
    end = None
    nt = s.tok(j)
    if nt is not None and nt.text == "№":
        j += 1
        nt = s.tok(j)
    if nt is not None and nt.is_num and nt.start - s.toks[j - 1].end <= 1:
        name = nt.text
        end = j + 1
    elif nt is not None and nt.text in _QUOTES_OPEN:
        k = j + 1
        while k < s.n and k - j < 8 and s.toks[k].text not in _QUOTES_CLOSE:
            k += 1
        if k < s.n and k > j + 1:
            name = s.span_text(j + 1, k)
            end = k + 1
    elif nt is not None and nt.is_word and nt.low in ("им", "имени"):
        e = name_forward(s, j, after_type=True, lenient=True)
        if e is not None:
            name = s.span_text(j, e)
            end = e
    elif nt is not None and nt.is_cap and not nt.sent_start and not _bad_name_word(nt) and \
            _street_type(s.toks, j) is None:
        e = name_forward(s, j, after_type=True, lenient=True)
        if e is not None:
            name = s.span_text(j, e)
            end = e
    # «Центральный парк», «Горьковская станция»
    b = i
    while b - 1 >= 0 and i - (b - 1) <= 2:
        p = s.toks[b - 1]
        if p.is_cap and is_adjective(p.low) and not _bad_name_word(p) and (b - 1) not in s.used:
            b -= 1
        else:
            break
    if b < i:
        start = b
        adj = " ".join(normalize_phrase(s.span_text(k, k + 1)) for k in range(b, i))
        if name is None:
            name = adj
            end = j if len(t.low) <= 3 else i + 1
        else:
            name = f"{adj} {name}"
    quoted = nt is not None and nt.text in _QUOTES_OPEN
    if name is None or end is None or not (quoted or s.free(start, end)):
        return
    head = ltype  # canonical nominative type word («парке» → «парк», «ТЦ» → «торговый центр»)
    if b < i:
        adjs = " ".join(_agree(s.toks[k].text, head) for k in range(b, i))
        normal = f"{adjs} {head[:1].lower() + head[1:]}"
        rest = s.span_text(j, end) if end > j else ""
        if rest:
            normal += " " + rest
    else:
        normal = f"{head} {name}"
    keys = [fold(normal)] + name_keys(name)
    s.add(start, end, "landmark", normal[:1].upper() + normal[1:],
          parts={"type": ltype, "name": name}, keys=keys, priority=7 if quoted else 4, source="landmark")
