"""Where a post is, as grouping compares it: its own house (or landmark), the streets it names, a point, its town.

A post's *own* house is its first house-level mention («Титова 30 до сих пор холодно, на Титова 24 уже дали» is
about Титова 30). Streets are compared by their last lookup key (:func:`cur_nlp.geo.address.registry_street_keys`:
«ул. К. Маркса», «Карла Маркса» and «Маркса» are one street); houses by number and corpus, where «33/1», «33 к1» and
«33 корп. 1» are one house and a bare «33» matches any corpus of 33. A point is taken only from the record
(``lat``/``lon`` from a portal or a geotag) or from a house-level geocode, never from a town's centre.

>>> House("ленина", "5").same_as(House("ленина", "5", "2")), House("ленина", "5").same_as(House("ленина", "17"))
(True, False)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Iterable, Sequence

from cur_nlp.geo.address import registry_street_keys
from cur_nlp.geo.gazetteer import haversine_m
from cur_nlp.geo.morph import parses
from cur_nlp.routing import record_place

AREA_FIELDS = ("city", "settlement", "municipality")
"""Record fields that name the post's town (e.g. the town of the page it was posted on), in order of preference."""

_HOUSE = re.compile(r"^(\d+[а-я]?)(?:(?:/|к|корп|корпус)(\d+))?$")
_HOUSE_WORDS = {"д", "дом", "дома", "доме"}
_CORPUS_WORDS = {"к", "корп", "корпус"}
_MENTION = re.compile(r"\[[^\]|]*\|[^\]]*\]")
_UNITS = {"день", "дня", "дней", "час", "часа", "часов", "минут", "минуты", "этаж", "этаже", "этажа", "год", "года",
          "лет", "раз", "раза", "кв", "квартира", "градусов", "человек", "штук", "рублей", "руб", "р", "метров", "м",
          "км", "числа", "января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
          "октября", "ноября", "декабря"}
_NOT_NAMES = {"ADVB", "PREP", "CONJ", "PRCL", "NUMR", "NPRO", "INTJ", "PRED", "COMP", "VERB", "INFN"}
_CORPUS = re.compile(r"^(?:к|корп|корпус)(\d+)$")


@dataclass(frozen=True)
class House:
    """A house on a street (``street`` is a street key) or a numbered landmark («школа», «53»)."""

    street: str
    number: str
    part: str = ""  # corpus, building, or the number after a slash

    def same_as(self, other: "House") -> bool:
        """One building: same street and number, and the same corpus unless one of them names none."""
        return (self.street == other.street and self.number == other.number
                and (not self.part or not other.part or self.part == other.part))


@dataclass(frozen=True)
class Place:
    """What grouping knows about a post's place (see the module docstring)."""

    houses: tuple[House, ...] = ()
    streets: tuple[str, ...] = ()
    point: tuple[float, float] | None = None
    area: str = ""
    location: dict[str, Any] | None = None  # the most specific location, for display
    names: dict[str, str | None] = field(default_factory=dict)  # settlement, municipality, region (for routing)

    @property
    def house(self) -> House | None:
        """The post's own house: its first house-level mention."""
        return self.houses[0] if self.houses else None


KIND_RANK = {"house": 0, "landmark": 1, "street": 2, "district": 3, "settlement": 4, "region": 5}
"""Location kinds from the most specific."""


