"""Morphology helpers: one shared pymorphy analyser, cached parses, nominative forms, lookup keys."""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Any

NAME_GRAMMEMES = frozenset({"Surn", "Name", "Patr", "Geox", "Orgn", "Trad"})
_WORD_RE = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*|\d+(?:[-/]?[^\W\d_]+)?(?:/\d+[^\W\d_]?)?", re.UNICODE)


@lru_cache(maxsize=1)
def morph() -> Any:
    """The shared natasha ``MorphVocab`` (a pymorphy2 analyser), built once per process."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from natasha import MorphVocab

        return MorphVocab()


def inflect(p: Any, grams: set[str]) -> Any | None:
    """pymorphy ``Parse.inflect`` with OpenCorpora grammemes (natasha's MorphForm expects UD ones)."""
    from pymorphy2.analyzer import Parse

    try:
        return Parse.inflect(p, set(grams))
    except (ValueError, KeyError, IndexError):  # pragma: no cover - pymorphy edge cases
        return None


def fold(s: str) -> str:
    """Lower-case and replace «ё» with «е» (the key space of all lookups)."""
    return s.lower().replace("ё", "е")


@lru_cache(maxsize=200_000)
def parses(word: str) -> tuple[Any, ...]:
    """pymorphy parses of a lower-cased word (cached)."""
    return tuple(morph().parse(word.lower()))


@lru_cache(maxsize=200_000)
def has_name_tag(word: str) -> bool:
    """True if some parse of ``word`` is a proper name (surname, first name, toponym...)."""
    return any(NAME_GRAMMEMES & p.tag.grammemes for p in parses(word))


def has_tag(word: str, grammeme: str) -> bool:
    """True if some parse of ``word`` carries ``grammeme`` (e.g. "Name", "Surn", "Geox")."""
    return any(grammeme in p.tag.grammemes for p in parses(word))


@lru_cache(maxsize=200_000)
def is_known(word: str) -> bool:
    """True if the word is in the pymorphy dictionary (not a guess)."""
    ps = parses(word)
    return bool(ps) and ps[0].is_known


@lru_cache(maxsize=200_000)
def is_common_word(word: str) -> bool:
    """Known dictionary word whose likely parses are not proper names (e.g. «квартира», «почему»)."""
    ps = parses(word)
    if not ps or not is_known(word):
        return False
    top = ps[0].score
    return not any(NAME_GRAMMEMES & p.tag.grammemes for p in ps if p.score >= top * 0.3)


@lru_cache(maxsize=200_000)
def is_adjective(word: str) -> bool:
    """True if the most likely parse is a full adjective or an ordinal («Лесная», «Невский»)."""
    ps = parses(word)
    return bool(ps) and ps[0].tag.POS in ("ADJF", "PRTF")


def adj_parse(word: str) -> Any | None:
    """The best adjective parse of a word, if any."""
    for p in parses(word):
        if p.tag.POS in ("ADJF", "PRTF"):
            return p
    return None


def _restore_case(src: str, out: str) -> str:
    if src[:1].isupper():
        return out[:1].upper() + out[1:]
    return out


def nominative_word(word: str, gender: str | None = None, number: str | None = None,
                    prefer_geo: bool = True) -> str:
    """Nominative form of one word, keeping its number: «Тимашевске» → «Тимашевск», «Челнах» → «Челны».

    ``gender`` forces the gender of an adjective («Лесной» + femn → «Лесная»).
    """
    if not word or not word[0].isalpha() or "-" in word and not word.replace("-", "").isalpha():
        return word
    ps = parses(word)
    if not ps:
        return word
    best = ps[0]
    if prefer_geo:
        for p in ps:
            if "Geox" in p.tag.grammemes:
                best = p
                break
    if gender and best.tag.POS not in ("ADJF", "PRTF"):
        a = adj_parse(word)
        if a is not None:
            best = a
    if "nomn" in best.tag.grammemes and not gender:
        return word
    want = {"nomn"}
    if best.tag.POS in ("ADJF", "PRTF"):
        num = number or ("plur" if "plur" in best.tag.grammemes else "sing")
        want.add(num)
        if num == "sing":
            want.add(gender or best.tag.gender or "masc")
    elif "plur" in best.tag.grammemes:
        want.add("plur")
    inf = inflect(best, want)
    if inf is None:
        return word
    return _restore_case(word, inf.word)


def lemma_variants(word: str, limit: int = 4) -> list[str]:
    """Folded surface form plus the distinct lemmas of the top parses (lookup keys)."""
    out = [fold(word)]
    for p in parses(word)[:limit]:
        f = fold(p.normal_form)
        if f not in out:
            out.append(f)
        if "plur" in p.tag.grammemes and p.tag.POS == "NOUN":
            inf = inflect(p, {"nomn", "plur"})
            if inf is not None and fold(inf.word) not in out:
                out.append(fold(inf.word))
    return out


def words(text: str) -> list[str]:
    """Word tokens of a short name (no punctuation)."""
    return _WORD_RE.findall(text)


def hyphen_lemma(word: str) -> str:
    """Lemma of a hyphenated name: «Петропавловске-Камчатском» → «петропавловск-камчатский»,
    «Ростове-на-Дону» → «ростов-на-дону» (after a lower-case link word the rest stays as is)."""
    out = []
    parts = word.split("-")
    for k, part in enumerate(parts):
        if part.islower() and k > 0:
            out.extend(fold(p) for p in parts[k:])
            break
        ps = parses(part)
        if ps and ps[0].tag.POS in ("NOUN", "ADJF") and len(part) > 2:
            if ps[0].tag.POS == "ADJF":
                geo = ps[0]
            else:
                geo = next((p for p in ps if "Geox" in p.tag.grammemes), ps[0])
            out.append(fold(geo.normal_form))
        else:
            out.append(fold(part))
    return "-".join(out)


def name_key(text: str) -> str:
    """Canonical key of a settlement/region/district name: folded first-parse lemmas joined by spaces.

    «Нижнем Новгороде» and «Нижний Новгород» give the same key.
    """
    toks = words(text)
    out = []
    for w in toks:
        if "-" in w and len(w) > 3:
            out.append(hyphen_lemma(w))
            continue
        ps = parses(w)
        if ps and ps[0].tag.POS in ("ADJF", "PRTF"):
            out.append(fold(ps[0].normal_form))
        elif ps:
            geo = next((p for p in ps if "Geox" in p.tag.grammemes), ps[0])
            out.append(fold(geo.normal_form))
        else:
            out.append(fold(w))
    return " ".join(out)


def name_keys(text: str, limit: int = 3) -> list[str]:
    """All plausible keys of an inflected name (combinations of per-word lemma variants)."""
    toks = words(text)
    if not toks:
        return []
    if len(toks) > 4:
        return [name_key(text)]
    combos: list[list[str]] = [[]]
    for w in toks:
        if "-" in w and len(w) > 3:
            parts = w.split("-")
            head = lemma_variants(parts[0], limit)
            vars_ = [hyphen_lemma(w), fold(w)] + [h + "-" + "-".join(fold(p) for p in parts[1:]) for h in head[1:]]
        else:
            vars_ = lemma_variants(w, limit)
        combos = [c + [v] for c in combos for v in vars_][:32]
    keys = [name_key(text)] + [" ".join(c) for c in combos]
    return list(dict.fromkeys(keys))


def agreeing_parses(adj_word: str, noun_word: str, nouns: list[Any] | None = None) -> tuple[Any, Any] | None:
    """(adjective parse, noun parse) of two words that agree in case and number (and gender if singular).

    ``nouns``: the noun parses to try (default: the noun readings among the first five parses of ``noun_word``)."""
    if nouns is None:
        nouns = [p for p in parses(noun_word)[:5] if p.tag.POS == "NOUN"]
    for a in parses(adj_word)[:6]:
        if a.tag.POS not in ("ADJF", "PRTF"):
            continue
        for n in nouns:
            if a.tag.case == n.tag.case and a.tag.number == n.tag.number and (
                    a.tag.number == "plur" or a.tag.gender == n.tag.gender):
                return a, n
    return None


def normalize_phrase(text: str) -> str:
    """Nominative form of a short place phrase: adjectives agree with the noun after them.

    «в Нижнем Новгороде» → «Нижний Новгород»; «Набережных Челнах» → «Набережные Челны»;
    «Краснодарском крае» → «Краснодарский край»; «Сергиевом Посаде» → «Сергиев Посад».
    """
    toks = re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*|\d+[^\s]*|\S", text)
    if not toks:
        return text
    out = []
    for k, w in enumerate(toks):
        if not w[0].isalpha():
            out.append(w)
            continue
        if "-" in w:
            # «Ростове-на-Дону» → inflect the first part only
            first, rest = w.split("-", 1)
            out.append(nominative_word(first) + "-" + rest)
            continue
        nxt = next((t for t in toks[k + 1:] if t[0].isalpha()), None)
        pair = agreeing_parses(w, nxt) if nxt is not None and "-" not in nxt else None
        if pair is not None:
            adj, noun = pair
            want = {"nomn", noun.tag.number or "sing"}
            if noun.tag.number != "plur":
                want.add(noun.tag.gender or "masc")
            inf = inflect(adj, want)
            out.append(_restore_case(w, inf.word) if inf is not None else w)
            continue
        ps = parses(w)
        if ps and ps[0].tag.POS in ("ADJF", "PRTF"):
            out.append(nominative_word(w, prefer_geo=False))
        else:
            out.append(nominative_word(w))
    return _join(out)


def _join(toks: list[str]) -> str:
    s = ""
    for t in toks:
        if s and not (t in ",.)" or s.endswith(("(", "-"))):
            s += " "
        s += t
    return s
