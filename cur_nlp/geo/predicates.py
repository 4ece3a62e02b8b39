"""Token predicates and name normalisation used by the address rules (pymorphy features, cached)."""

from __future__ import annotations

import re
from typing import Any, Iterable

from . import lexicon as lx
from .morph import (
    adj_parse,
    agreeing_parses,
    fold,
    has_name_tag,
    is_adjective,
    is_common_word,
    is_known,
    nominative_word,
    normalize_phrase,
    parses,
)
from .tokens import Token

NAME_TAGS = frozenset({"Surn", "Name", "Patr", "Geox", "Orgn", "Trad"})
_LATIN = re.compile(r"^[A-Za-z'’-]+$")
ADJ_ENDINGS = ("ый", "ий", "ой", "ая", "яя", "ое", "ее", "ые", "ие", "ого", "его", "ому", "ему", "ым", "им", "ом",
               "ем", "ую", "юю", "ых", "их", "ыми", "ими", "ей")
_SEPARATORS = {"и", "/", "\\", "-", "—", "–"}
_QUOTES_OPEN = {"«", '"', "“", "„", "'"}
_QUOTES_CLOSE = {"»", '"', "”", "“", "'"}


# ----------------------------------------------------------------------------- token predicates

def _street_type(toks: list[Token], i: int) -> tuple[str, int] | None:
    """If token ``i`` is a street type word, return (canonical type, index after it and its dot)."""
    if i >= len(toks) or not toks[i].is_word:
        return None
    t = toks[i]
    low = t.low
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    has_dot = nxt is not None and nxt.text == "."
    if low in lx.STREET_TYPE_ABBR:
        short = len(low) <= 3 and low not in ("ул", "мкр", "пр-т", "б-р", "наб", "пр-д", "мкрн")
        if short and not has_dot:
            after = toks[i + 1] if i + 1 < len(toks) else None
            before = toks[i - 1] if i > 0 else None
            adj_before = before is not None and before.is_cap and _adj_like(before.low)
            if not adj_before and (after is None or not (after.is_cap or after.is_ordinal)):
                return None
        return lx.STREET_TYPE_ABBR[low], i + (2 if has_dot else 1)
    if len(low) < 4:
        return None
    for p in parses(low)[:3]:
        nf = fold(p.normal_form)
        if nf in lx.STREET_TYPE_LEMMAS and p.tag.POS in ("NOUN", "ADJF"):
            if "plur" in p.tag.grammemes and nf not in ("улица", "проспект", "переулок"):
                continue  # «Набережных Челнах» is a town, «улиц X и Y» two streets
            return lx.STREET_TYPE_LEMMAS[nf], i + 1
    return None


def _is_marker(t: Token, markers: set[str]) -> bool:
    return t.is_word and t.low in markers


def _bad_name_word(t: Token) -> bool:
    low = t.low
    if t.text.isupper() and 1 < len(t.text) <= 6:
        return True  # acronyms: «ЖКС», «ТСЖ», «ГБОУ»
    return (
        low in lx.STOP_WORDS
        or low in lx.HOUSE_MARKERS
        or low in lx.FLAT_MARKERS
        or low in lx.NOT_HOUSE_UNITS
        or bool(_LATIN.match(t.text))
        or len(low) < 2
    )


def _name_like(t: Token, *, lenient: bool = False, allow_adj: bool = False) -> bool:
    """Could ``t`` start a street/place name? Capitalised proper names and out-of-vocabulary words."""
    if not t.is_word or _bad_name_word(t):
        return False
    low = t.low
    if t.is_cap:
        if allow_adj and is_adjective(low):
            return True
        if not is_common_word(low):
            return True
        return lenient and has_name_tag(low)
    # lower-case (social media): out-of-vocabulary words or names
    if not is_known(low):
        return len(low) >= 4
    return lenient and has_name_tag(low) and not is_common_word(low)


def _adj_like(low: str) -> bool:
    """Some likely parse is an adjective («Невский» is also a surname, «Лесной» also a toponym)."""
    ps = parses(low)[:4]
    return any(p.tag.POS in ("ADJF", "PRTF") for p in ps) and low.endswith(ADJ_ENDINGS)


def _admin_type(t: Token | None) -> bool:
    """Is ``t`` a region/district type word («области», «края», «района», «р-н»)?"""
    if t is None or not t.is_word:
        return False
    if t.low in lx.REGION_TYPES or t.low in lx.DISTRICT_TYPES:
        return True
    return any(fold(p.normal_form) in ("область", "край", "район", "республика", "округ")
               for p in parses(t.low)[:2] if p.tag.POS == "NOUN")


