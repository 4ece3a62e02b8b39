"""Speed and agreement of cur_nlp's encoder backends on the real SPb + Kursk test posts, side by side in one run.

    .venv/bin/python benchmarks/speed.py --out reports/speed/speed.json --markdown reports/speed/table.md

Backends: torch fp32 (the reference), torch-bf16, and ONNX fp32 / dynamic int8 exported into a temporary copy of the
model (the model directory itself is never written). For each: texts/s of ``predict_scores``, label agreement with
fp32 per head and topic macro-F1 per test set. Then ``predict`` with places on the backend ``auto`` picks here, and the
cold start (fresh interpreter to first prediction) and peak RSS of that process. Prints the CPU with every figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cur_nlp.backends import cpu, explain_auto
from cur_nlp.classifier import ComplaintClassifier
from cur_nlp.decoding import decide
from cur_nlp.model_dir import ModelConfig
from cur_nlp_training.metrics import macro_f1
from cur_nlp_training.splits import check_texts, load_prepared

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("spb", "kursk")
COLD_CHILD = """
import json, resource, sys, time
start = float(sys.argv[1])
from cur_nlp.classifier import ComplaintClassifier
clf = ComplaintClassifier.from_pretrained(sys.argv[2], locate=True)
clf.predict(["Во дворе на Ленина 5 открыт люк"])
ready = time.time() - start
print(json.dumps({"backend": clf.backend.name, "cold_start": ready,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def load_posts(data_dir: Path, split: str = "test") -> list[dict[str, Any]]:
    """``text``, ``topic`` and ``source`` of every post of ``split`` of the SPb and Kursk sets."""
    posts = []
    for source in SOURCES:
        rows = load_prepared(data_dir, source)[split]
        posts += [{"text": t, "topic": g, "source": source} for t, g in zip(rows["text"], rows["topic"])]
    return posts


def measure(clf: ComplaintClassifier, texts: Sequence[str], batch_size: int) -> tuple[dict[str, np.ndarray], float]:
    """Decisions per head of ``predict_scores`` over all texts after a one-batch warm-up, and the seconds it took."""
    clf.predict_scores(texts[:batch_size], batch_size)
    started = time.perf_counter()
    scores = clf.predict_scores(texts, batch_size)
    seconds = time.perf_counter() - started
    return {h.name: decide(h, scores[h.name]) for h in clf.config.heads}, seconds


def topic_f1(clf: ComplaintClassifier, chosen: np.ndarray, posts: Sequence[dict]) -> dict[str, float]:
    """Topic macro-F1 per source of the decided topic indices."""
    labels = clf.config.head("topic").labels
    result = {}
    for source in SOURCES:
        rows = [i for i, p in enumerate(posts) if p["source"] == source and p["topic"] in labels]
        gold = np.array([labels.index(posts[i]["topic"]) for i in rows])
        result[source] = round(macro_f1(gold, chosen[rows]), 4)
    return result


def exported_copy(model_dir: Path, work: Path, data_dir: Path) -> Path:
    """A copy of the model with ONNX fp32 and int8 files exported and checked on the dev posts."""
    from cur_nlp_training.export_onnx import export_onnx

    copy = work / "model"
    shutil.copytree(model_dir, copy, ignore=shutil.ignore_patterns("eval"))
    texts, topics = check_texts(data_dir, "dev", 4000)
    export_onnx(copy, quantize=True, keep_fp32=True, texts=texts, topic_labels=topics)
    return copy


def cold_start(model_dir: Path, runs: int = 3) -> dict[str, Any]:
    """Spawn to first prediction (with places) of a fresh interpreter on the ``auto`` backend, and its peak RSS: the
    median of ``runs`` starts after one that may build the on-disk caches (the geonames index), reported apart."""
    starts = []
    for _ in range(runs + 1):
        done = subprocess.run([sys.executable, "-c", COLD_CHILD, repr(time.time()), str(model_dir)],
                              capture_output=True, text=True, check=True)
        starts.append(json.loads(done.stdout.strip().splitlines()[-1]))
    warm = sorted(starts[1:], key=lambda r: r["cold_start"])[len(starts[1:]) // 2]
    return {**warm, "first_start": starts[0]["cold_start"], "runs": runs}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "default", help="model directory")
    parser.add_argument("--data", type=Path, default=REPO / "artifacts" / "data", help="prepared splits")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=None, help="at most this many test posts (default: all)")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX export and its backends")
    parser.add_argument("--out", type=Path, default=None, help="JSON report path")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table as Markdown here")
    args = parser.parse_args(argv)

    posts = load_posts(args.data)[: args.limit]
    texts = [p["text"] for p in posts]
    report: dict[str, Any] = {"cpu": cpu.model_name(), "cores": cpu.physical_cores(), "bf16_flags": cpu.bf16_flags(),
                              "posts": len(texts), "batch_size": args.batch_size, "rows": []}
    print(f"CPU: {report['cpu']} ({report['cores']} cores, bf16 flags: {report['bf16_flags'] or 'none'}); "
          f"{len(texts)} SPb + Kursk test posts, batch {args.batch_size}")
    with tempfile.TemporaryDirectory() as work:
        model_dir = args.model if args.no_onnx else exported_copy(args.model, Path(work), args.data)
        variants = ["torch", "torch-bf16"] + ([] if args.no_onnx else ["onnx", "onnx-int8"])
        reference = None
        for name in variants:
            clf = ComplaintClassifier.from_pretrained(model_dir, backend=name)
            decisions, seconds = measure(clf, texts, args.batch_size)
            reference = reference or decisions
            row = {"backend": name, "texts_per_s": round(len(texts) / seconds, 1),
                   "agreement": {h: round(float(np.mean(decisions[h] == reference[h])), 4) for h in decisions},
                   "topic_macro_f1": topic_f1(clf, decisions["topic"], posts)}
            report["rows"].append(row)
            print(f"  {name:<11} {row['texts_per_s']:>7.1f} texts/s  agreement with fp32 {row['agreement']}  "
                  f"topic macro-F1 {row['topic_macro_f1']}")
        chosen, _ = explain_auto(args.model, ModelConfig.load(args.model))
        clf = ComplaintClassifier.from_pretrained(args.model, locate=True)
        clf.predict(texts[: args.batch_size], args.batch_size)
        started = time.perf_counter()
        clf.predict(texts, args.batch_size)
        report["predict_with_places"] = {"backend": chosen, "posts_per_s": round(len(texts) / (time.perf_counter() - started), 1)}
        report["cold_start"] = cold_start(args.model)
    report["peak_rss_mb_this_run"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"  predict + places ({chosen}): {report['predict_with_places']['posts_per_s']} posts/s; cold start "
          f"{report['cold_start']['cold_start']:.2f} s, peak RSS {report['cold_start']['peak_rss_mb']:.0f} MB")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(markdown_table(report), encoding="utf-8")
    return report


def markdown_table(report: dict[str, Any]) -> str:
    """The backends table of a report, as Markdown."""
    lines = [f"CPU: {report['cpu']}, {report['cores']} cores, bf16 flags: {', '.join(report['bf16_flags']) or 'none'}; "
             f"{report['posts']} SPb + Kursk test posts, batch {report['batch_size']}.", "",
             "| backend | texts/s | × fp32 | agreement with fp32 (topic / urgency / fake) | topic macro-F1 SPb / Kursk |",
             "|---|---|---|---|---|"]
    base = report["rows"][0]["texts_per_s"]
    for row in report["rows"]:
        agreement = " / ".join(f"{v:.4f}" for v in row["agreement"].values())
        f1 = " / ".join(f"{v:.4f}" for v in row["topic_macro_f1"].values())
        lines.append(f"| {row['backend']} | {row['texts_per_s']} | {row['texts_per_s'] / base:.2f} | {agreement} | {f1} |")
    cold = report["cold_start"]
    lines += ["", f"`predict` with places on `auto` ({report['predict_with_places']['backend']}): "
              f"{report['predict_with_places']['posts_per_s']} posts/s; cold start {cold['cold_start']:.2f} s, "
              f"peak RSS {cold['peak_rss_mb']:.0f} MB.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
