"""Token predicates of the address rules: is this token a street type word, a name, an adjective, a genitive
surname, a toponym? (pymorphy features; normal forms are in :mod:`cur_nlp.geo.normalize`)."""

from __future__ import annotations

import re

from . import lexicon as lx
from .morph import NAME_GRAMMEMES, fold, has_name_tag, is_adjective, is_common_word, is_known, parses
from .tokens import Token

NAME_TAGS = NAME_GRAMMEMES  # surname, first name, patronymic, toponym, organisation, trademark
_LATIN = re.compile(r"^[A-Za-z'’-]+$")
ADJ_ENDINGS = ("ый", "ий", "ой", "ая", "яя", "ое", "ее", "ые", "ие", "ого", "его", "ому", "ему", "ым", "им", "ом",
               "ем", "ую", "юю", "ых", "их", "ыми", "ими", "ей")
_SEPARATORS = {"и", "/", "\\", "-", "—", "–"}
_QUOTES_OPEN = {"«", '"', "“", "„", "'"}
_QUOTES_CLOSE = {"»", '"', "”", "“", "'"}


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