_RELATIONAL = re.compile(r"(?:ск|цк)(?:ий|ой|ая|ое|ого|ому|ом|ую|ие|их|ей)$")


def _descriptive(low: str) -> bool:
    """A descriptive adjective («главная», «соседний»): lower-case, it describes a street, not names it."""
    return any(fold(p.normal_form) in lx.DESCRIPTIVE_ADJ for p in parses(low)[:3]) or low in lx.DESCRIPTIVE_ADJ


def _relational_adj(low: str) -> bool:
    """Place-derived adjective («рыбацкий», «гаванская»): may name a street even in lower case."""
    return bool(_RELATIONAL.search(low)) and len(low) > 6


def _nominative_adj(low: str) -> bool:
    """Top parse is a singular nominative adjective («полтавская», «кузнечный»), not a participle."""
    ps = parses(low)
    return bool(ps) and ps[0].tag.POS == "ADJF" and "sing" in ps[0].tag.grammemes and \
        "nomn" in ps[0].tag.grammemes and not _descriptive(low)


def _pure_name(low: str) -> bool:
    """Every likely noun reading is a proper name (no common noun «мороз» behind «Мороз»)."""
    ps = parses(low)[:4]
    nouns = [p for p in ps if p.tag.POS == "NOUN"]
    return bool(nouns) and all(NAME_TAGS & p.tag.grammemes for p in nouns)


def _gent_plural(low: str) -> bool:
    ps = parses(low)
    return bool(ps) and ps[0].tag.POS == "NOUN" and "gent" in ps[0].tag.grammemes and "plur" in ps[0].tag.grammemes


def _gent_noun(low: str) -> bool:
    return any(p.tag.POS == "NOUN" and "gent" in p.tag.grammemes for p in parses(low)[:3])


def _gent_adj(low: str) -> bool:
    return any(p.tag.POS == "ADJF" and "gent" in p.tag.grammemes for p in parses(low)[:4])


def _toponym(t: Token) -> bool:
    """The most likely parse is a toponym («Москвы», «Гатчине»)."""
    ps = parses(t.low)
    return bool(ps) and "Geox" in ps[0].tag.grammemes and is_known(t.low)


def _range_name(t: Token) -> bool:
    """A name inside «от X до Y» / «между X и Y» (proper name, not a settlement)."""
    return (_genitive_name(t) or _name_like(t, lenient=True)) and not _toponym(t)


def _genitive_name(t: Token) -> bool:
    """A proper name in the genitive, as in «на Ленина», «по Муратбаева» (not a toponym alone)."""
    if not t.is_word or _bad_name_word(t):
        return False
    if not t.is_cap and is_known(t.low):
        return False
    ps = parses(t.low)
    if not ps:
        return False
    known = is_known(t.low)
    person = False
    geo_only = True
    for p in ps:
        g = p.tag.grammemes
        if "Surn" in g or "Name" in g or "Patr" in g:
            geo_only = False
            if "gent" in g:
                person = True
        elif "Geox" not in g:
            geo_only = False
    if person:
        return True
    if t.is_cap and not t.sent_start and re.search(r"(ова|ева|ёва|ина|ына)$", t.low):
        return True  # «по Бабушкина», «на Кирова»: possessive surname forms
    if known:
        # a capitalised noun in the genitive in mid-sentence: «по Энтузиастов», «на Стойкости»
        return t.is_cap and not t.sent_start and any(
            "gent" in p.tag.grammemes and p.tag.POS == "NOUN" and "Geox" not in p.tag.grammemes for p in ps[:3])
    if geo_only:
        return False
    # out-of-vocabulary: typical genitive surname/name endings
    return bool(re.search(r"(ова|ева|ёва|ина|ына|ого|его|ского|цкого|ули|ели|ко|ук|юк|ия|ая|ы|и|а)$", t.low))


# ----------------------------------------------------------------------------- normalisation

def _adj_agrees_with(adj_word: str, noun_word: str, strict: bool = False) -> bool:
    """Can adjective ``adj_word`` agree with noun ``noun_word`` (same case, number, gender)?

    Non-strict: a word without noun readings is accepted (abbreviations such as «р-н»)."""
    if strict:
        return agreeing_parses(adj_word, noun_word) is not None
    nouns = [p for p in parses(noun_word)[:4] if p.tag.POS == "NOUN"] or list(parses(noun_word)[:2])
    if agreeing_parses(adj_word, noun_word, nouns) is not None:
        return True
    return not nouns or not any(p.tag.POS == "NOUN" for p in nouns)


def _agrees(adj: Any, word: str) -> bool:
    """Is ``word`` a noun in the same case and number as the adjective parse ``adj``?"""
    for p in parses(word)[:3]:
        if p.tag.POS == "NOUN" and p.tag.case == adj.tag.case and p.tag.number == adj.tag.number:
            return True
    return False


