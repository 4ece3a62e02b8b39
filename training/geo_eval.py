"""Evaluation of cur_nlp.geo on the shared corpora (not part of the runtime library).

Usage::

    python -m training.geo_eval almaty              # street spans, overlap match, + natasha baseline
    python -m training.geo_eval factru              # factRuEval-2016 devset Location/LocOrg
    python -m training.geo_eval build-spb-gazetteer --out artifacts/spb_streets.csv
    python -m training.geo_eval spb                 # March 2021: house within 300 m, district correct
    python -m training.geo_eval settlements         # training/geo/settlements_gold.jsonl
    python -m training.geo_eval all                 # everything above, JSON summary

Every task prints a JSON object with its numbers; ``--json PATH`` also writes it to a file.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import statistics
import sys
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
"""``../shared/data`` next to the repository."""
ALMATY = SHARED_DATA / "almaty_address_ner_dev.jsonl"
FACTRU = SHARED_DATA / "factRuEval-2016" / "devset"
SPB = SHARED_DATA / "spb_nash_gorod_2020-10_2021-03.jsonl.gz"
SETTLEMENTS_GOLD = Path(__file__).resolve().parent / "geo" / "settlements_gold.jsonl"
DEFAULT_SPB_GAZETTEER = REPO / "artifacts" / "spb_streets.csv"

Span = tuple[int, int]


# ----------------------------------------------------------------------------- span matching

def overlap(a: Span, b: Span) -> bool:
    """Do two half-open character spans share at least one character?"""
    return a[0] < b[1] and b[0] < a[1]


def match_spans(gold: list[Span], pred: list[Span], ignore: list[Span] = ()) -> tuple[int, int, int]:
    """One-to-one overlap matching. Returns (true positives, #pred, #gold).

    Predictions lying entirely inside an ``ignore`` span are dropped before matching (used for
    the Almaty «OTDO» spans, whose inner streets are not labelled as Street).
    """
    pred = [p for p in pred if not any(i[0] <= p[0] and p[1] <= i[1] for i in ignore)]
    used: set[int] = set()
    tp = 0
    for g in sorted(gold):
        best = None
        for k, p in enumerate(pred):
            if k in used or not overlap(g, p):
                continue
            inter = min(g[1], p[1]) - max(g[0], p[0])
            if best is None or inter > best[0]:
                best = (inter, k)
        if best is not None:
            used.add(best[1])
            tp += 1
    return tp, len(pred), len(gold)


def prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    """Precision, recall and F1 from counts."""
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "pred": n_pred,
            "gold": n_gold}


def _require(path: Path) -> None:
    if not path.exists():
        raise SystemExit(f"missing data: {path} (the shared data folder ../shared/data is needed)")


# ----------------------------------------------------------------------------- Almaty streets

def load_almaty(path: Path = ALMATY) -> list[dict[str, Any]]:
    """Rows of the Almaty complaint set: {"text", "entities": [[start, end, type, text], ...]}."""
    _require(path)
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _street_spans_ours(text: str, extractor: Any) -> list[Span]:
    return [(m.start, m.end) for m in extractor.mentions(text) if m.kind in ("street", "house")
            and "street" in m.parts]


def _natasha_addr() -> Callable[[str], list[Span]]:
    from natasha import AddrExtractor

    from cur_nlp.geo.morph import morph

    addr = AddrExtractor(morph())
    street_types = {"улица", "проспект", "переулок", "площадь", "шоссе", "бульвар", "набережная", "проезд",
                    "микрорайон", "тупик", "аллея", "линия", "квартал", "тракт"}

    def spans(text: str) -> list[Span]:
        return [(m.start, m.stop) for m in addr(text) if getattr(m.fact, "type", None) in street_types]

    return spans


def eval_almaty(path: Path = ALMATY, baseline: bool = True, show_errors: int = 0) -> dict[str, Any]:
    """Street span detection on the Almaty complaints: overlap P/R/F1 (all / even rows / odd rows).

    The rules were developed looking at the even-indexed rows (the «tune» half); the odd rows are
    the held-out half.
    """
    from cur_nlp.geo.extract import Extractor

    rows = load_almaty(path)
    ex = Extractor()
    systems: dict[str, Callable[[str], list[Span]]] = {"cur_nlp": lambda t: _street_spans_ours(t, ex)}
    if baseline:
        systems["natasha_addr"] = _natasha_addr()
    result: dict[str, Any] = {"task": "almaty", "rows": len(rows), "data": str(path)}
    for name, fn in systems.items():
        counts = {"all": [0, 0, 0], "tune_even": [0, 0, 0], "heldout_odd": [0, 0, 0]}
        errors = []
        t0 = time.perf_counter()
        for k, row in enumerate(rows):
            text = row["text"]
            gold = [(e[0], e[1]) for e in row["entities"] if e[2] == "Street"]
            ignore = [(e[0], e[1]) for e in row["entities"] if e[2] == "OTDO"]
            pred = fn(text)
            tp, npred, ngold = match_spans(gold, pred, ignore)
            for key in ("all", "tune_even" if k % 2 == 0 else "heldout_odd"):
                c = counts[key]
                c[0] += tp
                c[1] += npred
                c[2] += ngold
            if name == "cur_nlp" and (tp < npred or tp < ngold) and len(errors) < show_errors:
                errors.append({"text": text, "gold": [text[a:b] for a, b in gold],
                               "pred": [text[a:b] for a, b in pred]})
        ms = (time.perf_counter() - t0) * 1000 / max(1, len(rows))
        result[name] = {key: prf(*c) for key, c in counts.items()}
        result[name]["ms_per_post"] = round(ms, 2)
        if errors:
            result[name]["errors"] = errors
    return result


# ----------------------------------------------------------------------------- factRuEval-2016

def load_factru(folder: Path = FACTRU, types: tuple[str, ...] = ("Location", "LocOrg")
                ) -> list[tuple[str, list[Span]]]:
    """(text, gold spans) per devset document; an object's span runs from its first to last span."""
    _require(folder)
    docs = []
    for txt in sorted(folder.glob("*.txt")):
        text = txt.read_text(encoding="utf-8")
        spans: dict[str, Span] = {}
        for line in txt.with_suffix(".spans").read_text(encoding="utf-8").splitlines():
            f = line.split("#")[0].split()
            if len(f) >= 4:
                spans[f[0]] = (int(f[2]), int(f[2]) + int(f[3]))
        gold = []
        for line in txt.with_suffix(".objects").read_text(encoding="utf-8").splitlines():
            f = line.split("#")[0].split()
            if len(f) >= 3 and f[1] in types:
                parts = [spans[i] for i in f[2:] if i in spans]
                if parts:
                    gold.append((min(p[0] for p in parts), max(p[1] for p in parts)))
        docs.append((text, sorted(set(gold))))
    return docs


def eval_factru(folder: Path = FACTRU, show_errors: int = 0) -> dict[str, Any]:
    """Location + LocOrg detection on the factRuEval-2016 devset (one-to-one overlap match).

    ``cur_nlp`` = every place our extractor returns; ``natasha_loc`` = raw Natasha NER LOC spans.
    """
    from cur_nlp.geo.extract import Extractor, ner_spans

    docs = load_factru(folder)
    ex = Extractor()
    systems: dict[str, Callable[[str], list[Span]]] = {
        "cur_nlp": lambda t: [(m.start, m.end) for m in ex.mentions(t)],
        "natasha_loc": lambda t: [(a, b) for a, b, typ in ner_spans(t) if typ == "LOC"],
    }
    res: dict[str, Any] = {"task": "factru", "documents": len(docs), "data": str(folder),
                           "gold_types": ["Location", "LocOrg"]}
    for name, fn in systems.items():
        tp = npred = ngold = 0
        errors = []
        t0 = time.perf_counter()
        for text, gold in docs:
            pred = fn(text)
            a, b, c = match_spans(gold, pred)
            tp, npred, ngold = tp + a, npred + b, ngold + c
            if name == "cur_nlp" and len(errors) < show_errors:
                fp = [text[p[0]:p[1]] for p in pred if not any(overlap(p, g) for g in gold)]
                fn_ = [text[g[0]:g[1]] for g in gold if not any(overlap(p, g) for p in pred)]
                if fp or fn_:
                    errors.append({"false_pos": fp, "missed": fn_})
        res[name] = prf(tp, npred, ngold)
        res[name]["ms_per_doc"] = round((time.perf_counter() - t0) * 1000 / max(1, len(docs)), 2)
        if errors:
            res[name]["errors"] = errors
    return res


# ----------------------------------------------------------------------------- St Petersburg

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
    _require(path)
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


# ----------------------------------------------------------------------------- settlements

def eval_settlements(path: Path = SETTLEMENTS_GOLD, show_errors: int = 0) -> dict[str, Any]:
    """Settlement-level accuracy on our own complaint sentences (``training/geo/settlements_gold.jsonl``).

    The post's settlement is the settlement-level place named most often (first on ties); it is
    right when its name (ё = е) and region match the gold. ``Locator.default()``, no default region.
    """
    from cur_nlp.geo import Locator

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    locator = Locator.default()
    by_batch: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    errors = []
    for r in rows:
        locs = [l for l in locator(r["text"]) if l.level == "settlement" and l.kind == "settlement"]
        names = Counter(l.normal.replace("ё", "е") for l in locs)
        pred = None
        if locs:
            best = max(names.values())
            pred = next(l for l in locs if names[l.normal.replace("ё", "е")] == best)
        ok = pred is not None and pred.normal.replace("ё", "е") == r["settlement"].replace("ё", "е") \
            and pred.region == r["region"]
        for key in ("all", f"batch_{r.get('batch', 1)}"):
            by_batch[key][0] += ok
            by_batch[key][1] += 1
        if not ok and len(errors) < show_errors:
            errors.append({"text": r["text"], "gold": [r["settlement"], r["region"]],
                           "pred": [pred.normal, pred.region] if pred else None})
    res: dict[str, Any] = {"task": "settlements", "data": str(path)}
    for key, (ok, n) in sorted(by_batch.items()):
        res[key] = {"correct": ok, "total": n, "accuracy": round(ok / n, 4) if n else 0.0}
    if errors:
        res["errors"] = errors
    return res


def run_all() -> dict[str, Any]:
    """Every task with its default data (the SPb gazetteer is rebuilt into artifacts/)."""
    out = {
        "almaty": eval_almaty(),
        "factru": eval_factru(),
        "build_spb_gazetteer": build_spb_gazetteer(),
        "spb": eval_spb(),
        "settlements": eval_settlements(),
    }
    return out


# ----------------------------------------------------------------------------- CLI

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.geo_eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="task", required=True)
    a = sub.add_parser("almaty", help="street span detection on the Almaty complaints")
    a.add_argument("--path", type=Path, default=ALMATY)
    a.add_argument("--no-baseline", action="store_true")
    a.add_argument("--errors", type=int, default=0, help="print up to N rows with errors")
    fr = sub.add_parser("factru", help="factRuEval-2016 devset Location/LocOrg")
    fr.add_argument("--path", type=Path, default=FACTRU)
    fr.add_argument("--errors", type=int, default=0)
    st = sub.add_parser("settlements", help="settlement accuracy on training/geo/settlements_gold.jsonl")
    st.add_argument("--path", type=Path, default=SETTLEMENTS_GOLD)
    st.add_argument("--errors", type=int, default=0)
    sub.add_parser("all", help="all tasks with default data")
    b = sub.add_parser("build-spb-gazetteer", help="SPb street/house gazetteer from Oct 2020 - Feb 2021")
    b.add_argument("--out", type=Path, default=DEFAULT_SPB_GAZETTEER)
    b.add_argument("--path", type=Path, default=SPB)
    sp = sub.add_parser("spb", help="SPb March 2021: house within 300 m, district correct")
    sp.add_argument("--gazetteer", type=Path, default=DEFAULT_SPB_GAZETTEER)
    sp.add_argument("--path", type=Path, default=SPB)
    sp.add_argument("--errors", type=int, default=0)
    sp.add_argument("--district-errors", action="store_true", help="list district errors instead of house ones")
    sp.add_argument("--month", default="2021-03", help="evaluation month (use 2021-02 with a gazetteer "
                    "built from 2020-10..2021-01 for development)")
    b.add_argument("--months", nargs=2, default=("2020-10", "2021-02"), metavar=("FROM", "TO"))
    for p in sub.choices.values():
        p.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    if args.task == "almaty":
        res = eval_almaty(args.path, baseline=not args.no_baseline, show_errors=args.errors)
    elif args.task == "settlements":
        res = eval_settlements(args.path, show_errors=args.errors)
    elif args.task == "all":
        res = run_all()
    elif args.task == "factru":
        res = eval_factru(args.path, show_errors=args.errors)
    elif args.task == "build-spb-gazetteer":
        res = build_spb_gazetteer(args.out, args.path, months=tuple(args.months))
    elif args.task == "spb":
        res = eval_spb(args.gazetteer, args.path, month=args.month, show_errors=args.errors,
                       show_district_errors=args.district_errors)
    else:  # pragma: no cover
        parser.error(f"unknown task {args.task}")
    text = json.dumps(res, ensure_ascii=False, indent=1)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
