"""Settlement-level accuracy on the project's own complaint sentences."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from cur_nlp_training.geo_eval_common import SETTLEMENTS_GOLD


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