def _agree(word: str, head: str) -> str:
    """Adjective ``word`` in the nominative agreeing with the head noun phrase ``head``."""
    hw = head.split()[0] if head else ""
    ps = parses(hw) if hw and hw[0].isalpha() else ()
    gender = ps[0].tag.gender if ps else None
    number = "plur" if ps and "plur" in ps[0].tag.grammemes else "sing"
    return nominative_word(word, gender=gender if number == "sing" else None, number=number, prefer_geo=False)


def _normal_street_name(name_toks: list[Token], stype: str | None) -> str:
    """Nominative street name: adjectives agree with the type, genitive names stay as written."""
    gender = lx.STREET_TYPE_GENDER.get(stype or "", None)
    out = []
    adj_run = True
    last = name_toks[-1] if name_toks else None
    if last is not None and last.is_word and len(name_toks) > 1 and not is_adjective(last.low) and \
            _gent_noun(last.low) and all(_gent_adj(t.low) for t in name_toks[:-1] if t.is_word):
        adj_run = False  # «Обводного канала», «Красных Зорь» stay in the genitive
    if gender is None:
        for t in name_toks:
            a = adj_parse(t.low) if t.is_word else None
            if a is not None and "sing" in a.tag.grammemes and a.tag.gender:
                gender = a.tag.gender
                break
    for t in name_toks:
        if t.type == "ord":
            num, suf = t.digits, t.suffix
            if gender:
                suf = {"femn": "я", "masc": "й", "neut": "е"}[gender]
            out.append(f"{num}-{suf}")
            continue
        if not t.is_word:
            if t.text == "." and out:
                out[-1] += "."
            else:
                out.append(t.text)
            continue
        a = adj_parse(t.low) if adj_run else None
        if a is not None and len(name_toks) == 1 and "plur" in a.tag.grammemes and "gent" in a.tag.grammemes:
            a = None  # «бульвар Трудящихся», «проспект Энтузиастов»
        if a is not None and (is_adjective(t.low) or t.low.endswith(ADJ_ENDINGS)):
            g = gender
            if g is None:
                g = a.tag.gender or "femn"
            out.append(nominative_word(t.text, gender=g, number="sing", prefer_geo=False))
        else:
            adj_run = False
            keep = t.is_cap or t.low in lx.HONORIFIC_TAILS or t.low in lx.NAME_CONTINUATIONS or bool(out)
            out.append(t.text if keep else t.text[:1].upper() + t.text[1:])
    return " ".join(out)


def _normal_settlement(name: str) -> str:
    return normalize_phrase(name)


def _house_label(parts: dict[str, str]) -> str:
    s = parts["house"]
    if "corpus" in parts:
        s += f" к{parts['corpus']}"
    if "building" in parts:
        s += f" с{parts['building']}"
    if "litera" in parts:
        s += f" лит. {parts['litera']}"
    if "flat" in parts:
        s += f", кв. {parts['flat']}"
    return s


def street_keys(name_words: Iterable[str]) -> list[str]:
    """Lookup keys of a street name without its type word (best first).

    Adjectives go to their lemma («Лесной» → «лесной»), ordinals to the number («2-я» → «2»),
    other words stay as written, folded («Ленина» → «ленина»). The second key uses noun lemmas
    («Мойке» → «мойка»), the third only the last word («Маршала Жукова» → «жукова»).
    """
    ws = [w for w in name_words if w and (w[0].isalnum())]
    if not ws:
        return []
    primary, lemmas = [], []
    for w in ws:
        low = fold(w)
        if re.match(r"^\d+", low):
            num = re.match(r"\d+", low).group()
            primary.append(num)
            lemmas.append(num)
            continue
        if len(low) == 1:
            continue  # initials and island marks: «Ю. Гагарина», «Средний пр. В.О.»
        if low in ("им", "имени") or low in lx.NAME_TITLES and len(ws) > 1 and w is not ws[-1]:
            continue
        a = adj_parse(low) if w[:1].isalpha() else None
        if a is not None and (is_adjective(low) or low.endswith(ADJ_ENDINGS)):
            nf = fold(a.normal_form)
            primary.append(nf)
            lemmas.append(nf)
        else:
            primary.append(low)
            ps = parses(low) if w[:1].isalpha() else ()
            lemmas.append(fold(ps[0].normal_form) if ps else low)
    keys = [" ".join(primary), " ".join(lemmas)]
    if len(primary) > 1:
        keys.append(primary[-1])
    return list(dict.fromkeys(k for k in keys if k))
