"""What registry matching adds to ``predict``: the same posts classified without a registry and with a registry of
N claims, side by side in one process, alternating runs, best of several.

    python benchmarks/fakes_speed.py [--claims 500] [--posts 512] [--repeats 3] [--model models/default]

Claims: the example registry plus RU22Fact claims from ../shared (read at run time, never committed) up to N, in a
temporary SQLite registry. Posts: the team-written social test split. Prints the CPU, both times and the ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def claims(count: int) -> list:
    from cur_nlp.fakes.claims import Claim, read_claims

    found = read_claims(ROOT / "examples" / "fakes_registry.jsonl")
    path = SHARED / "data" / "ru22fact_ru_test.csv"
    if path.exists():
        with path.open(encoding="utf-8", newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle)):
                text = (row.get("claim") or "").strip()
                if text and len(found) < count:
                    found.append(Claim(f"ru22-{number}", text, "(benchmark filler)"))
    if len(found) < count:
        sys.exit(f"only {len(found)} claims available (../shared/data/ru22fact_ru_test.csv missing?)")
    return found[:count]


def posts(count: int) -> list[str]:
    texts = []
    for path in sorted((ROOT / "training" / "data" / "social").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("split") == "test":
                texts.append(record["text"])
    return texts[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=500)
    parser.add_argument("--posts", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "default")
    args = parser.parse_args()

    from cur_nlp.backends import cpu
    from cur_nlp.classifier import ComplaintClassifier
    from cur_nlp.fakes.store import ClaimStore

    texts = posts(args.posts)
    classifier = ComplaintClassifier.from_pretrained(args.model, registry=None)
    with tempfile.TemporaryDirectory() as folder:
        database = str(Path(folder) / "registry.db")
        store = ClaimStore.open(database, embed=classifier.embed_claims, vector_model=classifier.fingerprint)
        started = time.perf_counter()
        store.add(claims(args.claims))
        add_seconds = time.perf_counter() - started
        classifier.use_registry(database)
        matcher = classifier.registry
        classifier.predict(texts[:16])  # warm-up of both paths
        best = {"without": float("inf"), "with": float("inf")}
        flagged = 0
        for _ in range(args.repeats):
            for name in ("without", "with"):
                classifier.registry = matcher if name == "with" else None
                started = time.perf_counter()
                results = classifier.predict(texts)
                best[name] = min(best[name], time.perf_counter() - started)
                if name == "with":
                    flagged = sum(r.fake.source == "registry" for r in results)
    overhead = best["with"] / best["without"] - 1
    print(f"CPU: {cpu.model_name()}, {cpu.physical_cores()} physical cores; backend {classifier.backend.name}")
    print(f"registry: {args.claims} claims, added (embedded once) in {add_seconds:.1f} s")
    print(f"predict {len(texts)} posts: without registry {best['without']:.2f} s, with {best['with']:.2f} s "
          f"(best of {args.repeats}); matching adds {overhead:+.1%} (budget +20%); {flagged} posts matched")


if __name__ == "__main__":
    main()
