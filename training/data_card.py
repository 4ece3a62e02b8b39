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


PROVENANCE = {
    "spb": "topic and urgency weak (portal `reason` → `training/mappings/spb_reason.csv`); urgency read for the gold posts",
    "kursk": "topic and urgency weak (`Тематика` → `training/mappings/kursk_topic.csv`); urgency read for the gold posts",
    "ru22fact": "fake read by fact-checkers (RU22Fact verdicts)",
    "social": "written by the team with its labels: topic, urgency, relevant, kind (`training/data/social/README.md`)",
}
"""Where each source's labels come from: weak (implied by a source category), read (a person judged the text) or
written (the text was written for its label)."""


def data_card(splits: dict[str, DatasetDict]) -> str:
    """Markdown tables of rows, topic, urgency and fake counts for every source and split, and the labels' provenance."""
    lines = ["# Data card", "", "| source | labels |", "|---|---|"]
    lines += [f"| {source} | {PROVENANCE.get(source, 'as the source gives them')} |" for source in splits]
    lines += ["", "| source | split | rows | period | topic | urgency | fake |", "|---|---|---|---|---|---|---|"]
    for source, parts in splits.items():
        for split, ds in parts.items():
            created = [c for c in ds["created"] if c]
            period = f"{min(created)[:10]} – {max(created)[:10]}" if created else "—"
            lines.append(
                f"| {source} | {split} | {len(ds)} | {period} | {_counts(ds['topic'], topic_ids())} | "
                f"{_counts(ds['urgency'], list(URGENCY_LEVELS))} | {_counts(ds['fake'], [True, False])} |"
            )
    return "\n".join(lines) + "\n"


def gold_card(gold: dict[str, str], splits: dict[str, DatasetDict] | None = None) -> str:
    """Markdown summary of the urgency gold set: counts per level and source, and per split when ``splits`` are
    given (training reads the train and dev posts; the test posts are only evaluated)."""
    split_of = {i: split for parts in (splits or {}).values() for split, ds in parts.items() for i in ds["id"]}
    columns = sorted({(i.split(":")[0], split_of.get(i, "?")) for i in gold})
    counts = Counter((i.split(":")[0], split_of.get(i, "?"), level) for i, level in gold.items())
    lines = ["", "## Urgency gold set", "", f"{len(gold)} posts labelled by reading (`training/gold/urgency_gold.csv`).", "",
             "| level | " + " | ".join(f"{s} {p}" for s, p in columns) + " | total |", "|---|" + "---|" * (len(columns) + 1)]
    for level in URGENCY_LEVELS:
        row = [counts[(s, p, level)] for s, p in columns]
        lines.append(f"| {level} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    return "\n".join(lines) + "\n"
