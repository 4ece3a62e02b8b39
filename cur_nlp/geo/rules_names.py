"""How far a street name runs: «Маршала Жукова», «8-я Советская», «наб. реки Фонтанки»."""

from __future__ import annotations

from . import lexicon as lx
from .morph import has_name_tag, has_tag, is_adjective, is_known, parses
from .predicates import (
    _adj_like, _bad_name_word, _descriptive, _gent_adj, _gent_noun, _gent_plural, _name_like, _pure_name,
    _relational_adj, _street_type,
)
from .rules_scan import Scan


def name_forward(s: Scan, i: int, *, after_type: bool = False, lenient: bool = False,
                 allow_adj: bool = True) -> int | None:
    """End index of a street name starting at ``i`` (1-4 words), or None."""
    j = i
    t = s.tok(j)
    if t is None:
        return None
    if t.is_word and t.low in ("им", "имени"):
        j = s.skip_dot(j + 1)
    count = 0
    prev_adj = False
    while j < s.n and count < 4:
        t = s.toks[j]
        if count == 0 and t.type == "ord" and t.is_ordinal:
            # «8-я Советская», «1-й Лесной», «2-й красноармейской»
            j += 1
            count += 1
            prev_adj = True
            nx = s.tok(j)
            if nx is not None and nx.is_word and not nx.is_cap and _adj_like(nx.low) and not _descriptive(nx.low):
                j += 1
                count += 1
            continue
        if t.is_word and len(t.text) == 1 and t.text.isupper() and s.low(j + 1) == "." and \
                s.tok(j + 2) is not None and s.toks[j + 2].is_cap:
            j += 2  # an initial: «пр. Ю.Гагарина»
            continue
        if count == 0 and t.is_num and after_type:
            # «улица 8 Марта», «ул. 50 лет Октября»
            nx = s.tok(j + 1)
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
            nx = s.tok(j + 1)
            if nx is not None and (nx.low in lx.NAME_CONTINUATIONS or nx.is_house_like or _relational_adj(t.low)):
                j += 1  # «по набережной обводного канала», «улица садовая 5»
                count += 1
                prev_adj = True
                continue
        if count == 0 and after_type and not t.is_cap and t.is_word and not _bad_name_word(t) and \
                _gent_plural(t.low) and (s.tok(j + 1) is None or s.toks[j + 1].is_house_like
                                         or s.toks[j + 1].type == "punct"):
            j += 1  # «ул. металлургов 5», «пр. энергетиков»
            count += 1
            break
        if count == 0 and after_type and not t.is_cap and t.is_word and not _bad_name_word(t):
            nx = s.tok(j + 1)
            if nx is not None and nx.is_cap and not nx.sent_start and (
                    has_tag(nx.low, "Surn") or t.low in lx.NAME_CONTINUATIONS) \
                    and any("gent" in p.tag.grammemes for p in parses(t.low)[:2]):
                j += 1  # lower-case title: «улица подводника Кузьмина»
                count += 1
                continue
        if t.low in lx.NAME_TITLES and s.tok(j + 1) is not None:
            nj = s.skip_dot(j + 1)
            nt = s.tok(nj)
            if nt is not None and nt.is_cap:
                j = nj
                count += 1
                continue
        if _street_type(s.toks, j) is not None and count > 0:
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
                    _gent_noun(t.low) and _gent_adj(s.toks[j - 1].low):
                j += 1  # «Обуховской обороны», «Красных зорь»
                count += 1
                prev_adj = False
                continue
            if not t.is_cap or _bad_name_word(t):
                break
            if _street_type(s.toks, j) is not None:
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
