"""The evaluation harness: every model (transformer, baseline, a user's) scored the same way on the same sets.

Evaluation sets (``split`` = test by default):
- ``spb``: SPb time-split test (topic; weak urgency from the reason);
- ``kursk``: Kursk stratified test (topic; weak urgency);
- ``ru22fact``: RU22Fact test (fake);
- ``urgency_gold``: the hand-labelled urgency gold set (``training/gold/urgency_gold.csv``), the posts of the
  evaluated split only (its dev half may tune urgency decisions: see ``TrainConfig.decision_labels``).
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cur_nlp_training.metrics import head_metrics, urgency_extras

log = logging.getLogger("cur_nlp.evaluate")

GOLD_FILE = Path(__file__).parent / "gold" / "urgency_gold.csv"
SUITE_HEADS = {"spb": ("topic", "urgency"), "kursk": ("topic", "urgency"), "ru22fact": ("fake",),
               "social": ("topic", "urgency"), "urgency_gold": ("urgency",)}


@dataclass
class EvalSet:
    """Texts with gold labels per head (None where a row has no label for that head)."""

    name: str
    ids: list[str]
    texts: list[str]
    gold: dict[str, list[Any]]


def load_gold(path: Path = GOLD_FILE) -> dict[str, str]:
    """``{id: urgency}`` from the gold file."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["id"]: row["urgency"] for row in csv.DictReader(handle)}


def build_eval_sets(data_dir: Path, split: str = "test") -> list[EvalSet]:
    """The standard evaluation sets from prepared splits (sources not prepared are skipped), and the urgency gold
    posts of the evaluated split (the gold file also holds train and dev posts, which training reads)."""
    from cur_nlp_training.splits import load_prepared

    sets, by_id, by_split = [], {}, {"dev": [], "test": [], "train": []}
    for source, heads in SUITE_HEADS.items():
        if source == "urgency_gold":
            continue
        if not (Path(data_dir) / source).exists():
            log.warning("%s not prepared in %s: not evaluated (cur-nlp data prepare)", source, data_dir)
            continue
        prepared = load_prepared(data_dir, source)
        part = prepared[split]
        sets.append(EvalSet(source, part["id"], part["text"], {h: part[h] for h in heads}))
        if source in ("spb", "kursk"):
            for s in ("train", "dev", "test"):
                by_id.update({r["id"]: r for r in prepared[s].to_list()})
                by_split[s].extend(prepared[s]["id"])
    if GOLD_FILE.exists():
        gold = load_gold()
        missing = [i for i in gold if i not in by_id]
        if missing:
            raise ValueError(f"{len(missing)} gold ids are not in the prepared SPb/Kursk splits, e.g. {missing[:3]}")
        # only the gold posts of the evaluated split: the dev half may be used to tune urgency decisions
        in_split = set(by_split[split])
        ids = [i for i in gold if i in in_split]
        sets.append(EvalSet("urgency_gold", ids, [by_id[i]["text"] for i in ids],
                            {"urgency": [gold[i] for i in ids], "weak_urgency": [by_id[i]["urgency"] for i in ids]}))
    return sets


def _key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def gold_rows(head_labels: list[str], gold_values: Sequence[Any]) -> tuple[list[int], np.ndarray]:
    """Positions of the rows whose gold value is one of the head's labels, and those gold label indices."""
    rows = [i for i, v in enumerate(gold_values) if v is not None and _key(v) in head_labels]
    return rows, np.array([head_labels.index(_key(gold_values[i])) for i in rows], dtype=int)


def scorable(head_labels: dict[str, list[str]], eval_sets: Sequence[EvalSet]) -> list[tuple[str, str]]:
    """``(set, head)`` pairs a scorer with these heads can be scored on: the set has gold labels for the head and
    some of them are among the head's labels."""
    return [(s.name, head) for s in eval_sets for head, gold in s.gold.items()
            if head in head_labels and gold_rows(head_labels[head], gold)[0]]


def score_set(scorer, eval_set: EvalSet) -> dict[str, Any]:
    """Metrics of every head that both the scorer and the set have."""
    labels = scorer.head_labels()
    outputs = scorer.score(eval_set.texts)
    result: dict[str, Any] = {}
    for head, gold_values in eval_set.gold.items():
        if head not in labels:
            continue
        head_labels = labels[head]
        rows, gold = gold_rows(head_labels, gold_values)
        if not rows:
            continue
        probs, decided = outputs[head]
        metrics = head_metrics(head_labels, gold, decided[rows], probs[rows], binary=len(head_labels) == 2 and head_labels == ["false", "true"])
        if head == "urgency":
            metrics.update(urgency_extras(head_labels, gold, decided[rows]))
        result[head] = metrics
    return result


