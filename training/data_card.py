"""A data card: rows and label counts per source and split, as Markdown."""

from __future__ import annotations

from collections import Counter

from datasets import DatasetDict

from cur_nlp.labels import URGENCY_LEVELS, topic_ids


def _counts(values: list, order: list) -> str:
    counts = Counter(values)
    parts = [f"{k}: {counts[k]}" for k in order if counts.get(k)]
    missing = sum(v for k, v in counts.items() if k is None)
    if missing:
        parts.append(f"(none): {missing}")
    return ", ".join(parts) or "—"


def data_card(splits: dict[str, DatasetDict]) -> str:
    """Markdown tables of rows, topic, urgency and fake counts for every source and split."""
    lines = ["# Data card", "", "| source | split | rows | period | topic | urgency (weak) | fake |", "|---|---|---|---|---|---|---|"]
    for source, parts in splits.items():
        for split, ds in parts.items():
            created = [c for c in ds["created"] if c]
            period = f"{min(created)[:10]} – {max(created)[:10]}" if created else "—"
            lines.append(
                f"| {source} | {split} | {len(ds)} | {period} | {_counts(ds['topic'], topic_ids())} | "
                f"{_counts(ds['urgency'], list(URGENCY_LEVELS))} | {_counts(ds['fake'], [True, False])} |"
            )
    return "\n".join(lines) + "\n"


def gold_card(gold: dict[str, str]) -> str:
    """Markdown summary of the urgency gold set: counts per level and source."""
    from collections import Counter

    counts = Counter((i.split(":")[0], level) for i, level in gold.items())
    sources = sorted({s for s, _ in counts})
    lines = ["", "## Urgency gold set", "", f"{len(gold)} posts labelled by reading (`training/gold/urgency_gold.csv`).", "",
             "| level | " + " | ".join(sources) + " | total |", "|---|" + "---|" * (len(sources) + 1)]
    for level in URGENCY_LEVELS:
        row = [counts[(s, level)] for s in sources]
        lines.append(f"| {level} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    return "\n".join(lines) + "\n"
