"""Hostile soak of the classify service on loopback (issue 22): bounded work per request under a storm.

Starts ``cur-nlp serve`` on 127.0.0.1 in a subprocess (default settings) and runs ``--clients`` closed-loop clients
for ``--duration`` seconds, each request drawn from a mix of:

- ``good``: 1-4 posts with ids (every id must come back with a result);
- ``oversized``: a body over ``max_body_bytes`` (413 by Content-Length) or 1.5 MB of ``{"items": [0, 0, ...]}``
  (413 by the item count, before any validation);
- ``deep``: JSON nested 5,000 levels (422);
- ``explain``: ``explain=true`` on 4 posts of 300 words (200, or 503 at ``explain_timeout_s`` / a full queue);
- ``disconnect``: the same explanation, abandoned by the client after 0.3 s (the server stops its work);
- ``bad_bytes``: a body that is not UTF-8 (422) and a post with a lone surrogate (200).

Meanwhile ``/health`` is asked every 50 ms and the server's RSS sampled every 0.5 s. Printed: outcomes per kind
and status (errors by class), ``/health`` latency during the storm (p50/p95/max; target p95 <= 50 ms), peak RSS
(target <= 1.5 GB) and lines lost (target 0): posts of good requests answered without their result, plus
requests whose log line the server never wrote. Everything is bounded in time::

    python benchmarks/soak.py --model models/default                 # 16 clients, 60 s
    python benchmarks/soak.py --model /tmp/tiny_model --duration 10  # shorter
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_serve import Server, free_port, make_posts, rss_mb  # noqa: E402

KINDS = {"good": 6, "oversized": 2, "deep": 1, "explain": 2, "disconnect": 1, "bad_bytes": 1}
"""Relative weights of the request kinds in the mix."""

MAX_BODY = 2 * 1024 * 1024  # the service's default CUR_NLP_MAX_BODY_BYTES
EXPLAIN_TEXT = " ".join(make_posts(200, seed=7))
WORDS = EXPLAIN_TEXT.split()


class Soak:
    """The clients' shared tallies."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.outcomes: dict[str, Counter] = defaultdict(Counter)
        self.good_posts = 0
        self.lost_posts = 0
        self.good_latencies: list[float] = []
        self.request_ids: list[str] = []
        self._next = 0

    def request_id(self) -> str:
        self._next += 1
        rid = f"soak-{self._next}"
        self.request_ids.append(rid)
        return rid

    def record(self, kind: str, outcome: str) -> None:
        self.outcomes[kind][outcome] += 1


def explain_body(rng: random.Random) -> bytes:
    start = rng.randrange(0, len(WORDS) - 1200)
    return json.dumps({"items": [{"text": " ".join(WORDS[start + 300 * i : start + 300 * (i + 1)])}
                                 for i in range(4)]}, ensure_ascii=False).encode()


