"""int8 with an fp32 recheck (``onnx-int8-checked``) next to plain int8 and torch fp32, on real SPb/Kursk posts.

One run, the same texts for every backend::

    .venv/bin/python benchmarks/recheck.py --model models/default --out reports/recheck/test.json \\
        --markdown reports/recheck/test.md

The model directory is copied into a temporary directory and exported there (``cur-nlp export-onnx`` with the dev
texts of ``--data``, the int8 file with ``--fp32-nodes`` matmuls in fp32), unless it already records a checked
``onnx-int8-checked`` backend, which is then measured as it is. Measured per backend: ``predict_scores`` over all
posts (texts/s, labels per head against torch fp32, topic macro-F1 per source with its paired-bootstrap interval,
the share of posts re-encoded in fp32), the full ``predict`` with places after warming the morphology caches on dev
posts, and cold start to the first prediction with places in fresh interpreters (with peak RSS). Prints a table
and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parent.parent
for path in (REPO, REPO / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import speed  # noqa: E402  (benchmarks/speed.py: posts, accuracy and cold-start helpers)

CHECKED = "onnx-int8-checked"
BACKENDS = ("torch", "onnx-int8", CHECKED)


def exported_model(model_dir: Path, work: Path, data_dir: Path, fp32_nodes: int, max_texts: int) -> tuple[Path, dict]:
    """``model_dir`` itself when it records a checked backend with its file; else a copy in ``work`` exported on
    the dev texts of ``data_dir`` with ``fp32_nodes`` matmuls kept in fp32."""
    from cur_nlp.backends import ONNX_FILES
    from cur_nlp.backends.export import export_onnx, prepared_check_texts
    from cur_nlp.model_dir import ModelConfig

    config = ModelConfig.load(model_dir)
    entry = config.extra.get("backends", {}).get(CHECKED, {})
    if entry.get("recheck") and (model_dir / entry.get("file", ONNX_FILES[CHECKED])).exists():
        return model_dir, {"exported": False, "entries": config.extra["backends"]}
    copy = work / "model"
    shutil.copytree(model_dir, copy, ignore=shutil.ignore_patterns("*.onnx", "eval"))
    texts, topics = prepared_check_texts(data_dir, "dev", max_texts)
    start = time.perf_counter()
    entries = export_onnx(copy, quantize=True, texts=texts, topic_labels=topics, fp32_node_counts=(fp32_nodes,),
                          check_bf16=False)
    return copy, {"exported": True, "seconds": time.perf_counter() - start, "fp32_nodes": fp32_nodes,
                  "entries": entries}


def labels_changed(reference: dict, chosen: dict, posts: Sequence[dict]) -> dict[str, dict[str, int]]:
    """Per source and head: how many posts get another label than torch fp32."""
    out: dict[str, dict[str, int]] = {}
    for source in speed.SOURCES:
        rows = [i for i, p in enumerate(posts) if p["source"] == source]
        out[source] = {h: int(sum(reference[h][i] != chosen[h][i] for i in rows)) for h in reference}
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "default", help="model directory")
    parser.add_argument("--data", type=Path, default=REPO / "artifacts" / "data", help="prepared splits")
    parser.add_argument("--split", default="test", help="split whose SPb/Kursk posts are measured")
    parser.add_argument("--fp32-nodes", type=int, default=0, help="matmuls the int8 export keeps in fp32")
    parser.add_argument("--export-texts", type=int, default=4000, help="dev texts for the export check and margins")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=None, help="at most this many posts per source")
    parser.add_argument("--geo-warmup", type=int, default=3000, help="dev posts predicted before each timed run with places")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="JSON report path")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table as Markdown here")
    args = parser.parse_args(argv)

    from cur_nlp.backends import physical_cores
    from cur_nlp.classifier import ComplaintClassifier
    from cur_nlp.geo import Locator

    threads = physical_cores()
    posts = speed.load_posts(args.data, speed.SOURCES, args.limit, args.split)
    texts = [p["text"] for p in posts]
    report: dict[str, Any] = {"model": str(args.model), "split": args.split, "n_texts": len(texts), "threads": threads,
                              "per_source": {s: sum(p["source"] == s for p in posts) for s in speed.SOURCES},
                              "backends": {}}
    work = Path(tempfile.mkdtemp(prefix="cur_nlp_recheck_"))
    try:
        exported, report["export"] = exported_model(args.model, work, args.data, args.fp32_nodes, args.export_texts)
        report["recheck"] = report["export"]["entries"][CHECKED]["recheck"]
        reference = None
        for name in BACKENDS:
            clf = ComplaintClassifier.from_pretrained(exported, backend=name, num_threads=threads)
            scores, seconds = speed.run_batched(clf, texts, args.batch_size)
            row: dict[str, Any] = {"texts_per_s": len(texts) / seconds, "seconds": seconds,
                                   "topic_macro_f1": speed.topic_f1(clf, scores, posts)}
            chosen = speed.decisions(clf, scores)
            if reference is None:
                reference = chosen
            else:
                row["agreement_vs_torch"] = speed.agreement(reference, chosen)
                row["labels_changed"] = labels_changed(reference, chosen, posts)
                row["topic_vs_torch"] = speed.topic_differences(clf, reference["topic"], chosen["topic"], posts)
            if name == CHECKED:  # the warm-up batch counts too; measure the timed pass alone
                clf.backend.posts = clf.backend.rechecked = 0
                clf.predict_scores(texts, args.batch_size)
                row["rechecked_share"] = clf.backend.rechecked_share
            report["backends"][name] = row
            print(f"  {name}: {row['texts_per_s']:.1f} texts/s", file=sys.stderr)
            del clf

        warm = speed.warmup_texts(args.data, speed.SOURCES, args.geo_warmup)
        locator = Locator.default()
        for name in BACKENDS[1:]:
            clf = ComplaintClassifier.from_pretrained(exported, backend=name, locate=locator, num_threads=threads)
            speed.clear_word_caches()
            clf.predict(warm, args.batch_size)
            start = time.perf_counter()
            clf.predict(texts, args.batch_size)
            rate = len(texts) / (time.perf_counter() - start)
            report["backends"][name]["predict_with_places_per_s"] = rate
            print(f"  predict + places, {name}: {rate:.1f} posts/s", file=sys.stderr)
            del clf

        texts_file = work / "texts.json"
        texts_file.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        for name in BACKENDS[1:]:
            report["backends"][name]["cold_start_with_places"] = speed.cold_start(
                exported, name, True, texts_file, args.cold_runs, threads)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table = markdown_table(report)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n", encoding="utf-8")
    return report


def markdown_table(report: dict[str, Any]) -> str:
    """One row per backend: speed, share rechecked, labels changed and topic macro-F1 difference per source."""
    lines = [f"{report['split']} posts: " + ", ".join(f"{s} {n}" for s, n in report["per_source"].items()), "",
             "| backend | predict_scores texts/s | predict + places posts/s | rechecked in fp32 | cold start + places (s) "
             "| topic labels changed SPb / Kursk | topic macro-F1 vs fp32, SPb (5-95%) | Kursk (5-95%) |",
             "|---|---:|---:|---:|---:|---|---|---|"]
    for name, row in report["backends"].items():
        cold = row.get("cold_start_with_places", {}).get("cold_start_median")
        diff = row.get("topic_vs_torch", {})
        changed = row.get("labels_changed", {})

        def f1(source: str) -> str:
            d = diff.get(source)
            return f"{100 * d['diff']:+.2f} pt ({100 * d['p05']:+.2f} … {100 * d['p95']:+.2f})" if d else "–"

        places = row.get("predict_with_places_per_s")
        cells = [name, f"{row['texts_per_s']:.1f}", f"{places:.1f}" if places else "–",
                 f"{100 * row['rechecked_share']:.1f}%" if "rechecked_share" in row else "–",
                 f"{cold:.2f}" if cold is not None else "–",
                 f"{changed['spb']['topic']} / {changed['kursk']['topic']}" if changed else "–", f1("spb"), f1("kursk")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
