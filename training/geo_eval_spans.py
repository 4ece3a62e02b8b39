"""Span-detection evaluations: street spans of the Almaty complaints and Location/LocOrg of factRuEval-2016."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from cur_nlp_training.geo_eval_common import ALMATY, FACTRU, Span, match_spans, overlap, prf, require_data


def load_almaty(path: Path = ALMATY) -> list[dict[str, Any]]:
    """Rows of the Almaty complaint set: {"text", "entities": [[start, end, type, text], ...]}."""
    require_data(path)
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


def load_factru(folder: Path = FACTRU, types: tuple[str, ...] = ("Location", "LocOrg")
                ) -> list[tuple[str, list[Span]]]:
    """(text, gold spans) per devset document; an object's span runs from its first to last span."""
    require_data(folder)
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
