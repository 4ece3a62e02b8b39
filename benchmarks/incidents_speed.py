"""What grouping posts into incidents costs beyond classification: ``cur-nlp incidents`` over N synthetic
prediction records (JSON lines as ``cur-nlp predict`` writes them), CPU seconds and peak memory.

    python benchmarks/incidents_speed.py [--posts 100000] [--days 30]

The records are generated first into a temporary file (a month of posts in 40 towns: problems at houses that
draw 1-12 posts over up to two days, a quarter with portal coordinates, a tenth with no place); then the same
process reads and groups them, timed with ``time.process_time``. Peak memory is the process's maximum resident set
(``ru_maxrss``, the records are generated in a child process), printed beside the resident set before grouping.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

TOPICS = {
    "housing": ["нет горячей воды третий день", "батареи еле тёплые, в квартире +15", "лифт не работает с утра",
                "течёт крыша, вода по стенам в подъезде", "в подвале прорвало трубу, пар идёт"],
    "improvement": ["двор не чистят от снега, машины буксуют", "во дворе не горят фонари",
                    "сломаны качели на детской площадке"],
    "roads": ["яма на проезжей части, бьют колёса", "тротуар не посыпан, сплошной лёд"],
    "waste": ["мусор не вывозят неделю, баки переполнены", "стихийная свалка за домом"],
}
STREETS = ["Ленина", "Мира", "Победы", "Гагарина", "Садовая", "Советская", "Кирова", "Пушкина", "Лесная",
           "Школьная", "Молодёжная", "Центральная", "Набережная", "Заводская", "Строителей", "Комсомольская"]
REPLIES = ["подтверждаю", "у нас тоже", "так и не сделали", "второй подъезд то же самое", "+1"]


def cpu_model() -> str:
    """The CPU model as ``lscpu`` names it."""
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def generate(path: Path, posts: int, days: int, seed: int = 19) -> None:
    """Synthetic prediction records in time order (see the module docstring)."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1)
    rows = []
    towns = [f"Город-{k}" for k in range(40)]
    while len(rows) < posts:
        topic = rng.choice(list(TOPICS))
        problem = rng.choice(TOPICS[topic])
        town, street, number = rng.choice(towns), rng.choice(STREETS), str(rng.randint(1, 120))
        first = start + timedelta(seconds=rng.randint(0, days * 86400))
        point = (55 + rng.random(), 37 + rng.random()) if rng.random() < 0.25 else None
        placed = rng.random() > 0.1
        for k in range(rng.randint(1, 12)):
            text = f"{street} {number} {problem}" if k == 0 else f"{street} {number} {rng.choice(REPLIES)}, {problem}"
            record = {"id": f"s{len(rows)}", "text": text if placed else problem,
                      "created": (first + timedelta(minutes=rng.randint(0, 2880) * (k > 0))).isoformat(),
                      "city": town, "topic": {"label": topic, "score": 0.9, "top": [[topic, 0.9], ["housing", 0.05]]},
                      "urgency": {"label": rng.choice(["high", "normal", "low"]), "score": 0.8},
                      "fake": {"label": False, "score": 0.01, "source": "model", "stance": None, "match": None},
                      "locations": [{"text": f"{street} {number}", "start": 0, "end": len(street) + len(number) + 1,
                                     "kind": "house", "normal": f"{street}, {number}", "lat": None, "lon": None,
                                     "municipality": None, "region": None, "level": None, "confidence": 0.0,
                                     "parts": {"street": street, "house": number}}] if placed else [],
                      "empty": False, "truncated": False}
            if point is not None:
                record.update(lat=point[0], lon=point[1])
            rows.append(record)
    rows = rows[:posts]
    rows.sort(key=lambda r: r["created"])
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)  # the child process that writes the file
    args = parser.parse_args()
    if args.generate:
        generate(args.generate, args.posts, args.days)
        return
    with tempfile.TemporaryDirectory() as folder:
        source, output = Path(folder) / "predictions.jsonl", Path(folder) / "incidents.jsonl"
        # generated in another process, so that this one's peak memory is the grouping's
        subprocess.run([sys.executable, __file__, "--posts", str(args.posts), "--days", str(args.days),
                        "--generate", str(source)], check=True)
        from cur_nlp.incidents import group_records
        from cur_nlp.io import atomic_text_writer

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        cpu, wall = time.process_time(), time.perf_counter()
        incidents = 0
        with source.open(encoding="utf-8") as lines, atomic_text_writer(output) as handle:
            for incident in group_records(json.loads(line) for line in lines):  # what `cur-nlp incidents` does
                handle.write(json.dumps(incident.to_dict(), ensure_ascii=False) + "\n")
                incidents += 1
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"cpu": cpu_model(), "posts": args.posts, "days": args.days, "incidents": incidents,
                      "cpu_seconds": round(cpu, 1), "wall_seconds": round(wall, 1),
                      "rss_before_grouping_mb": round(before), "peak_rss_mb": round(peak)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
