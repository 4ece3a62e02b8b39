"""The silver check of incident grouping on the SPb portal posts of March 2021: posts at the same address (the
portal's address, or its coordinates when the address is missing) with the same reason (125 portal reasons) and no
more than 3 days from the previous such post are one silver incident.

Grouping sees what a portal integration would send: the text, the time, the portal's coordinates and municipal
district, and the model's topic and urgency (no reason, no address string).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from cur_nlp.incidents import GroupingSettings
from cur_nlp_training.geo_eval_common import SPB, require_data
from cur_nlp_training.incidents_metrics import clustering

SILVER_DAYS = 3


def spb_records(path: Path = SPB, month: str = "2021-03") -> list[dict[str, Any]]:
    """The month's portal posts as prediction inputs, in time order (``reason`` and ``address`` kept for the
    silver labels)."""
    require_data(path)
    records = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if not row["created"].startswith(month) or not row["text"].strip():
                continue
            records.append({"id": str(row["id"]), "text": row["text"], "created": row["created"],
                            "lat": float(row["lat"]), "lon": float(row["lon"]), "municipality": row["municipality"],
                            "reason": row["reason"], "address": row.get("full_address") or
                            f"{float(row['lat']):.5f},{float(row['lon']):.5f}"})
    return sorted(records, key=lambda r: (r["created"], r["id"]))


def silver_incidents(records: list[dict[str, Any]], days: int = SILVER_DAYS) -> dict[str, str]:
    """Post id → silver incident id: same address and reason, chained while each post is within ``days`` of the
    previous one."""
    from cur_nlp.incidents.post import parse_time

    last: dict[tuple[str, str], tuple[Any, str]] = {}
    silver = {}
    for record in records:  # in time order
        key, when = (record["address"], record["reason"]), parse_time(record["created"])
        previous = last.get(key)
        incident = previous[1] if previous and when - previous[0] <= timedelta(days=days) else record["id"]
        last[key] = (when, incident)
        silver[record["id"]] = incident
    return silver


def evaluate_silver(settings: GroupingSettings, model: Path | None = None, path: Path = SPB,
                    log: Callable[[str], None] = print) -> dict[str, Any]:
    """Pair-counting P/R/F1 and purity of the grouping (with ``settings``) against the silver incidents, beside
    the same grouping by place and time alone (every post at a place joins its open incident)."""
    from cur_nlp.classifier import ComplaintClassifier
    from cur_nlp_training.incidents_eval import posts_of, run

    records = spb_records(path)
    log(f"classifying {len(records)} SPb posts of March 2021")
    classifier = ComplaintClassifier.from_pretrained(model, registry=None)
    predictions = classifier.predict([r["text"] for r in records])
    inputs = [{k: v for k, v in {**r, **p.to_dict()}.items() if k not in ("reason", "address")}
              for r, p in zip(records, predictions)]
    silver = silver_incidents(records)
    posts = posts_of(inputs)
    place_and_time = replace(settings, house_threshold=0.0, topic_weight=0.0)
    result = {"posts": len(records), "silver_incidents": len(set(silver.values())), "settings": asdict(settings)}
    for name, chosen in (("grouping", settings), ("place_and_time_only", place_and_time)):
        result[name] = clustering(run(posts, chosen), silver)
        log(f"silver, {name}: {result[name]}")
    return result
