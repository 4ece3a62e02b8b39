"""Markdown report, metrics.json and plots (confusion matrices, reliability diagrams) from evaluation results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _headline(head: str, m: dict) -> list[tuple[str, Any]]:
    items = [("n", m["n"]), ("accuracy", m["accuracy"]), ("macro-F1", m["macro_f1"])]
    if "positive_f1" in m:
        items += [("fake F1", m["positive_f1"]), ("fake P", m["positive_precision"]), ("fake R", m["positive_recall"])]
    if "critical_recall" in m:
        items += [("critical recall", m["critical_recall"]), ("urgent-vs-not F1", m["urgent_vs_not_f1"])]
    if "ece" in m:
        items.append(("ECE", m["ece"]))
    return items


def plot_confusion(m: dict, path: Path, title: str) -> None:
    labels, matrix = m["confusion"]["labels"], np.array(m["confusion"]["matrix"])
    keep = [i for i in range(len(labels)) if matrix[i].sum() or matrix[:, i].sum()]
    matrix = matrix[np.ix_(keep, keep)]
    names = [labels[i] for i in keep]
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(names), 0.8 + 0.5 * len(names)))
    normalised = matrix / np.clip(matrix.sum(1, keepdims=True), 1, None)
    ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if normalised[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(m: dict, path: Path, title: str) -> None:
    bins = m.get("reliability") or []
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
    if bins:
        centres = [(b["low"] + b["high"]) / 2 for b in bins]
        ax.bar(centres, [b["accuracy"] for b in bins], width=1 / 15, alpha=0.6, edgecolor="black", label="accuracy")
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", color="C1", label="mean conf.")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title}\nECE {m.get('ece', float('nan')):.3f}", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(results: dict[str, Any], out: Path, title: str, primary: str) -> Path:
    """Write ``metrics.json``, ``report.md`` and PNG plots of the primary scorer to ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    scorers = [k for k in results if not k.startswith("_")]
    lines = [f"# {title}", ""]
    sets = list(results[primary])
    for set_name in sets:
        for head in results[primary][set_name]:
            lines += [f"## {set_name} — {head}", "", "| metric | " + " | ".join(scorers) + " |",
                      "|---|" + "---|" * len(scorers)]
            names = [k for k, _ in _headline(head, results[primary][set_name][head])]
            for name in names:
                row = []
                for scorer in scorers:
                    m = results[scorer].get(set_name, {}).get(head)
                    row.append(_fmt(dict(_headline(head, m)).get(name)) if m else "—")
                lines.append(f"| {name} | " + " | ".join(row) + " |")
            m = results[primary][set_name][head]
            lines += ["", f"Per class ({primary}):", "", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
            for label, c in m["per_class"].items():
                lines.append(f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |")
            stem = f"{set_name}_{head}"
            plot_confusion(m, out / f"{stem}_confusion.png", f"{primary}: {set_name} {head}")
            lines += ["", f"![confusion]({stem}_confusion.png)"]
            if "reliability" in m:
                plot_reliability(m, out / f"{stem}_reliability.png", f"{set_name} {head}")
                lines += [f"![reliability]({stem}_reliability.png)"]
            lines.append("")
    agreement = results.get("_weak_vs_gold_urgency")
    if agreement and agreement.get("n"):
        lines += ["## Weak urgency labels vs the gold set", "",
                  f"Weak labels exist for {agreement['n']} gold posts ({agreement['coverage']:.0%}); "
                  f"they agree with the gold label on {agreement['accuracy']:.1%}.", ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return out / "report.md"
