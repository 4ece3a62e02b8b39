"""Several models and the TF-IDF baseline on the same test sets, side by side, with paired bootstrap intervals.

``cur-nlp evaluate --model NEW --compare OLD [--compare …] --baseline DIR`` writes ``comparison.md`` and
``comparison.json``: per test set, the headline metrics of every scorer, and for each other scorer the difference
``NEW − other`` with its paired bootstrap 95% interval (the same posts resampled for both).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from cur_nlp_training.evaluate import EvalSet, gold_rows
from cur_nlp_training.metrics import label_f1, label_recall, macro_f1, paired_bootstrap

Metric = Callable[[np.ndarray, np.ndarray], float]


def gold_class_macro_f1(gold: np.ndarray, pred: np.ndarray) -> float:
    """Macro-F1 over the classes present in gold only: a model that also predicts classes a test set lacks (as one
    trained on all 15 topics does on SPb's 7) is not charged a zero-F1 class for each of them."""
    from sklearn.metrics import f1_score

    return float(f1_score(gold, pred, labels=sorted(set(gold.tolist())), average="macro", zero_division=0))


def headline_metrics(set_name: str, head: str, labels: list[str]) -> dict[str, Metric]:
    """The metrics a set is judged by: macro-F1 (over the classes in gold or predictions, as every report counts it),
    macro-F1 over the gold classes only, and accuracy; for urgency also critical recall; fake-class F1 for fake."""
    if head == "fake":
        return {"fake-class F1": label_f1(labels.index("true"))}
    metrics: dict[str, Metric] = {"macro-F1": macro_f1, "macro-F1 (gold classes)": gold_class_macro_f1,
                                  "accuracy": lambda g, p: float(np.mean(g == p))}
    if head == "urgency":
        metrics["critical recall"] = label_recall(labels.index("critical"))
    return metrics


def decisions(scorer: Any, eval_set: EvalSet) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per head of the set that the scorer has: gold and decided label indices on the rows with a known gold label."""
    labels = scorer.head_labels()
    outputs = scorer.score(eval_set.texts)
    result = {}
    for head, gold_values in eval_set.gold.items():
        if head not in labels or head not in outputs:
            continue
        rows, gold = gold_rows(labels[head], gold_values)
        if rows:
            result[head] = (gold, outputs[head][1][rows])
    return result


def compare(scorers: Sequence[Any], eval_sets: Sequence[EvalSet], rounds: int = 1000) -> dict[str, Any]:
    """``{set: {head: {"n", "scores": {scorer: {metric: value}}, "vs": {other: {metric: {diff, low, high}}}}}}``,
    differences taken as the first scorer minus each other one, on the same rows."""
    primary = scorers[0]
    report: dict[str, Any] = {"primary": primary.name, "sets": {}}
    for eval_set in eval_sets:
        decided = {s.name: decisions(s, eval_set) for s in scorers}
        for head, (gold, ours) in decided[primary.name].items():
            labels = primary.head_labels()[head]
            metrics = headline_metrics(eval_set.name, head, labels)
            entry = {"n": int(len(gold)), "scores": {}, "vs": {}}
            for scorer in scorers:
                if head not in decided[scorer.name]:
                    continue
                theirs = decided[scorer.name][head][1]
                entry["scores"][scorer.name] = {m: round(f(gold, theirs), 4) for m, f in metrics.items()}
                if scorer is not primary:
                    entry["vs"][scorer.name] = {
                        m: {k: round(v, 4) for k, v in paired_bootstrap(gold, theirs, ours, f, rounds, level=0.95).items()}
                        for m, f in metrics.items()}
            report["sets"].setdefault(eval_set.name, {})[head] = entry
    return report


def comparison_markdown(report: dict[str, Any]) -> str:
    """The comparison as Markdown: one table per set and head."""
    primary = report["primary"]
    lines = [f"# {primary} against the other models", "",
             "Differences are the first model minus the other, with paired bootstrap 95% intervals (1000 resamples of "
             "the same posts).", ""]
    for set_name, heads in report["sets"].items():
        for head, entry in heads.items():
            others = list(entry["vs"])
            lines += [f"## {set_name} — {head} ({entry['n']} posts)", "",
                      "| metric | " + " | ".join(entry["scores"]) + " | " +
                      " | ".join(f"{primary} − {o} [95% CI]" for o in others) + " |",
                      "|---|" + "---|" * (len(entry["scores"]) + len(others))]
            for metric in next(iter(entry["scores"].values())):
                cells = [f"{scores.get(metric, float('nan')):.3f}" for scores in entry["scores"].values()]
                cells += [f"{d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
                          for d in (entry["vs"][o][metric] for o in others)]
                lines.append(f"| {metric} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def write_comparison(report: dict[str, Any], out: Path) -> Path:
    """``comparison.json`` and ``comparison.md`` in ``out``; returns the Markdown path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    path = out / "comparison.md"
    path.write_text(comparison_markdown(report), encoding="utf-8")
    return path