def weak_label_agreement(eval_set: EvalSet) -> dict[str, Any]:
    """How often the weak (source-derived) urgency agrees with the gold urgency, where it exists."""
    pairs = [(g, w) for g, w in zip(eval_set.gold["urgency"], eval_set.gold.get("weak_urgency", [])) if w]
    if not pairs:
        return {"n": 0}
    return {"n": len(pairs), "coverage": len(pairs) / len(eval_set.ids),
            "accuracy": float(np.mean([g == w for g, w in pairs]))}


def evaluate(scorers: Sequence, eval_sets: list[EvalSet]) -> dict[str, Any]:
    """``{scorer name: {set name: {head: metrics}}}`` plus the weak-label agreement of the gold set."""
    results: dict[str, Any] = {}
    for scorer in scorers:
        results[scorer.name] = {}
        for eval_set in eval_sets:
            log.info("scoring %s on %s (%d texts)", scorer.name, eval_set.name, len(eval_set.texts))
            results[scorer.name][eval_set.name] = score_set(scorer, eval_set)
    gold = next((s for s in eval_sets if s.name == "urgency_gold"), None)
    if gold is not None:
        results["_weak_vs_gold_urgency"] = weak_label_agreement(gold)
    return results


def evaluate_model_dir(model_dir: Path, data_dir: Path, baseline_dir: Path | None = None,
                       out: Path | None = None, split: str = "test", compare_with: Sequence[Path] = ()) -> dict[str, Any]:
    """Evaluate a model directory (torch fp32, the reference backend) and the baseline beside it; write metrics.json,
    report.md and plots. With ``compare_with`` (other model directories) also ``comparison.md``/``.json``: every
    model and the baseline per test set, with paired bootstrap 95% intervals of this model's differences."""
    from cur_nlp.classifier import ComplaintClassifier
    from cur_nlp_training.report import write_report
    from cur_nlp_training.scorer import ClassifierScorer, ScoredOnce

    model_dir = Path(model_dir)
    scorers: list = [ClassifierScorer(ComplaintClassifier.from_pretrained(model_dir, backend="torch"))]
    for other in compare_with:
        scorer = ClassifierScorer(ComplaintClassifier.from_pretrained(other, backend="torch"))
        if scorer.name == scorers[0].name:
            scorer.name = f"{scorer.name} ({other})"
        scorers.append(scorer)
    if baseline_dir and Path(baseline_dir, "baseline.joblib").exists():
        from cur_nlp_training.baseline import TfidfBaseline

        scorers.append(TfidfBaseline.load(baseline_dir))
    eval_sets = build_eval_sets(Path(data_dir), split)
    heads = scorers[0].head_labels()
    if not scorable(heads, eval_sets):
        raise ValueError(f"{model_dir}: nothing to evaluate: none of the model's heads ({', '.join(heads)}) has gold "
                         f"labels it knows in the evaluation sets ("
                         + "; ".join(f"{s.name}: {', '.join(s.gold)}" for s in eval_sets) + ")")
    scorers = [ScoredOnce(s) for s in scorers]  # the report and the comparison read the same scores
    results = evaluate(scorers, eval_sets)
    out = Path(out) if out else model_dir / "eval"
    write_report(results, out, title=f"Evaluation of {scorers[0].name} ({split})", primary=scorers[0].name)
    if compare_with:
        from cur_nlp_training.compare import compare, write_comparison

        log.info("comparison written to %s", write_comparison(compare(scorers, eval_sets), out))
    (model_dir / "metrics.json").write_text(
        json.dumps({"split": split, "results": results[scorers[0].name],
                    "weak_vs_gold_urgency": results.get("_weak_vs_gold_urgency")}, indent=2, ensure_ascii=False),
        encoding="utf-8")
    return results


def fit_and_report_baseline(config_path: Path, out: Path, data_dir: Path, report: Path, split: str = "test") -> dict:
    """Fit the TF-IDF baseline from its config, save it, and write its report on the standard sets."""
    import yaml

    from cur_nlp_training.baseline import BaselineConfig, TfidfBaseline
    from cur_nlp_training.heads_data import DataConfig, load_training_data
    from cur_nlp_training.report import write_report

    raw = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    data_cfg = DataConfig(**{**raw.pop("data", {}), "prepared_dir": str(data_dir)})
    cfg = BaselineConfig(**raw)
    data = load_training_data(data_cfg, cfg.heads)
    baseline = TfidfBaseline(cfg).fit(data)
    baseline.save(out)
    results = evaluate([baseline], build_eval_sets(Path(data_dir), split))
    write_report(results, report, title=f"Evaluation of {baseline.name} ({split})", primary=baseline.name)
    return results
