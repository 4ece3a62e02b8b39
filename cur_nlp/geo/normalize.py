"""Normal forms used by the address rules: nominative street and settlement names, adjectives agreeing with their
noun, house labels and the lookup keys of a street name."""

from __future__ import annotations

import re
from typing import Any, Iterable

from . import lexicon as lx
from .morph import adj_parse, agreeing_parses, fold, is_adjective, nominative_word, normalize_phrase, parses
from .predicates import ADJ_ENDINGS, _gent_adj, _gent_noun
from .tokens import Token


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
