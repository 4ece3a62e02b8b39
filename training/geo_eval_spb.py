"""St Petersburg portal evaluation: a street/house gazetteer built from Oct 2020 - Feb 2021, then house and district
accuracy on March 2021."""

from __future__ import annotations

import csv
import gzip
import json
import re
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable

from cur_nlp_training.geo_eval_common import DEFAULT_SPB_GAZETTEER, SPB, require_data

_SPB_SETTLEMENT = re.compile(r"^(?:г\.\s*|город\s+|посёлок\s+|поселок\s+)(?P<name>.+)$")


def parse_spb_address(full: str) -> dict[str, str] | None:
    """Split a portal address «г.Санкт-Петербург, Мебельная улица, дом 47, корпус 1, литера А».

    Returns {"settlement", "street", "house", "corpus"?, "building"?, "litera"?} or None when the
    address has no street + house.
    """
    comps = [c.strip() for c in full.split(",") if c.strip()]
    out: dict[str, str] = {}
    house_at = None
    for k, c in enumerate(comps):
        m = re.match(r"^(дом|корпус|строение|литера)\s+(.+)$", c)
        if m:
            key = {"дом": "house", "корпус": "corpus", "строение": "building", "литера": "litera"}[m.group(1)]
            out[key] = m.group(2).strip()
            if key == "house" and house_at is None:
                house_at = k
    if house_at is None or house_at == 0:
        return None
    out["street"] = comps[house_at - 1]
    m = _SPB_SETTLEMENT.match(comps[0])
    out["settlement"] = m.group("name").strip() if m else "Санкт-Петербург"
    return out