async def one_request(http: httpx.AsyncClient, soak: Soak, kind: str, rng: random.Random, posts: list[str]) -> None:
    """Send one request of ``kind`` and record its outcome (status, or the exception's class)."""
    headers = {"content-type": "application/json", "x-request-id": soak.request_id()}
    path, timeout, ids = "/v1/classify", 30.0, []
    if kind == "good":
        ids = [f"g{soak._next}-{i}" for i in range(rng.randint(1, 4))]
        body = json.dumps({"items": [{"id": i, "text": rng.choice(posts)} for i in ids]}, ensure_ascii=False).encode()
    elif kind == "oversized":
        body = (b'{"text": "' + b"a" * (MAX_BODY + 1024) + b'"}' if rng.random() < 0.5
                else b'{"items": [' + b",".join([b"0"] * 750_000) + b"]}")
    elif kind == "deep":
        body = b'{"items": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    elif kind in ("explain", "disconnect"):
        path, body = "/v1/classify?explain=true", explain_body(rng)
        timeout = 0.3 if kind == "disconnect" else 30.0
    else:  # bad_bytes
        body = rng.choice(['{"text": "люк во дворе"}'.encode("cp1251"), b'{"text": "\\ud83d \\u043b\\u044e\\u043a"}'])
    started = time.perf_counter()
    try:
        response = await http.post(path, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        soak.record(kind, type(error).__name__)
        return
    soak.record(kind, str(response.status_code))
    if kind == "good" and response.status_code == 200:  # a 503 asks the client to retry: nothing is lost
        returned = {r.get("id") for r in response.json()["results"]}
        soak.good_latencies.append(time.perf_counter() - started)
        soak.good_posts += len(ids)
        soak.lost_posts += len(set(ids) - returned)


async def client(soak: Soak, until: float, seed: int, posts: list[str]) -> None:
    rng = random.Random(seed)
    kinds, weights = list(KINDS), list(KINDS.values())
    async with httpx.AsyncClient(base_url=soak.url) as http:
        while time.perf_counter() < until:
            await one_request(http, soak, rng.choices(kinds, weights)[0], rng, posts)


async def probe_health(url: str, until: float, latencies: list[float]) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        while time.perf_counter() < until:
            started = time.perf_counter()
            try:
                await http.get("/health", timeout=5.0)
                latencies.append(time.perf_counter() - started)
            except httpx.HTTPError:
                latencies.append(5.0)
            await asyncio.sleep(0.05)


async def sample_rss(pid: int, until: float, samples: list[float]) -> None:
    while time.perf_counter() < until:
        samples.append(rss_mb(pid))
        await asyncio.sleep(0.5)


async def storm(url: str, pid: int, clients: int, duration: float, posts: list[str]) -> dict[str, Any]:
    soak = Soak(url)
    latencies: list[float] = []
    rss: list[float] = [rss_mb(pid)]
    until = time.perf_counter() + duration
    await asyncio.gather(probe_health(url, until, latencies), sample_rss(pid, until + 2, rss),
                         *(client(soak, until, seed, posts) for seed in range(clients)))
    return {"soak": soak, "health_ms": percentiles(latencies), "good_ms": percentiles(soak.good_latencies),
            "rss_start_mb": round(rss[0]), "rss_peak_mb": round(max(rss))}


def percentiles(seconds: list[float]) -> dict[str, float]:
    """Count, p50, p95 and max of latencies, in ms."""
    ms = np.array(seconds or [np.nan]) * 1000
    return {"n": len(seconds), "p50": round(float(np.percentile(ms, 50)), 1),
            "p95": round(float(np.percentile(ms, 95)), 1), "max": round(float(ms.max()), 1)}


def logged_request_ids(log_path: Path) -> set[str]:
    return set(re.findall(r"request_id=(soak-\d+) ", log_path.read_text(encoding="utf-8", errors="replace")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="Model directory (default: the embedded model).")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of storm (shorten for a quick run).")
    parser.add_argument("--out", type=Path, default=None, help="Also write the figures as JSON here.")
    args = parser.parse_args()

    log_path = Path(tempfile.mkdtemp(prefix="cur_nlp_soak_")) / "server.log"
    server = Server(args.model, free_port(), log_path, {"CUR_NLP_LOG_LEVEL": "info"})
    server.start()
    try:
        ready_s = server.wait_ready()
        result = asyncio.run(storm(server.url, server.pid, args.clients, args.duration, make_posts(500)))
        after = httpx.post(server.url + "/v1/classify", json={"text": "Во дворе открыт люк"}, timeout=30.0)
        time.sleep(1.0)  # the log lines of abandoned requests are written when their work has stopped
    finally:
        server.stop()
    soak: Soak = result.pop("soak")
    missing_logs = len(set(soak.request_ids) - logged_request_ids(log_path))
    figures = {
        "clients": args.clients, "duration_s": args.duration, "ready_s": round(ready_s, 1),
        "requests": len(soak.request_ids), "outcomes": {k: dict(v) for k, v in sorted(soak.outcomes.items())},
        **result, "good_posts": soak.good_posts,
        "lines_lost": soak.lost_posts + missing_logs, "posts_lost": soak.lost_posts, "log_lines_missing": missing_logs,
        "after_storm_status": after.status_code,
    }
    print(f"{args.clients} clients, {args.duration:g} s, {figures['requests']} requests "
          f"(server ready in {figures['ready_s']} s)")
    print("outcomes by kind (status or exception class):")
    for kind, outcomes in figures["outcomes"].items():
        print(f"  {kind:<11} " + ", ".join(f"{o}: {n}" for o, n in sorted(outcomes.items())))
    h = figures["health_ms"]
    print(f"/health during the storm: p50 {h['p50']} ms, p95 {h['p95']} ms, max {h['max']} ms ({h['n']} probes; "
          f"target p95 <= 50 ms)")
    g = figures["good_ms"]
    print(f"good requests answered 200: p50 {g['p50']} ms, p95 {g['p95']} ms, max {g['max']} ms ({g['n']})")
    print(f"RSS: {figures['rss_start_mb']} MB at the start, peak {figures['rss_peak_mb']} MB (target <= 1536 MB)")
    print(f"lines lost: {figures['lines_lost']} (posts of good requests without their result: {soak.lost_posts} of "
          f"{soak.good_posts}; requests never logged: {missing_logs}); a request after the storm: {after.status_code}")
    print(f"server log: {log_path}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
