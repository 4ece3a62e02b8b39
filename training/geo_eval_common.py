"""Shared pieces of the geo evaluations: where the corpora are, and one-to-one span matching with P/R/F1."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
"""``../shared/data`` next to the repository."""
ALMATY = SHARED_DATA / "almaty_address_ner_dev.jsonl"
FACTRU = SHARED_DATA / "factRuEval-2016" / "devset"
SPB = SHARED_DATA / "spb_nash_gorod_2020-10_2021-03.jsonl.gz"
SETTLEMENTS_GOLD = Path(__file__).resolve().parent / "geo" / "settlements_gold.jsonl"
DEFAULT_SPB_GAZETTEER = REPO / "artifacts" / "spb_streets.csv"

Span = tuple[int, int]


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


def require_data(path: Path) -> None:
    """Stop with a clear message when a corpus is missing."""
    if not path.exists():
        raise SystemExit(f"missing data: {path} (the shared data folder ../shared/data is needed)")