def _spb_rows(path: Path = SPB) -> Iterable[dict[str, Any]]:
    require_data(path)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def build_spb_gazetteer(out: Path = DEFAULT_SPB_GAZETTEER, path: Path = SPB,
                        months: tuple[str, str] = ("2020-10", "2021-02")) -> dict[str, Any]:
    """Street/house/district gazetteer of St Petersburg from the portal rows with ``full_address``.

    Only rows created in ``months`` (inclusive, "YYYY-MM") are used, so March 2021 stays unseen.
    Writes a CSV in the :class:`cur_nlp.geo.TableGazetteer` format: one row per house (median of the
    portal points), one per (street, district) (median point, weight = number of records) and one
    per district.
    """
    from cur_nlp.geo.address import house_key

    houses: dict[tuple[str, str, str], list[tuple[float, float, str]]] = defaultdict(list)
    streets: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    districts: dict[str, list[tuple[float, float]]] = defaultdict(list)
    n_rows = 0
    for r in _spb_rows(path):
        month = r.get("created", "")[:7]
        if not (months[0] <= month <= months[1]) or not r.get("full_address") or not r.get("lat"):
            continue
        a = parse_spb_address(r["full_address"])
        if a is None:
            continue
        lat, lon = float(r["lat"]), float(r["lon"])
        district = f"{r['district']} район" if r.get("district") else ""
        hk = house_key(a["house"], a.get("corpus"), a.get("building"))
        houses[(a["settlement"], a["street"], hk)].append((lat, lon, district))
        streets[(a["settlement"], a["street"], district)].append((lat, lon))
        if district:
            districts[district].append((lat, lon))
        n_rows += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    cols = ["name", "kind", "lat", "lon", "municipality", "region", "settlement", "weight", "house"]
    with open(out, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for (settlement, street, hk), pts in sorted(houses.items()):
            w.writerow({"name": street, "kind": "house", "lat": round(statistics.median(p[0] for p in pts), 7),
                        "lon": round(statistics.median(p[1] for p in pts), 7),
                        "municipality": Counter(p[2] for p in pts).most_common(1)[0][0],
                        "region": "Санкт-Петербург", "settlement": settlement, "weight": len(pts), "house": hk})
        for (settlement, street, district), pts in sorted(streets.items()):
            w.writerow({"name": street, "kind": "street", "lat": round(statistics.median(p[0] for p in pts), 7),
                        "lon": round(statistics.median(p[1] for p in pts), 7), "municipality": district,
                        "region": "Санкт-Петербург", "settlement": settlement, "weight": len(pts), "house": ""})
        for district, pts in sorted(districts.items()):
            w.writerow({"name": district, "kind": "district",
                        "lat": round(statistics.median(p[0] for p in pts), 7),
                        "lon": round(statistics.median(p[1] for p in pts), 7), "municipality": district,
                        "region": "Санкт-Петербург", "settlement": "Санкт-Петербург", "weight": len(pts),
                        "house": ""})
    return {"task": "build-spb-gazetteer", "out": str(out), "rows_used": n_rows, "houses": len(houses),
            "streets": len(streets), "districts": len(districts), "months": list(months)}


_TYPE_WORDS = {"улица", "проспект", "переулок", "бульвар", "шоссе", "набережная", "площадь", "проезд",
               "аллея", "линия", "тупик", "дорога", "канала", "реки", "острова", "сад", "парк", "территория"}


def text_names_street(text: str, street: str) -> bool:
    """Does ``text`` mention the street (a 5-letter stem of one of its name words starts a word)?"""
    low = text.lower().replace("ё", "е")
    for w in re.findall(r"[А-Яа-яЁё]+", street.replace("ё", "е")):
        wl = w.lower()
        if wl in _TYPE_WORDS or len(wl) < 4:
            continue
        stem = wl[: max(4, min(5, len(wl) - 1))]
        if re.search(r"(?<![а-я])" + re.escape(stem), low):
            return True
    return False


def text_names_house(text: str, house: str) -> bool:
    """Does ``text`` contain the house number as a number of its own («47», «47к1», «47/2»)?"""
    num = re.match(r"\d+", house)
    if not num:
        return False
    return re.search(r"(?<![\d.,:/-])" + num.group() + r"(?![\d.:,]\d)(?!\d)", text) is not None


def eval_spb(gazetteer: Path = DEFAULT_SPB_GAZETTEER, path: Path = SPB, month: str = "2021-03",
             max_dist_m: float = 300.0, show_errors: int = 0, show_district_errors: bool = False
             ) -> dict[str, Any]:
    """March 2021: house-level geocoding within ``max_dist_m`` and district assignment.

    Gold sets are chosen from the portal fields, not from our extractor: «names street+house»
    = rows with ``full_address`` whose text mentions that street (word stem) and its house number;
    «names a street» = rows whose text mentions the street of ``full_address``.
    """
    from cur_nlp.geo import GeonamesGazetteer, Locator, TableGazetteer
    from cur_nlp.geo.gazetteer import haversine_m

    if not gazetteer.exists():
        build_spb_gazetteer(gazetteer, path)
    table = TableGazetteer.from_file(gazetteer)
    locator = Locator([table, GeonamesGazetteer.shared()], default_region="Санкт-Петербург",
                      default_city="Санкт-Петербург")
    house_n = house_ok = street_n = district_ok = 0
    house_found = street_found = house_level_ok = 0
    dists: list[float] = []
    errors: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    n_posts = 0
    for r in _spb_rows(path):
        if not r.get("created", "").startswith(month) or not r.get("full_address") or not r.get("lat"):
            continue
        a = parse_spb_address(r["full_address"])
        if a is None or not text_names_street(r["text"], a["street"]):
            continue
        n_posts += 1
        locs = locator(r["text"])
        precise = [l for l in locs if l.level in ("house", "street")]
        street_n += 1
        gold_d = f"{r['district']} район"
        d_ok = bool(precise) and precise[0].municipality == gold_d
        if precise:
            street_found += 1
            district_ok += d_ok
        if not d_ok and len(errors) < show_errors and show_district_errors:
            errors.append({"kind": "district", "text": r["text"][:300], "full_address": r["full_address"],
                           "district": gold_d, "locations": [l.to_dict() for l in locs]})
        if text_names_house(r["text"], a["house"]):
            house_n += 1
            houses = [l for l in locs if l.level == "house"]
            best = houses or precise  # the most specific point we give for the post
            ok = False
            if houses:
                house_found += 1
            if best:
                d = haversine_m(best[0].lat, best[0].lon, float(r["lat"]), float(r["lon"]))
                dists.append(d)
                ok = d <= max_dist_m
                house_level_ok += ok and bool(houses)
            house_ok += ok
            if not ok and len(errors) < show_errors and not show_district_errors:
                errors.append({"kind": "house", "text": r["text"][:300], "full_address": r["full_address"],
                               "locations": [l.to_dict() for l in locs]})
    ms = (time.perf_counter() - t0) * 1000 / max(1, n_posts)
    res = {
        "task": "spb", "month": month, "gazetteer": str(gazetteer), "gazetteer_rows": table.size,
        "house": {"posts": house_n, "within_m": max_dist_m, "ok": house_ok,
                  "share": round(house_ok / house_n, 4) if house_n else 0.0,
                  "share_house_level_only": round(house_level_ok / house_n, 4) if house_n else 0.0,
                  "geocoded_at_house_level": house_found,
                  "median_error_m": round(statistics.median(dists), 1) if dists else None},
        "district": {"posts": street_n, "ok": district_ok,
                     "share": round(district_ok / street_n, 4) if street_n else 0.0,
                     "resolved_to_street_or_house": street_found},
        "ms_per_post": round(ms, 2),
    }
    if errors:
        res["errors"] = errors
    return res
