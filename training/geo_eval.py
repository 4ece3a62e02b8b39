"""Evaluation of cur_nlp.geo on the shared corpora (not part of the runtime library).

Usage::

    python -m cur_nlp_training.geo_eval almaty              # street spans, overlap match, + natasha baseline
    python -m cur_nlp_training.geo_eval factru              # factRuEval-2016 devset Location/LocOrg
    python -m cur_nlp_training.geo_eval build-spb-gazetteer --out artifacts/spb_streets.csv
    python -m cur_nlp_training.geo_eval spb                 # March 2021: house within 300 m, district correct
    python -m cur_nlp_training.geo_eval settlements         # training/geo/settlements_gold.jsonl
    python -m cur_nlp_training.geo_eval all                 # everything above, JSON summary

Every task prints a JSON object with its numbers; ``--json PATH`` also writes it to a file.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from cur_nlp_training.geo_eval_common import (
    ALMATY, DEFAULT_SPB_GAZETTEER, FACTRU, SETTLEMENTS_GOLD, SHARED_DATA, SPB, Span, match_spans, overlap, prf,
)
from cur_nlp_training.geo_eval_settlements import eval_settlements
from cur_nlp_training.geo_eval_spans import eval_almaty, eval_factru, load_almaty, load_factru
from cur_nlp_training.geo_eval_spb import (
    build_spb_gazetteer, eval_spb, parse_spb_address, text_names_house, text_names_street,
)

__all__ = [
    "ALMATY", "DEFAULT_SPB_GAZETTEER", "FACTRU", "SETTLEMENTS_GOLD", "SHARED_DATA", "SPB", "Span",
    "build_spb_gazetteer", "eval_almaty", "eval_factru", "eval_settlements", "eval_spb", "load_almaty", "load_factru",
    "main", "match_spans", "overlap", "parse_spb_address", "prf", "run_all", "text_names_house", "text_names_street",
]


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
    parser = argparse.ArgumentParser(prog="python -m cur_nlp_training.geo_eval", description=__doc__,
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
