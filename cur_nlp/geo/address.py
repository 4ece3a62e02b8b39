"""Address helpers shared by the gazetteers and the resolver: street keys, house keys, parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .morph import fold
from .normalize import street_keys
from .predicates import _street_type
from .rules import Rules
from .tokens import tokenize


@dataclass(frozen=True)
class ParsedAddress:
    """A registry-style address split into parts."""

    street: str  # normalised street with its type, e.g. «Мебельная улица»
    street_type: str | None
    keys: tuple[str, ...]  # street lookup keys (see :func:`street_keys`)
    parts: dict[str, str] = field(default_factory=dict)  # house, corpus, building, litera, flat


def split_street(name: str) -> tuple[str | None, list[str]]:
    """Street type and the words of the name: «Большая Пушкарская улица» → ("улица", [Большая, Пушкарская])."""
    toks = tokenize(name)
    stype = None
    words: list[str] = []
    i = 0
    while i < len(toks):
        st = _street_type(toks, i) if stype is None else None
        if st is not None and (len(toks) > 1):
            stype, i = st
            continue
        t = toks[i]
        if t.type in ("word", "ord", "num") and not (t.type == "word" and len(t.text) == 1):
            words.append(t.text)  # single letters are initials or island marks («П.С.», «В.О.»)
        i += 1
    if not words and stype:  # «Линия» alone: the type word is the name
        words = [name]
        stype = None
    return stype, words


def registry_street_keys(name: str) -> tuple[str | None, list[str]]:
    """Type and lookup keys of a registry street name («набережная реки Мойки» → «реки мойки», «мойки»)."""
    stype, words = split_street(name)
    return stype, street_keys(words)


def house_key(house: str, corpus: str | None = None, building: str | None = None) -> str:
    """Canonical house key: «47», «47к1», «12а», «2/45», «10с2» (litera and flat are ignored)."""
    k = fold(re.sub(r"[\s\-]", "", house))
    if corpus:
        k += "к" + fold(corpus)
    if building:
        k += "с" + fold(building)
    return k


def house_number(house: str) -> int | None:
    """Leading integer of a house number («12а» → 12, «2/45» → 2)."""
    m = re.match(r"\d+", house or "")
    return int(m.group()) if m else None


def parse_address(text: str) -> ParsedAddress | None:
    """Parse the first street/house of an address string («ул. Ленина, д. 5, корп. 2»)."""
    toks = tokenize(text)
    rules = Rules(text, toks)
    found = [m for m in rules.run() if m.kind in ("street", "house")]
    if not found:
        return None
    m = min(found, key=lambda m: m.start)
    street = m.parts.get("street", m.normal)
    parts = {k: v for k, v in m.parts.items() if k in ("house", "corpus", "building", "litera", "flat")}
    return ParsedAddress(street=street, street_type=m.street_type, keys=tuple(m.keys), parts=parts)
