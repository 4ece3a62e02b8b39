"""Batch scoring of a large archive of posts with Spark ``mapInPandas`` and the library's batch API.

Every Spark task loads the classifier once (cached per Python worker) and calls ``ComplaintClassifier.predict``
on Arrow batches of posts; no HTTP service is involved. Output: one row per post with the heads' labels and
scores, ``empty``/``truncated`` flags and the locations as JSON, written as Parquet (or JSONL).

    pip install pyspark            # needs Java 17+
    python examples/spark_batch_scoring.py --input posts.jsonl --output scored/ --model models/default
    python examples/spark_batch_scoring.py --demo 500 --output /tmp/scored --model /tmp/tiny_model

The input is JSON lines (or Parquet) with ``id`` and ``text``. On a cluster, submit the same file with
``spark-submit`` and ship the model directory to the executors (a shared path, or ``--files``/``--archives``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Iterator

import pandas as pd

OUTPUT_SCHEMA = (
    "id string, topic string, topic_score double, urgency string, urgency_score double, "
    "fake boolean, fake_score double, fake_source string, fake_claim_id string, empty boolean, truncated boolean, locations string"
)

_CLASSIFIER = None


def _classifier(model: str | None, locate: bool, threads: int):
    """The classifier of this Python worker, loaded on first use (Spark reuses workers across tasks)."""
    global _CLASSIFIER
    if _CLASSIFIER is None:
        from cur_nlp.classifier import ComplaintClassifier

        _CLASSIFIER = ComplaintClassifier.from_pretrained(model, locate=locate, num_threads=threads)
    return _CLASSIFIER


def score_batches(batches: Iterator[pd.DataFrame], model: str | None, locate: bool, threads: int,
                  batch_size: int) -> Iterator[pd.DataFrame]:
    """``mapInPandas`` function: (id, text) frames in, one scored row per post out, same order."""
    classifier = _classifier(model, locate, threads)
    for frame in batches:
        texts = frame["text"].fillna("").astype(str).tolist()
        rows = []
        for post_id, prediction in zip(frame["id"].astype(str), classifier.predict(texts, batch_size=batch_size)):
            data = prediction.to_dict()
            topic, urgency, fake = data.get("topic") or {}, data.get("urgency") or {}, data.get("fake") or {}
            rows.append({
                "id": post_id,
                "topic": topic.get("label"), "topic_score": topic.get("score"),
                "urgency": urgency.get("label"), "urgency_score": urgency.get("score"),
                "fake": fake.get("label"), "fake_score": fake.get("score"), "fake_source": fake.get("source"),
                "fake_claim_id": (fake.get("match") or {}).get("id"),
                "empty": data["empty"], "truncated": data["truncated"],
                "locations": json.dumps(data["locations"], ensure_ascii=False),
            })
        yield pd.DataFrame(rows, columns=[c.split()[0] for c in OUTPUT_SCHEMA.split(", ")])


def write_demo_input(path: Path, count: int) -> Path:
    """A small JSONL archive of synthetic posts (the load benchmark's generator), for trying the example."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from load_serve import make_posts

    with path.open("w", encoding="utf-8") as out:
        for index, text in enumerate(make_posts(count, seed=7)):
            out.write(json.dumps({"id": f"demo-{index}", "text": text}, ensure_ascii=False) + "\n")
        out.write(json.dumps({"id": "demo-empty", "text": "   "}, ensure_ascii=False) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Score a JSONL/Parquet archive of posts with Spark mapInPandas.")
    parser.add_argument("--input", type=Path, help="JSON lines or Parquet with id and text.")
    parser.add_argument("--demo", type=int, default=0, help="Instead of --input, score this many synthetic posts.")
    parser.add_argument("--output", type=Path, required=True, help="Output directory (Parquet, or JSONL with --jsonl).")
    parser.add_argument("--jsonl", action="store_true", help="Write JSON lines instead of Parquet.")
    parser.add_argument("--model", default=None, help="Model directory (default: the embedded models/default).")
    parser.add_argument("--locate", action="store_true", help="Also extract and geocode places (cur_nlp.geo).")
    parser.add_argument("--master", default="local[2]", help="Spark master (local[N] or your cluster).")
    parser.add_argument("--partitions", type=int, default=2, help="Partitions = parallel model copies.")
    parser.add_argument("--threads", type=int, default=1, help="Torch threads per model copy.")
    parser.add_argument("--arrow-batch", type=int, default=512, help="Posts per Arrow batch handed to predict.")
    parser.add_argument("--batch-size", type=int, default=64, help="Posts per model forward pass.")
    args = parser.parse_args()

    # Spark's Python workers run this interpreter (the one with cur_nlp installed)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    if args.model:
        args.model = str(Path(args.model).resolve())
    source = args.input
    if source is None:
        if not args.demo:
            parser.error("give --input or --demo N")
        source = write_demo_input(Path("/tmp/cur_nlp_demo_posts.jsonl"), args.demo)

    spark = (SparkSession.builder.master(args.master).appName("cur_nlp batch scoring")
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(args.arrow_batch))
             .config("spark.python.worker.reuse", "true")
             .config("spark.ui.enabled", "false")
             .config("spark.executorEnv.TOKENIZERS_PARALLELISM", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    reader = spark.read.parquet if source.suffix == ".parquet" else spark.read.json
    posts = reader(str(source)).select("id", "text").repartition(args.partitions)

    # Ship this file to the workers and reference the function through its module, so that the classifier
    # cached in the module survives from task to task of a reused worker (a function of __main__ would be
    # pickled by value, with a fresh cache in every task).
    spark.sparkContext.addPyFile(str(Path(__file__).resolve()))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import spark_batch_scoring as job

    model, locate, threads, batch_size = args.model, args.locate, args.threads, args.batch_size
    scored = posts.mapInPandas(lambda it: job.score_batches(it, model, locate, threads, batch_size), OUTPUT_SCHEMA)

    started = time.perf_counter()
    writer = scored.write.mode("overwrite")
    (writer.json if args.jsonl else writer.parquet)(str(args.output))
    elapsed = time.perf_counter() - started
    written = spark.read.json(str(args.output)) if args.jsonl else spark.read.parquet(str(args.output))
    count = written.count()
    print(f"scored {count} posts in {elapsed:.1f} s ({count / elapsed:.1f} posts/s) -> {args.output}")
    written.groupBy("topic").count().orderBy("count", ascending=False).show(5)
    written.filter("empty").select("id", "empty", "topic").show(3)
    spark.stop()


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