def more_specific(new: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """Whether location ``new`` names a more specific kind of place than ``old`` (any location beats None)."""
    return old is None or KIND_RANK.get(new.get("kind"), 9) < KIND_RANK.get(old.get("kind"), 9)


@lru_cache(maxsize=65536)
def street_key(name: str) -> str:
    """The key grouping compares streets by: the lookup key of the last word of the name («Карла Маркса»,
    «ул. К. Маркса» and «Маркса» → «маркс»; «проспект Победы» and «Победы» → «победа»)."""
    _, keys = registry_street_keys(name)
    if not keys:
        return name.strip().lower().replace("ё", "е")
    last = keys[0].split()[-1]
    if last != keys[0]:
        return street_key(last)
    return keys[-1]


def _fold(text: str) -> str:
    return text.strip().lower().replace("ё", "е")


def house_of(parts: dict[str, str]) -> House | None:
    """The house of a location's ``parts`` (street + house, corpus/building) or a numbered landmark."""
    if parts.get("house") and parts.get("street"):
        number, _, after_slash = _fold(parts["house"]).replace(" ", "").partition("/")
        part = parts.get("corpus") or parts.get("building") or after_slash
        return House(street_key(parts["street"]), number, _fold(part or ""))
    if parts.get("type") and parts.get("name"):
        return House(_fold(parts["type"]), _fold(parts["name"]))
    return None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def place_of(record: dict[str, Any]) -> Place:
    """The place of a prediction record: its ``locations`` (from ``cur-nlp predict``), ``lat``/``lon`` and town
    fields (:data:`AREA_FIELDS`)."""
    houses: list[House] = []
    streets: list[str] = []
    point = None
    best: dict[str, Any] | None = None
    locations = record.get("locations")
    for location in locations if isinstance(locations, list) else ():
        if not isinstance(location, dict) or not isinstance(location.get("parts") or {}, dict):
            continue
        parts = {k: str(v) for k, v in (location.get("parts") or {}).items() if v not in (None, "")}
        house = house_of(parts)
        if house is not None and location.get("kind") in ("house", "landmark"):
            houses.append(house)
        if location.get("kind") in ("house", "street") and (parts.get("street") or location.get("normal")):
            streets.append(street_key(parts.get("street") or location["normal"]))
        if point is None and location.get("level") == "house":
            lat, lon = _float(location.get("lat")), _float(location.get("lon"))
            point = (lat, lon) if lat is not None and lon is not None else None
        if more_specific(location, best):
            best = location
    lat, lon = _float(record.get("lat")), _float(record.get("lon"))
    if lat is not None and lon is not None:
        point = (lat, lon)
    if not houses and isinstance(record.get("text"), str):
        house = leading_house(record["text"])
        if house is not None:
            houses, streets = [house], [*streets, house.street]
    area = next((str(record[f]) for f in AREA_FIELDS if record.get(f)), "")
    if not area and best is not None:
        area = best.get("municipality") or ""
    return Place(tuple(houses), tuple(dict.fromkeys(streets)), point, _fold(area), best, record_place(record, best))


def scan_houses(text: str, streets: Iterable[str]) -> tuple[House, ...]:
    """Houses on known ``streets`` written as a bare reply would write them («ленина 17 до сих пор…», «33/1 на
    Просвещения», «Гагарина д 12 к2»): a fallback for posts in which place extraction found no house."""
    known = set(streets)
    if not known:
        return ()
    tokens = re.findall(r"\w+(?:/\w+)?", text.lower().replace("ё", "е"))
    found: list[House] = []
    for i, token in enumerate(tokens):
        if len(token) < 3 or token[0].isdigit() or street_key(token) not in known:
            continue
        after = [t for t in tokens[i + 1 : i + 4] if t not in _HOUSE_WORDS]
        before = [t for t in tokens[max(0, i - 4) : i] if t not in _HOUSE_WORDS and t != "на"][-3:]
        start = next((j for j, t in enumerate(before) if _HOUSE.match(t)), None)
        house = _house_tokens(token, after) or (_house_tokens(token, before[start:]) if start is not None else None)
        if house is not None:
            found.append(house)
    return tuple(dict.fromkeys(found))


def _house_tokens(street: str, tokens: Sequence[str]) -> House | None:
    """A house number at the start of ``tokens`` («5», «33к2», «33 корпус 2», «33/1»), or None."""
    match = _HOUSE.match(tokens[0]) if tokens else None
    if match is None:
        return None
    part = match.group(2) or ""
    if not part and len(tokens) >= 2:
        glued = _CORPUS.match(tokens[1])
        if glued is not None:
            part = glued.group(1)
        elif len(tokens) >= 3 and tokens[1] in _CORPUS_WORDS and tokens[2].isdigit():
            part = tokens[2]
    return House(street_key(street), match.group(1), part)


def leading_house(text: str) -> House | None:
    """The address a reply starts with, «Победы 30 подтверждаю», «Мира, 30 — собаки», «на ленина 5 тоже»: a name
    and a house number that no unit follows («Уже 3 дня» is not an address). Place extraction leaves these out
    because the name is also a common word («победа», «мир»)."""
    tokens = re.findall(r"\w+(?:/\w+)?", _MENTION.sub(" ", text[:80]).lower().replace("ё", "е"))[:5]
    if tokens and tokens[0] in ("на", "у", "по"):
        tokens = tokens[1:]
    if (len(tokens) < 2 or len(tokens[0]) < 3 or not tokens[0].isalpha() or tokens[0] in _HOUSE_WORDS
            or (len(tokens) > 2 and tokens[2] in _UNITS)):
        return None
    if parses(tokens[0]) and str(parses(tokens[0])[0].tag.POS) in _NOT_NAMES:
        return None
    return _house_tokens(tokens[0], tokens[1:])


def with_scanned_houses(place: Place, text: str, streets: Iterable[str]) -> Place:
    """``place`` with the houses :func:`scan_houses` finds when extraction found none."""
    if place.houses:
        return place
    houses = scan_houses(text, streets)
    if not houses:
        return place
    return replace(place, houses=houses, streets=tuple(dict.fromkeys((*place.streets, houses[0].street))))


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres between two (lat, lon) points."""
    return haversine_m(a[0], a[1], b[0], b[1])
